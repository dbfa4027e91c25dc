"""Tiny model configurations shared by all tests.

Import from here rather than copying configs around::

    from tests.fixtures import tiny_clip, tiny_clip_text_encoder

``tests`` has no ``__init__.py`` and no ``conftest.py``: pytest's ``--import-mode=importlib``
(set in pyproject.toml) imports test files as ``tests.<name>`` with ``tests`` as a namespace
package rooted at the repository, so ``from tests.fixtures import ...`` resolves from any
working directory, with ``pytest`` or ``python -m pytest``.

Everything here is deterministic (seeded) and builds in milliseconds: a CLIP with one
width-32 transformer layer per tower, 32x32 images cut in 16x16 patches, CLIP's standard
49408-token vocabulary and a context length of 32.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import torch

#: Name under which :func:`register_tiny_clip_config` registers the config with open_clip.
TINY_CLIP_ARCH = "ipaclip-test-tiny-clip"
TINY_IMAGE_SIZE = 32
TINY_CONTEXT_LENGTH = 32

_TINY_CLIP_CONFIG: dict[str, Any] = {
    "embed_dim": 32,
    "vision_cfg": {
        "image_size": TINY_IMAGE_SIZE,
        "layers": 1,
        "width": 32,
        "head_width": 16,
        "patch_size": 16,
    },
    "text_cfg": {
        "context_length": TINY_CONTEXT_LENGTH,
        "vocab_size": 49408,
        "width": 32,
        "heads": 2,
        "layers": 1,
    },
}


def tiny_clip_config(embed_dim: int = 32) -> dict[str, Any]:
    """Return the open_clip ``model_cfg`` of the tiny CLIP (a fresh copy).

    Examples
    --------
    >>> cfg = tiny_clip_config()
    >>> cfg["embed_dim"], cfg["text_cfg"]["context_length"]
    (32, 32)
    """
    cfg = copy.deepcopy(_TINY_CLIP_CONFIG)
    cfg["embed_dim"] = int(embed_dim)
    return cfg


def tiny_clip(embed_dim: int = 32, seed: int = 0) -> torch.nn.Module:
    """Build the tiny open_clip ``CLIP`` model, in eval mode, with weights drawn from ``seed``.

    The global torch random state is left untouched.

    Examples
    --------
    >>> model = tiny_clip()
    >>> model.context_length, model.visual.image_size
    (32, (32, 32))
    """
    from open_clip.model import CLIP, set_model_preprocess_cfg
    from open_clip.transform import PreprocessCfg

    cfg = tiny_clip_config(embed_dim)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CLIP(**cfg)
    preprocess = vars(PreprocessCfg()) | {"size": TINY_IMAGE_SIZE}
    set_model_preprocess_cfg(model, preprocess)
    return model.eval()


def tiny_clip_text_encoder(embed_dim: int = 32, seed: int = 0, **params: Any) -> Any:
    """A :class:`ipaclip.teachers.CLIPTextEncoder` around :func:`tiny_clip`.

    ``params`` go to the encoder (``batch_size``, ``normalize``, ``device``).

    Examples
    --------
    >>> tiny_clip_text_encoder().transform(["a dog"]).shape
    (1, 32)
    """
    from ipaclip.teachers import CLIPTextEncoder

    return CLIPTextEncoder(model=tiny_clip(embed_dim, seed), pretrained=None, **params)


def tiny_clip_image_encoder(embed_dim: int = 32, seed: int = 0, **params: Any) -> Any:
    """A :class:`ipaclip.teachers.CLIPImageEncoder` around :func:`tiny_clip`."""
    from ipaclip.teachers import CLIPImageEncoder

    return CLIPImageEncoder(model=tiny_clip(embed_dim, seed), pretrained=None, **params)


def register_tiny_clip_config(directory: str | os.PathLike, embed_dim: int = 32) -> str:
    """Register the tiny config with open_clip under a name; return that name.

    Writes ``<name>.json`` into ``directory`` (e.g. pytest's ``tmp_path``) and calls
    ``open_clip.add_model_config`` on it, so that ``open_clip.create_model(name)`` and
    ``load_clip(name, pretrained=checkpoint_file)`` work. The name is
    :data:`TINY_CLIP_ARCH`, suffixed with ``embed_dim`` when it is not 32.
    """
    import open_clip

    name = TINY_CLIP_ARCH if embed_dim == 32 else f"{TINY_CLIP_ARCH}-{embed_dim}"
    path = Path(directory) / f"{name}.json"
    path.write_text(json.dumps(tiny_clip_config(embed_dim)))
    open_clip.add_model_config(path)
    return name


def save_tiny_clip_checkpoint(path: str | os.PathLike, embed_dim: int = 32, seed: int = 0) -> Path:
    """Save the state_dict of ``tiny_clip(embed_dim, seed)`` with ``torch.save``; return path."""
    path = Path(path)
    torch.save(tiny_clip(embed_dim, seed).state_dict(), path)
    return path


def write_tiny_clip_dir(directory: str | os.PathLike, embed_dim: int = 32, seed: int = 0) -> Path:
    """Write a folder loadable as ``model="local-dir:<folder>"``; return the folder.

    It holds ``open_clip_config.json`` (``model_cfg`` and ``preprocess_cfg``) and
    ``open_clip_pytorch_model.bin`` (the state_dict of ``tiny_clip(embed_dim, seed)``).
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "model_cfg": tiny_clip_config(embed_dim),
        "preprocess_cfg": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]},
    }
    (folder / "open_clip_config.json").write_text(json.dumps(config))
    save_tiny_clip_checkpoint(folder / "open_clip_pytorch_model.bin", embed_dim, seed)
    return folder


