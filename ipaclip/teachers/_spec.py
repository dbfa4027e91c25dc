"""Teachers from short strings: ``resolve_teacher("open_clip:ViT-B-32@openai")``.

The accepted forms include every ``teacher_id`` of a named model, so that a saved
configuration resolves to the same teacher again.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from ipaclip._hub import HUB_PREFIX
from ipaclip._validation import describe_item
from ipaclip.teachers._clip_loading import (
    LOCAL_DIR_PREFIX,
    RANDOM_WEIGHTS_SEED,
    check_architecture,
    clean_arch,
    close_matches,
    import_open_clip,
    looks_like_path,
    tag_config,
)
from ipaclip.teachers.clip import CLIPTextEncoder
from ipaclip.teachers.sentence_transformers import SentenceTransformerEncoder, check_model_name

__all__ = ["names_local_path", "resolve_teacher"]

_SPEC_FORMS = (
    "an object with a transform method (returned as-is); None or 'minilm' (the bundled "
    "all-MiniLM-L6-v2); 'sentence-transformers:NAME_OR_PATH'; 'open_clip:ARCH' (random "
    "weights); 'open_clip:ARCH@PRETRAINED' (a pretrained tag or a checkpoint file); "
    "'open_clip:ARCH:TAG' (the form teacher_id uses); 'open_clip:local-dir:/path'"
)


def resolve_teacher(spec: Any = None) -> Any:
    """Return a teacher from a short specification.

    Parameters
    ----------
    spec : object, str or None, default=None
        One of:

        * an object with a ``transform`` method: returned as-is;
        * ``None`` or ``"minilm"``: :class:`SentenceTransformerEncoder` with the bundled
          all-MiniLM-L6-v2;
        * ``"sentence-transformers:NAME_OR_PATH"``: :class:`SentenceTransformerEncoder`;
        * ``"open_clip:ARCH"``: :class:`CLIPTextEncoder` with random weights;
        * ``"open_clip:ARCH@PRETRAINED"``: :class:`CLIPTextEncoder` with a pretrained tag or a
          checkpoint file;
        * ``"open_clip:ARCH:TAG"``: the same, in the form ``teacher_id`` uses, so that a
          saved ``teacher_id`` of a tag or sentence-transformers teacher resolves again;
        * ``"open_clip:local-dir:/path"`` or ``"open_clip:hf-hub:org/repo"``.

    Returns
    -------
    teacher : estimator
        A teacher, not yet loaded.

    Raises
    ------
    ValueError
        For a string in none of these forms (the message lists them and close matches), or
        an unknown open_clip architecture or pretrained tag (the message lists close matches).
    FileNotFoundError
        For ``"open_clip:ARCH@PATH"`` where ``PATH`` looks like a file that does not exist.
    TypeError
        For anything else.

    Examples
    --------
    >>> from ipaclip.teachers import resolve_teacher
    >>> resolve_teacher("open_clip:ViT-B-32@openai")
    CLIPTextEncoder()
    >>> resolve_teacher("open_clip:ViT-B-32").teacher_id
    'open_clip:ViT-B-32:random-seed0'
    >>> resolve_teacher(None).teacher_id
    'sentence-transformers:all-MiniLM-L6-v2'
    """
    if isinstance(spec, type):
        raise TypeError(
            f"Teacher spec {spec.__name__} is a class; pass an instance. Accepted: {_SPEC_FORMS}."
        )
    if spec is not None and not isinstance(spec, str):
        if callable(getattr(spec, "transform", None)):
            return spec
        raise TypeError(
            f"Teacher spec {describe_item(spec, 60)} of type {type(spec).__name__} is not "
            f"accepted. Accepted: {_SPEC_FORMS}."
        )
    if spec is None or spec.strip().lower() == "minilm":
        return SentenceTransformerEncoder()
    scheme, sep, rest = spec.partition(":")
    scheme = scheme.strip().lower().replace("_", "-")
    if "sha256-" in rest and scheme in ("sentence-transformers", "open-clip", "openclip"):
        raise ValueError(
            f"Teacher spec {spec!r} is a teacher_id that names weights by a hash of their bytes, "
            "so it cannot be resolved to files; pass the model folder, checkpoint file "
            "('open_clip:ARCH@/path/to/checkpoint') or model object instead."
        )
    if sep and rest and scheme == "sentence-transformers":
        check_model_name(rest)  # a missing folder is reported here, not at fit
        return SentenceTransformerEncoder(model=rest)
    if sep and rest and scheme in ("open-clip", "openclip"):
        if rest.startswith((LOCAL_DIR_PREFIX, HUB_PREFIX)):
            return CLIPTextEncoder(model=rest, pretrained=None)
        arch, at, pretrained = rest.partition("@")
        if not at:
            arch, colon, tag = rest.partition(":")
            pretrained = tag if colon else None
            if pretrained and pretrained.startswith("random-seed"):
                if pretrained != f"random-seed{RANDOM_WEIGHTS_SEED}":
                    raise ValueError(
                        f"Teacher spec {spec!r} asks for random weights drawn with another seed "
                        f"than {RANDOM_WEIGHTS_SEED}, the only one ipaclip draws; use "
                        f"'open_clip:{arch}' or pass a model object."
                    )
                pretrained = None
        if arch and (pretrained or not at):
            _check_clip_spec(arch.strip(), pretrained or None)
            return CLIPTextEncoder(model=arch.strip(), pretrained=pretrained or None)
    close = _spec_suggestions(spec)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"Unknown teacher spec {spec!r}.{hint} Accepted: {_SPEC_FORMS}.")


def names_local_path(spec: Any) -> bool:
    """Whether the teacher spec ``spec`` names a file or folder on this machine.

    Such a teacher must come from the user, never from a saved model's config: resolving it
    would open whatever the path names. Only strings can name paths; the check looks at the
    string (and whether a relative hub-style name exists here), never inside any file.

    Examples
    --------
    >>> names_local_path("sentence-transformers:/models/st"), names_local_path("minilm")
    (True, False)
    >>> names_local_path("open_clip:ViT-B-32@/ckpt/model.pt")
    True
    >>> names_local_path("open_clip:ViT-B-32@openai"), names_local_path("open_clip:ViT-B-32:openai")
    (False, False)
    >>> names_local_path("open_clip:local-dir:/models/clip")
    True
    """
    if not isinstance(spec, str) or spec.strip().lower() == "minilm":
        return False
    scheme, sep, rest = spec.strip().partition(":")
    scheme, rest = scheme.strip().lower().replace("_", "-"), rest.strip()
    if sep and scheme == "sentence-transformers":
        # A hub name is "name" or "org/name"; SentenceTransformer reads a local folder first.
        local_form = (
            rest.startswith((".", "~")) or os.path.isabs(rest) or rest.count("/") > 1
        ) or "\\" in rest
        return local_form or _exists(rest)
    if sep and scheme in ("open-clip", "openclip"):
        if rest.startswith(HUB_PREFIX):
            return False
        if rest.startswith(LOCAL_DIR_PREFIX):
            return True
        arch, at, pretrained = rest.partition("@")
        if not at:
            arch, _, pretrained = rest.partition(":")
        return any(looks_like_path(part) or _exists(part) for part in (arch, pretrained) if part)
    return looks_like_path(spec) or _exists(spec)


def _exists(name: str) -> bool:
    """Whether ``name`` exists as a path here (a stat, nothing is opened)."""
    return os.path.exists(os.path.expanduser(name.strip()))


def _check_clip_spec(arch: str, pretrained: str | None) -> None:
    """Fail now, with close matches, on an unknown architecture or pretrained tag.

    Checking when the spec is resolved rather than when the teacher is loaded means a typo
    in ``PronunciationEncoder(teacher=...)`` or a saved configuration is reported where it
    is written, before any data is prepared.
    """
    open_clip = import_open_clip()
    arch = check_architecture(open_clip, arch)
    if pretrained is not None and not os.path.isfile(pretrained):
        if looks_like_path(pretrained):
            raise FileNotFoundError(
                f"pretrained={pretrained!r} looks like a checkpoint path but no such file exists."
            )
        tag_config(open_clip, arch, pretrained)


def _spec_suggestions(spec: str) -> list[str]:
    """Specs close to an unknown one: a misspelt scheme, 'minilm', or a bare arch name."""
    scheme, sep, rest = spec.strip().partition(":")
    if sep:
        schemes = ["open_clip", "sentence-transformers"]
        found = [f"{s}:{rest}" for s in close_matches(scheme, schemes, n=1)] if rest else []
    else:
        found = close_matches(spec.strip(), ["minilm"], n=1)
        with contextlib.suppress(ImportError):
            arches = import_open_clip().list_models()
            close = close_matches(clean_arch(spec.strip()), arches, n=3, cutoff=0.8)
            found += [f"open_clip:{a}" for a in close]
    return [f for f in found if f != spec]
