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
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ipaclip._io import atomic_file, write_atomic
from ipaclip._progress import progress

__all__ = ["MEMORY", "DiskStore", "TargetMemory", "check_target_array", "embed_texts", "teacher_id"]

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


class DiskStore:
    """Teacher embeddings on disk, one folder per teacher, written in a few shard files.

    Each :meth:`put` writes one shard: ``part-<id>.npy`` (float32 rows) and
    ``part-<id>.json`` (the texts, in row order), each atomically; the ``.json`` is written
    last, so a shard without one is incomplete and ignored. Shards are memory-mapped when
    read.
    """

    def __init__(self, root: str | os.PathLike, teacher: str) -> None:
        digest = hashlib.sha256(teacher.encode()).hexdigest()[:16]
        self.folder = Path(root) / digest
        self.folder.mkdir(parents=True, exist_ok=True)
        marker = self.folder / "teacher.txt"
        if not marker.is_file():
            write_atomic(marker, teacher.encode("utf-8"))

    def _index(self) -> dict[str, tuple[Path, int]]:
        index: dict[str, tuple[Path, int]] = {}
        for texts_path in sorted(self.folder.glob("part-*.json")):
            rows_path = texts_path.with_suffix(".npy")
            try:
                texts = json.loads(texts_path.read_text("utf-8"))
            except (OSError, json.JSONDecodeError, UnicodeDecodeError):
                logger.warning("Ignoring unreadable target-cache shard %s.", texts_path)
                continue
            if rows_path.is_file():
                index.update((t, (rows_path, i)) for i, t in enumerate(texts))
        return index

    def get(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        index = self._index()
        out: dict[str, np.ndarray] = {}
        arrays: dict[Path, np.ndarray] = {}
        for text in texts:
            hit = index.get(text)
            if hit is None:
                continue
            path, row = hit
            if path not in arrays:
                arrays[path] = np.load(path, mmap_mode="r")
            out[text] = np.array(arrays[path][row], dtype=np.float32)
        return out

    def put(self, rows: dict[str, np.ndarray]) -> None:
        if not rows:
            return
        stem = self.folder / f"part-{uuid.uuid4().hex[:16]}"
        matrix = np.stack([np.asarray(v, dtype=np.float32) for v in rows.values()])
        with atomic_file(stem.with_suffix(".npy")) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, matrix)
        texts = json.dumps(list(rows), ensure_ascii=False).encode("utf-8")
        write_atomic(stem.with_suffix(".json"), texts)


def embed_texts(
    teacher: Any,
    texts: Sequence[str],
    *,
    cache_dir: str | os.PathLike | None = None,
    memory: TargetMemory = MEMORY,
    verbose: int = 0,
) -> np.ndarray:
    """L2-normalised teacher embeddings of ``texts``, each distinct text embedded once."""
    tid = teacher_id(teacher)
    unique = list(dict.fromkeys(texts))
    found = memory.lookup(tid, unique)
    missing = [t for t in unique if t not in found]
    disk = DiskStore(cache_dir, tid) if cache_dir else None
    if missing and disk is not None:
        from_disk = disk.get(missing)
        found.update(from_disk)
        memory.remember(tid, from_disk)
        missing = [t for t in unique if t not in found]
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
                parts.append(emb)
                bar.update(len(chunk))
        emb = np.concatenate(parts)
        emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        fresh = dict(zip(missing, emb))
        found.update(fresh)
        memory.remember(tid, fresh)
        if disk is not None:
            disk.put(fresh)
    return np.stack([found[t] for t in texts])