def fit_interrupted_then_resumed(make: Any, X: Any, y: Any, checkpoint_dir: Any, monkeypatch: Any):
    """Fit ``make()`` uninterrupted; then ``make()`` with a ``Checkpoint(checkpoint_dir)``
    callback killed (KeyboardInterrupt) at its 5th training step, and a fresh one to the end.
    Return ``(uninterrupted, resumed)``.

    Asserts that the resumed fit did start from the checkpoint (it runs fewer steps than the
    uninterrupted one), so that equal results cannot come from silently starting over.
    """
    import pytest

    import ipaclip.objective as training_module
    from ipaclip import Checkpoint

    def checkpointed() -> Any:
        enc = make()
        return enc.set_params(callbacks=[*(enc.callbacks or []), Checkpoint(checkpoint_dir)])

    real = training_module.distillation_loss
    calls = {"n": 0, "kill_at": None}

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == calls["kill_at"]:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(training_module, "distillation_loss", counted)
    full = make().fit(X, y)
    n_full, calls["n"], calls["kill_at"] = calls["n"], 0, 5
    with pytest.raises(KeyboardInterrupt):
        checkpointed().fit(X, y)
    calls["n"], calls["kill_at"] = 0, None
    resumed = checkpointed().fit(X, y)
    monkeypatch.setattr(training_module, "distillation_loss", real)
    assert 0 < calls["n"] < n_full, "the second fit did not resume from the checkpoint"
    return full, resumed


#: Ten common English words in espeak IPA, one per animal.
ANIMALS_IPA = [
    "kˈæt", "dˈɑːɡ", "fˈɪʃ", "bˈɜːd", "hˈɔːs", "mˈaʊs", "ɡˈoʊt", "ʃˈiːp", "lˈaɪən", "tˈaɪɡɚ",
]  # fmt: skip

#: Twenty short English words in espeak IPA, in groups that differ by one segment.
RHYMES_IPA = [
    "kˈæt", "hˈæt", "bˈæt", "mˈæt", "dˈɑːɡ", "fˈɑːɡ", "lˈɑːɡ", "fɹˈɑːɡ", "fˈɪʃ", "dˈɪʃ",
    "wˈɪʃ", "ʃˈɪp", "ʃˈɑːp", "stˈɑːp", "tˈɑːp", "pˈɑːt", "spˈɑːt", "sˈʌn", "ɹˈʌn", "fˈʌn",
]  # fmt: skip

#: Twelve English spellings, in rhyming groups.
RHYMES_TEXT = [
    "cat",
    "hat",
    "bat",
    "dog",
    "fog",
    "log",
    "fish",
    "dish",
    "ship",
    "shop",
    "sun",
    "run",
]


def random_targets(n_rows: int, seed: int = 0, dim: int = 8) -> Any:
    """``(n_rows, dim)`` float32 teacher targets drawn from a normal with ``seed``.

    Examples
    --------
    >>> random_targets(3, dim=4).shape
    (3, 4)
    """
    import numpy as np

    return np.random.default_rng(seed).normal(size=(n_rows, dim)).astype(np.float32)


