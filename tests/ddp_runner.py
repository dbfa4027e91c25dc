"""A ``torchrun`` child for tests/test_distributed.py: fit one encoder per parameter set.

Usage: ``torchrun --nproc_per_node=2 tests/ddp_runner.py WORKDIR``. Reads ``WORKDIR/ipa.txt``
(one IPA string per line), ``WORKDIR/y.npy`` (targets) and ``WORKDIR/params.json`` (a list of
PronunciationEncoder parameter dicts, the Recipe's among them); rank 0 saves the model fitted
with ``params[i]`` to ``WORKDIR/model<i>``. One process group serves every fit, so the test
pays torchrun's start once.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch.distributed as dist

from ipaclip import PronunciationEncoder, Recipe
from ipaclip.distributed import get_rank, init_distributed


def main(work: Path) -> None:
    init_distributed(device="cpu")
    X = (work / "ipa.txt").read_text("utf-8").splitlines()
    y = np.load(work / "y.npy")
    for i, params in enumerate(json.loads((work / "params.json").read_text("utf-8"))):
        recipe = {k: params.pop(k) for k in list(params) if k in Recipe._get_param_names()}
        enc = PronunciationEncoder(**params, recipe=Recipe(**recipe)).fit(X, y)
        if get_rank() == 0:
            enc.save(work / f"model{i}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
