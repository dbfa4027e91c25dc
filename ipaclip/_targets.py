"""Teacher targets: the embeddings a student is distilled towards, computed once.

* :func:`check_target_array` validates ``y`` given as precomputed embeddings;
* :func:`embed_texts` embeds texts with a teacher, each distinct text once, through a
  process-wide bounded LRU memory (:data:`MEMORY`) and an optional on-disk store
  (:class:`DiskStore`), so repeated fits, cross-validation folds and grid-search candidates
  never ask the teacher twice for the same text.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import uuid
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ipaclip._io import atomic_file, write_atomic
from ipaclip._progress import progress
from ipaclip._validation import describe_item

__all__ = [
    "MEMORY",
    "DiskStore",
    "TargetMemory",
    "check_target_array",
    "embed_texts",
    "teacher_dim",
    "teacher_id",
]

logger = logging.getLogger(__name__)


def teacher_id(teacher: Any) -> str:
    """The teacher's ``teacher_id`` (a stable name of its weights), or its class name."""
    return str(getattr(teacher, "teacher_id", None) or type(teacher).__name__)


def _numeric_array(y: Any) -> np.ndarray | None:
    """``y`` as a numpy array when it is an array-like that is not a list: a torch tensor,
    a pandas DataFrame, anything with ``__array__`` (as scikit-learn's ``check_array`` reads
    it); ``None`` for lists, tuples, strings and iterators."""
    if isinstance(y, np.ndarray):
        return y
    detach = getattr(y, "detach", None)
    if callable(detach) and hasattr(y, "cpu"):  # a torch tensor (grad, GPU, bfloat16 alike)
        t = detach().cpu()
        return (t.float() if t.is_floating_point() else t).numpy()
    if hasattr(y, "__array__") and not isinstance(y, list | tuple | str | bytes):
        try:
            return np.asarray(y)
        except (TypeError, ValueError):
            return None
    return None


def is_embeddings(y: Any) -> bool:
    """Whether ``y`` holds numeric rows (precomputed embeddings) rather than texts.

    Numpy arrays, torch tensors, pandas DataFrames and other array-likes are embeddings when
    their values are numbers; a list is when its first item is a non-empty row of non-strings.
    """
    arr = _numeric_array(y)
    if arr is not None:
        if y is arr:  # a numpy array: an object array of rows counts too
            return arr.dtype.kind in "fiuc" or (arr.dtype.kind == "O" and arr.ndim == 2)
        return arr.dtype.kind in "fiuc"
    if isinstance(y, str | bytes) or y is None:
        return False
    try:
        first = y[0]
    except (TypeError, IndexError, KeyError):
        return False
    return (
        isinstance(first, list | tuple | np.ndarray)
        and len(first) > 0
        and not isinstance(first[0], str)
    )


def check_target_array(y: Any) -> np.ndarray:
    """``y`` given as embeddings, as a float32 ``(n, d)`` array of finite, non-zero rows.

    ``y`` may be a numpy array, a list of rows, a torch tensor, a pandas DataFrame or any
    array-like with ``__array__``.

    Raises
    ------
    ValueError
        Ragged rows, complex or non-numeric values, a row with NaN or infinity, or an
        all-zero row (it has no direction to distil towards); the message names the row.
    """
    arr = _numeric_array(y)
    if arr is not None:
        y = arr
    if (
        isinstance(y, np.ndarray)
        and y.dtype.kind == "c"
        or (not isinstance(y, np.ndarray) and any(isinstance(v, complex) for v in _first_row(y)))
    ):
        raise ValueError(
            "y holds complex numbers; teacher embeddings must be real (pass y.real if the "
            "imaginary part is known to be zero)."
        )
    if not isinstance(y, np.ndarray):
        lengths = {len(row) if hasattr(row, "__len__") else -1 for row in y}
        if len(lengths) > 1:
            sizes = [len(row) if hasattr(row, "__len__") else None for row in y]
            first = sizes[0]
            i = next(i for i, size in enumerate(sizes) if size != first)
            raise ValueError(
                f"y rows have different lengths (row 0 has {first} values, row {i} has "
                f"{sizes[i]}); teacher embeddings must all have the same dimension."
            )
    try:
        # A C-ordered copy: a frame's columns or a view of the caller's array are never trained on
        # in place, and every source gives the same rows bit for bit.
        arr = np.array(y, dtype=np.float32, order="C", copy=True)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"y cannot be read as a numeric (n, d) array: {exc}") from exc
    if arr.ndim != 2:
        raise ValueError(f"y as embeddings must be 2-D (n, d), got shape {arr.shape}.")
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        raise ValueError(f"y row {int(np.argmax(bad))} has NaN or infinite values.")
    zero = ~arr.any(axis=1)
    if zero.any():
        raise ValueError(
            f"y row {int(np.argmax(zero))} is all zeros ({int(zero.sum())} such rows): it has "
            "no direction to distil towards; drop those items or fix their embeddings."
        )
    return arr