def tiny_encoder(**params: Any) -> Any:
    """A ``PronunciationEncoder`` of width 16, one layer, two epochs, batches of 4, seeded;
    ``params`` override any of these."""
    from ipaclip import PronunciationEncoder

    base = dict(width=16, layers=1, heads=2, epochs=2, batch_size=4, random_state=0)
    return PronunciationEncoder(**{**base, **params})


def small_encoder(**params: Any) -> Any:
    """A ``PronunciationEncoder`` of width 32, one layer, three epochs, batches of 8, seeded;
    ``params`` override any of these."""
    from ipaclip import PronunciationEncoder

    base = dict(width=32, layers=1, heads=2, epochs=3, batch_size=8, random_state=0)
    return PronunciationEncoder(**{**base, **params})


def fitted_on_sentences(texts: list[str]) -> tuple[Any, Any, Any]:
    """``(encoder, g2p, teacher)``: a width-32 encoder of one layer (context 128) distilled
    for one epoch from a tiny random CLIP text tower on ``texts`` (words, prompts,
    captions), for the sentence evaluators' end-to-end tests."""
    from ipaclip import IPATransformer, PronunciationEncoder

    g2p, teacher = IPATransformer(), tiny_clip_text_encoder()
    enc = PronunciationEncoder(
        teacher=teacher, width=32, layers=1, heads=2, epochs=1, batch_size=16,
        context_length=128, random_state=0,
    ).fit(g2p.fit_transform(texts), texts)  # fmt: skip
    return enc, g2p, teacher


#: A recipe with every opt-in term: a gallery, a learned temperature and augmentation.
RECIPE_OPT_INS = dict(
    loss="cosine+contrastive+3*triplet+3*prior+gallery",
    learn_temperature=True,
    augment={"substitute": 0.2, "delete": 0.1, "insert": 0.1, "unstress": 0.2},
)


def padded_batch(seqs: Any, n: int) -> tuple[Any, Any]:
    """The padded ids and the lengths of the first ``n`` items of ``PhonemeSequences``."""
    ids, _ = seqs[:n].padded()
    return ids, seqs.lengths[:n]


def state_copy(enc: Any) -> dict[str, torch.Tensor]:
    """A copy of a fitted encoder's weights, by name."""
    return {k: v.clone() for k, v in enc.module_.state_dict().items()}


# ----------------------------------------------------------------------------------------
# A stand-in encoder for the evaluation tests: letter counts as embeddings
# ----------------------------------------------------------------------------------------
def letter_counts(words):
    """Unit rows of the a-z letter counts of each word."""
    import numpy as np

    X = np.zeros((len(words), 26))
    for i, w in enumerate(words):
        for ch in w:
            X[i, ord(ch) - 97] += 1
    return X / np.linalg.norm(X, axis=1, keepdims=True)


class LetterEncoder:
    """Teacher = letter counts of the word; the "pronunciation" is the ``shift``ed word's."""

    teacher = "letters"

    def __init__(self, shift: dict[str, str] | None = None):
        self.shift = shift or {}

    def embed_targets(self, words):
        return letter_counts(words)

    def transform(self, ipas):
        return letter_counts([self.shift.get(w, w) for w in ipas])


def identity(words):
    """A G2P that reads each word as itself."""
    return list(words)


#: scikit-learn's checks that fit on a numeric 2-D X (expected to fail, each estimator
#: with its own reason, for estimators whose fit takes no such array).
FIT_ON_ARRAY_CHECKS = (
    "check_estimators_overwrite_params", "check_dont_overwrite_parameters",
    "check_estimators_fit_returns_self", "check_readonly_memmap_input",
    "check_n_features_in_after_fitting", "check_positive_only_tag_during_fit",
    "check_estimators_dtypes", "check_complex_data", "check_dtype_object",
    "check_estimators_empty_data_messages", "check_pipeline_consistency",
    "check_estimators_nan_inf", "check_estimator_sparse_tag", "check_estimator_sparse_array",
    "check_estimator_sparse_matrix", "check_estimators_pickle",
    "check_f_contiguous_array_estimator", "check_methods_sample_order_invariance",
    "check_methods_subset_invariance", "check_fit2d_1sample", "check_fit2d_1feature",
    "check_dict_unchanged", "check_fit_idempotent", "check_fit_check_is_fitted",
    "check_n_features_in", "check_fit2d_predict1d",
)  # fmt: skip
