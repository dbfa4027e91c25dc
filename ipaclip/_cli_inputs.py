"""The command line's inputs and outputs, checked before any work: texts from arguments,
files or standard input (UTF-8, one item per line), ``--targets-file`` arrays, output files
and model folders, the saved model and the teacher.

Every problem the user can fix is a :class:`UsageError`, which :func:`ipaclip.cli.main`
prints in one line with exit status 2. Nothing here imports torch or sklearn at import time.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "UsageError",
    "check_cache_folder",
    "describe_item",
    "load",
    "load_teacher",
    "model_folder",
    "output_file",
    "read_lines",
    "read_targets",
    "read_texts",
    "write_failed",
]


class UsageError(Exception):
    """A problem with the command's input, reported in one line with exit status 2."""


def describe_item(item: object, limit: int = 40) -> str:
    """:func:`ipaclip._validation.describe_item`, imported when needed (it imports sklearn)."""
    from ipaclip._validation import describe_item as describe

    return describe(item, limit)


LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")  # str.splitlines's


def world_size() -> int:
    """``WORLD_SIZE`` as torchrun sets it (1 when unset or not a number)."""
    value = os.environ.get("WORLD_SIZE", "1")
    return int(value) if value.isdigit() else 1


def stdin_bytes() -> bytes | str:
    """All of standard input, as bytes when it has a binary buffer."""
    buffer = getattr(sys.stdin, "buffer", None)
    return buffer.read() if buffer is not None else sys.stdin.read()


