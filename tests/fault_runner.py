"""A child process for the fault-injection tests: it is killed (SIGKILL) at a chosen point.

Usage: ``python tests/fault_runner.py MODE KILL_AT WORKDIR``. Every call of ``os.replace``,
``shutil.rmtree``, ``torch.save`` and ``safetensors.torch.save_file``, and every training step,
counts as an event; at event ``KILL_AT`` the process kills itself with SIGKILL, with no chance
to clean up. ``KILL_AT=0`` never kills. MODE:

``save``  load model B from ``WORKDIR/b`` and save it over the model A in ``WORKDIR/model``;
``overwrite`` load model B from ``WORKDIR/b`` and save it with ``overwrite=True`` over
          ``WORKDIR/model``, a folder of the user's files;
``train`` fit with dropout, validation, EarlyStopping and ``Checkpoint(WORKDIR/ckpt)``,
          then save to ``WORKDIR/trained``.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
from pathlib import Path

import numpy as np

IPA = [
    "kˈæt", "hˈæt", "bˈæt", "mˈæt", "dˈɑːɡ", "fˈɑːɡ", "lˈɑːɡ", "fɹˈɑːɡ", "fˈɪʃ", "dˈɪʃ",
    "wˈɪʃ", "ʃˈɪp", "ʃˈɑːp", "stˈɑːp", "tˈɑːp", "pˈɑːt", "spˈɑːt", "sˈʌn", "ɹˈʌn", "fˈʌn",
]  # fmt: skip
LEXICON = {"ipaclip": "ˈaɪpəklɪp"}
TRAIN = dict(
    width=32, layers=1, heads=2, epochs=6, batch_size=8, dropout=0.3, lr=0.02,
    validation_fraction=0.25, random_state=0,
)  # fmt: skip


def targets(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(len(IPA), 8)).astype(np.float32)


def model(seed: int):
    from ipaclip import PronunciationEncoder

    return PronunciationEncoder(
        width=32, layers=1, heads=2, epochs=2, batch_size=8, random_state=seed
    ).fit(IPA, targets(seed))


def _arm(kill_at: int) -> None:
    import safetensors.torch
    import torch

    import ipaclip.objective as training

    count = [0]

    def event(fn):
        def wrapped(*args, **kwargs):
            count[0] += 1
            if count[0] == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return fn(*args, **kwargs)

        return wrapped

    os.replace = event(os.replace)
    shutil.rmtree = event(shutil.rmtree)
    torch.save = event(torch.save)
    safetensors.torch.save_file = event(safetensors.torch.save_file)
    training.distillation_loss = event(training.distillation_loss)


def main(mode: str, kill_at: int, workdir: Path) -> None:
    from ipaclip import Checkpoint, EarlyStopping, IPATransformer, PronunciationEncoder

    b = PronunciationEncoder.load(workdir / "b") if mode in ("save", "overwrite") else None
    _arm(kill_at)
    if mode == "save":
        b.save(workdir / "model", g2p=IPATransformer(lexicon=LEXICON))
    elif mode == "overwrite":
        b.save(workdir / "model", overwrite=True)
    else:
        callbacks = [EarlyStopping(2), Checkpoint(workdir / "ckpt")]
        enc = PronunciationEncoder(**TRAIN, callbacks=callbacks)
        enc.fit(IPA, targets(2))
        enc.save(workdir / "trained")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]))