def _first_row(y: Any) -> list:
    try:
        return list(y[0])
    except (TypeError, IndexError, KeyError):
        return []


class TargetMemory:
    """A thread-safe LRU map ``(teacher_id, text) -> embedding``, bounded in entries.

    Written here rather than with ``functools.lru_cache`` because lookups come in batches
    keyed by the teacher, and a batch larger than the bound must still be answered in full:
    :meth:`remember` never evicts what it was just given.
    """

    def __init__(self, max_entries: int) -> None:
        self.max_entries = int(max_entries)
        self._items: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def lookup(self, teacher: str, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The remembered embeddings among ``texts`` (marked as recently used)."""
        found = {}
        with self._lock:
            for text in texts:
                row = self._items.get((teacher, text))
                if row is not None:
                    self._items.move_to_end((teacher, text))
                    found[text] = row
        return found

    def remember(self, teacher: str, rows: dict[str, np.ndarray]) -> None:
        """Add ``rows``; evict the least recently used entries beyond the bound."""
        with self._lock:
            for text, row in rows.items():
                self._items[(teacher, text)] = row
                self._items.move_to_end((teacher, text))
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


#: Texts per teacher call (each call is one tick of the progress bar).
CHUNK = 4096

#: The process-wide memory of teacher embeddings (500,000 entries: ~770 MB at 384 floats).
MEMORY = TargetMemory(500_000)


#: What a shard's ``.json`` says it is (earlier shards, a bare list of texts, are ignored).
SHARD_FORMAT = "ipaclip-target-shard"


def teacher_dim(teacher: Any) -> int | None:
    """The teacher's output dimension when it says (``embedding_dim_``, or the length of
    ``get_feature_names_out()``, which loads a frozen teacher), else ``None``."""
    dim = getattr(teacher, "embedding_dim_", None)
    if dim is None and callable(getattr(teacher, "get_feature_names_out", None)):
        dim = len(teacher.get_feature_names_out())
    return None if dim is None else int(dim)


class DiskStore:
    """Teacher embeddings on disk, one folder per teacher, written in a few shard files.

    Each :meth:`put` writes one shard: ``part-<id>.npy`` (float32 rows) and
    ``part-<id>.json`` (the teacher's id, the row dimension, the texts in row order and which
    of them the teacher truncated), each atomically through :mod:`ipaclip._io`; the ``.json``
    is written last, so a shard without one is incomplete and ignored.

    Every shard is validated before its rows are used: its ``.json`` must name this teacher
    and a dimension equal to ``dim`` (the teacher's, when known); its ``.npy`` must be a
    float32 array of exactly one row of that dimension per text (checked from the header,
    before anything is read); the rows used must be finite and not all zero. **Policy: a
    shard that fails is ignored, with a logged warning that names its file and says to delete
    it, and its texts are embedded again by the teacher.** A cache is never a reason to stop a
    fit, nor to train on wrong targets.

    Parameters
    ----------
    root : path
        The cache folder (``target_cache_dir``).
    teacher : str
        The teacher's :func:`teacher_id`.
    dim : int, optional
        The teacher's output dimension; when ``None``, the first valid shard read fixes it
        for this store.
    """

    def __init__(self, root: str | os.PathLike, teacher: str, dim: int | None = None) -> None:
        digest = hashlib.sha256(teacher.encode()).hexdigest()[:16]
        self.teacher = teacher
        self.dim = dim
        self.dim_from = "the teacher's"
        self.folder = Path(root) / digest
        self.folder.mkdir(parents=True, exist_ok=True)
        marker = self.folder / "teacher.txt"
        if not marker.is_file():
            write_atomic(marker, teacher.encode("utf-8"))

    def _ignore(self, path: Path, why: str) -> None:
        logger.warning(
            "Ignoring the target-cache shard %s: %s. Its texts are embedded again; delete it "
            "(and its .npy/.json twin) to silence this.",
            path,
            why,
        )

    def _header(self, texts_path: Path) -> tuple[list[str], int, set[int]] | None:
        """The shard's texts, dimension and truncated rows, or ``None`` (warned) if invalid."""
        try:
            head = json.loads(texts_path.read_text("utf-8"))
        except (OSError, ValueError, RecursionError):
            self._ignore(texts_path, "it is not readable JSON")
            return None
        if not isinstance(head, dict) or head.get("format") != SHARD_FORMAT:
            self._ignore(texts_path, "it was not written by this version of ipaclip")
            return None
        texts, dim, truncated = head.get("texts"), head.get("dim"), head.get("truncated")
        if head.get("teacher") != self.teacher:
            self._ignore(texts_path, f"it names teacher {head.get('teacher')!r}, not this one")
        elif not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            self._ignore(texts_path, "its 'texts' is not a list of strings")
        elif type(dim) is not int or dim < 1 or (self.dim is not None and dim != self.dim):
            want = "a positive integer" if self.dim is None else f"{self.dim} ({self.dim_from})"
            self._ignore(texts_path, f"its rows have dimension {dim!r}, not {want}")
        elif not isinstance(truncated, list) or not all(
            type(i) is int and 0 <= i < len(texts) for i in truncated
        ):
            self._ignore(texts_path, "its 'truncated' is not a list of row numbers")
        else:
            return texts, dim, set(truncated)
        return None

    def _rows(self, rows_path: Path, n: int, dim: int) -> np.ndarray | None:
        """The shard's rows, memory-mapped, or ``None`` (warned) if they do not match."""
        try:
            rows = np.load(rows_path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError):
            self._ignore(rows_path, "it is not a readable .npy array")
            return None
        if rows.dtype != np.float32 or rows.shape != (n, dim):
            self._ignore(
                rows_path,
                f"it holds {rows.dtype} rows of shape {rows.shape}, but its .json lists {n} "
                f"texts of dimension {dim} (float32)",
            )
            return None
        return rows

    def lookup(self, texts: Sequence[str]) -> tuple[dict[str, np.ndarray], set[str]]:
        """The stored embeddings among ``texts``, and those of them the teacher truncated."""
        wanted = set(texts)
        out: dict[str, np.ndarray] = {}
        truncated: set[str] = set()
        for texts_path in sorted(self.folder.glob("part-*.json")):
            rows_path = texts_path.with_suffix(".npy")
            if not rows_path.is_file():
                continue  # a shard being written, or one whose writer was killed
            head = self._header(texts_path)
            if head is None:
                continue
            names, dim, cut = head
            hits = [(i, t) for i, t in enumerate(names) if t in wanted and t not in out]
            if not hits:
                continue
            rows = self._rows(rows_path, len(names), dim)
            if rows is None:
                continue
            block = np.array(rows[[i for i, _ in hits]], dtype=np.float32)
            bad = ~np.isfinite(block).all(axis=1) | ~block.any(axis=1)
            if bad.any():
                text = describe_item(hits[int(np.argmax(bad))][1])
                self._ignore(rows_path, f"the row of {text} is NaN, infinite or all zeros")
                continue
            if self.dim is None:
                self.dim, self.dim_from = dim, f"that of {texts_path.name}, read first"
            out.update((t, row) for (_, t), row in zip(hits, block))
            truncated.update(t for i, t in hits if i in cut)
        return out, truncated

    def get(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored embeddings among ``texts`` (see :meth:`lookup`)."""
        return self.lookup(texts)[0]

    def put(self, rows: dict[str, np.ndarray], truncated: Sequence[str] = ()) -> None:
        """Store ``rows`` as one shard; ``truncated`` are the texts the teacher truncated."""
        if not rows:
            return
        stem = self.folder / f"part-{uuid.uuid4().hex[:16]}"
        matrix = np.stack([np.asarray(v, dtype=np.float32) for v in rows.values()])
        with atomic_file(stem.with_suffix(".npy")) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, matrix)
        cut = set(truncated)
        head = {
            "format": SHARD_FORMAT,
            "teacher": self.teacher,
            "dim": int(matrix.shape[1]),
            "texts": list(rows),
            "truncated": [i for i, t in enumerate(rows) if t in cut],
        }
        write_atomic(stem.with_suffix(".json"), json.dumps(head, ensure_ascii=False).encode())


def _report_cached_truncation(teacher: Any, folder: Path, texts: list[str], n: int) -> None:
    """Warn (or raise), as the teacher's ``truncation`` says, about truncated cached texts."""
    policy = getattr(teacher, "truncation", "warn")
    if not texts or policy == "ignore":
        return
    first = describe_item(texts[0], 60)
    head = (
        f"{len(texts)} of {n} texts read from the target cache {folder} "
        f"{'was' if len(texts) == 1 else 'were'} truncated by {teacher_id(teacher)} when "
        f"{'it was' if len(texts) == 1 else 'they were'} embedded (first: {first})"
    )
    if policy == "raise":
        raise ValueError(
            f"{head}. Shorten or split such texts, or pass truncation='warn' or 'ignore'."
        )
    warnings.warn(
        f"{head}: their embeddings ignore the rest. Shorten or split such texts, or pass "
        "truncation='ignore' to silence this or truncation='raise' to stop instead.",
        UserWarning,
        stacklevel=3,
    )


def embed_texts(
    teacher: Any,
    texts: Sequence[str],
    *,
    cache_dir: str | os.PathLike | None = None,
    memory: TargetMemory = MEMORY,
    verbose: int = 0,
) -> np.ndarray:
    """L2-normalised teacher embeddings of ``texts``, each distinct text embedded once.

    With ``cache_dir``, embeddings are also read from and written to a :class:`DiskStore`
    (validated shards; invalid ones are ignored with a warning and recomputed). Which texts
    the teacher truncated is stored with them: when texts come from the disk, the teacher's
    ``truncation`` policy is applied to them again (a warning, by default, or an error), and
    a teacher that counts truncations gets ``n_truncated_`` set to the count over the texts
    it embedded and those read from the disk, as if it had embedded them all.
    """
    tid = teacher_id(teacher)
    unique = list(dict.fromkeys(texts))
    found = memory.lookup(tid, unique)
    missing = [t for t in unique if t not in found]
    disk = None
    if cache_dir and missing:
        disk = DiskStore(cache_dir, tid, teacher_dim(teacher))
    cached_cut: list[str] = []
    if disk is not None:
        from_disk, cut = disk.lookup(missing)
        found.update(from_disk)
        memory.remember(tid, from_disk)
        cached_cut = [t for t in missing if t in cut]
        _report_cached_truncation(teacher, disk.folder, cached_cut, len(from_disk))
        missing = [t for t in unique if t not in found]
    fresh_cut: list[str] | None = []
    if missing:
        parts = []
        # Chunks, so that a long teacher pass shows progress whatever the teacher is.
        with progress(len(missing), "teacher targets", verbose, unit="text") as bar:
            for start in range(0, len(missing), CHUNK):
                chunk = missing[start : start + CHUNK]
                emb = np.asarray(teacher.transform(chunk), dtype=np.float32)
                if emb.ndim != 2 or emb.shape[0] != len(chunk):
                    raise ValueError(
                        f"The teacher returned {emb.shape[0] if emb.ndim else 'no'} embeddings "
                        f"for {len(chunk)} texts."
                    )
                cut = getattr(teacher, "truncated_items_", None)
                if cut is None or fresh_cut is None:
                    fresh_cut = None  # this teacher does not say which texts it truncated
                else:
                    fresh_cut.extend(chunk[i] for i in cut)
                parts.append(emb)
                bar.update(len(chunk))
        emb = np.concatenate(parts)
        if disk is not None and disk.dim is not None and emb.shape[1] != disk.dim:
            raise ValueError(
                f"The teacher returns {emb.shape[1]}-d embeddings but the target cache "
                f"{disk.folder} holds {disk.dim}-d ones for {tid}; delete that folder."
            )
        emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        fresh = dict(zip(missing, emb))
        found.update(fresh)
        memory.remember(tid, fresh)
        if disk is not None:
            disk.put(fresh, fresh_cut or ())
    counts = getattr(teacher, "truncation", None) in ("warn", "raise")
    if disk is not None and counts and fresh_cut is not None:
        teacher.n_truncated_ = len(cached_cut) + len(fresh_cut)
    return np.stack([found[t] for t in texts])