def split_lines(data: bytes | str, what: str) -> list[str]:
    """The lines of ``data``, one item each (split at ``\\n`` only; a final ``\\r`` dropped).

    Bytes must be UTF-8; the message names the first line that is not. Every line is one
    item (one output row, one row of ``--targets-file``), so a blank line is refused with its
    number rather than dropped (which would shift every row after it); the empty piece after
    a final line break is not a line. Only blank lines: "has no text".
    """
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise UsageError(
                f"{what} is not UTF-8 text: line {line} holds the byte "
                f"{data[exc.start : exc.start + 1]!r}; convert it to UTF-8 (iconv -t utf-8)."
            ) from None
    lines = [line.removesuffix("\r") for line in data.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()  # the final line break ends the last line
    if not any(line.strip() for line in lines):
        return []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            raise UsageError(
                f"{what}: line {number} is blank, but each line is one item (one row of the "
                "output); remove the blank lines (grep -v '^[[:space:]]*$')."
            )
    return lines


def read_texts(values: Sequence[str]) -> list[str]:
    """Texts from the arguments, or one per line from standard input for ``-``.

    Each becomes one output line, so a text holding a line break is refused.
    """
    if list(values) == ["-"]:
        texts = split_lines(stdin_bytes(), "standard input")
        if not texts:
            raise UsageError("standard input has no text: give one text per line.")
    else:
        texts = list(values)
    for i, text in enumerate(texts):
        if LINE_BREAKS.intersection(text):
            raise UsageError(
                f"text {i} ({describe_item(text)}) holds a line break, but the output has one "
                "line per text; pass each text as its own argument or line."
            )
    return texts


def read_lines(path: str, what: str) -> list[str]:
    """The non-blank lines of the UTF-8 file ``path`` (``-``: standard input)."""
    if path == "-":
        if world_size() > 1:
            raise UsageError(
                f"{what} - reads standard input, which torchrun gives to one process only; "
                "write the texts to a file and pass its path."
            )
        data, name = stdin_bytes(), f"{what} - (standard input)"
    else:
        p, name = Path(path), f"{what} {path!r}"
        if not p.is_file():
            raise UsageError(f"{name} does not exist or is not a file.")
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read {name}: {exc.strerror or exc}.") from exc
    lines = split_lines(data, name)
    if not lines:
        raise UsageError(
            f"{name} has no text: it is empty or holds only blank lines; give one per line."
        )
    return lines


def read_targets(path: str):
    """``--targets-file``: an ``(n, d)`` array of numbers in a ``.npy`` file, never unpickled."""
    import numpy as np

    p, name = Path(path), f"--targets-file {path!r}"
    if not p.is_file():
        raise UsageError(f"{name} does not exist or is not a file.")
    if p.suffix.lower() != ".npy":
        raise UsageError(
            f"{name} is not a .npy file; save the (n, d) teacher embeddings with numpy.save."
        )
    with open(p, "rb") as f:
        if f.read(6) != b"\x93NUMPY":
            raise UsageError(
                f"{name} has no .npy header (a pickle, or another format; never unpickled); "
                "save the (n, d) teacher embeddings with numpy.save."
            )
    try:  # memory-mapped: the header is checked before the rows are read into memory
        y = np.load(p, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:  # an object array, a bad or cut header
        raise UsageError(f"{name} is not a readable .npy array of numbers: {exc}") from exc
    if not isinstance(y, np.ndarray) or y.dtype.kind not in "fiu" or y.ndim != 2:
        raise UsageError(
            f"{name} holds a {getattr(y, 'ndim', '?')}-d array of dtype "
            f"{getattr(y, 'dtype', type(y).__name__)}; it must be an (n, d) array of numbers "
            "(the teacher's embeddings; give texts as TEXTS)."
        )
    return np.array(y)


def output_file(path: str | None, option: str) -> Path | None:
    """``--out`` as a file path whose folder exists (created); checked before any work."""
    if path is None:
        return None
    out = Path(path)
    if out.is_dir():
        raise UsageError(f"{option} {path!r} is a folder; give a file name.")
    return with_parent(path, option)


def with_parent(path: str, option: str) -> Path:
    """``path`` once its parent folder exists (created if need be) and is writable."""
    out = Path(path)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the folder of {option} {path!r}: {exc}") from exc
    if not os.access(out.parent, os.W_OK | os.X_OK):
        raise UsageError(
            f"cannot write in the folder of {option} {path!r} ({str(out.parent)!r}): permission "
            "denied; choose another folder."
        )
    return out


def is_model_folder(folder: Path) -> bool:
    """True when ``folder`` holds only a saved model's files, with an ipaclip config."""
    from ipaclip.persistence import CONFIG_NAME, FORMAT, MODEL_FILES

    entries = list(folder.iterdir())
    if any(e.name not in MODEL_FILES or not e.is_file() or e.is_symlink() for e in entries):
        return False
    config = folder / CONFIG_NAME
    if not config.is_file() or config.stat().st_size > 64 * 2**20:
        return False
    try:
        data = json.loads(config.read_bytes())
    except (ValueError, RecursionError, OSError):
        return False
    return isinstance(data, dict) and data.get("format") == FORMAT


def model_folder(path: str, overwrite: bool, inputs: Sequence[str | None]) -> Path:
    """``fit --out``: a folder ``save`` may write, checked before any work.

    Never the current folder or one above it, nor a folder holding one of ``inputs``; an
    existing file or a non-empty folder that is not a model folder only with ``overwrite``.
    """
    out = Path(path)
    here, target = Path.cwd().resolve(), out.resolve()
    if target == here or target in here.parents:
        raise UsageError(
            f"--out {path!r} is the current folder or one above it; saving would replace it. "
            "Name a new folder, such as --out model."
        )
    for name in inputs:
        if name is not None and name != "-" and target in Path(name).resolve().parents:
            raise UsageError(
                f"--out {path!r} holds the input file {name!r}; saving would delete it. Name "
                "another folder."
            )
    if out.exists() and not overwrite:
        if not out.is_dir():
            raise UsageError(
                f"--out {path!r} exists and is not a folder; pass --overwrite to replace it."
            )
        if any(out.iterdir()) and not is_model_folder(out):
            raise UsageError(
                f"--out {path!r} holds files that are not an ipaclip model; saving would delete "
                "them. Name a new folder, or pass --overwrite to replace it."
            )
    return with_parent(path, "--out")


def check_cache_folder(value, option: str) -> None:
    if value is not None and Path(value).exists() and not Path(value).is_dir():
        raise UsageError(f"{option} {str(value)!r} is a file; it must name a folder.")


def load(model_dir: str):
    """The model saved in ``model_dir`` (a save killed between its renames is finished)."""
    from ipaclip._hub import HUB_PREFIX
    from ipaclip.estimator import PronunciationEncoder

    try:
        return PronunciationEncoder.load(model_dir)
    except (FileNotFoundError, ValueError) as exc:
        if not Path(model_dir).exists() and not str(model_dir).startswith(HUB_PREFIX):
            message = f"model folder {model_dir!r} does not exist or is not a folder."
        else:
            message = f"cannot load a model from {model_dir!r}: {exc}"
        raise UsageError(message) from exc


def load_teacher(spec, resolve=None):
    """The teacher ``spec`` names, loaded (its weights read) before any other work.

    A spec that does not resolve, a missing folder, and weights that are neither cached nor
    downloadable (offline: ``HF_HUB_OFFLINE=1``) are usage errors in one line.
    """
    if resolve is None:
        from ipaclip.teachers import resolve_teacher as resolve

    try:
        return resolve(spec).fit()
    except (ValueError, TypeError, OSError, RuntimeError) as exc:
        raise UsageError(f"--teacher {spec!r}: {exc}") from exc


def write_failed(what: str, path, exc: OSError) -> UsageError:
    """A failed write (a full disk, a read-only folder) as a one-line usage error."""
    return UsageError(f"cannot write {what} to {str(path)!r}: {exc.strerror or exc}.")
