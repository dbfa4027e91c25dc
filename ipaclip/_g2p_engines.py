"""The engines behind :class:`~ipaclip.IPATransformer`, and how a batch of texts reaches them.

espeak-ng (through ``phonemizer``, with the library and voices bundled by ``espeakng-loader``)
and epitran are loaded once per process and configuration. :func:`read` reads a batch of
distinct texts with one of them: texts already read come from a bounded, thread-safe cache;
the rest go to the engine in chunks, serially or through ``joblib.Parallel`` (see
:data:`PARALLEL_MIN_TEXTS` for when).
"""

from __future__ import annotations

import difflib
import functools
import logging
import math
import os
import stat
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Sequence
from pathlib import Path

from joblib import Parallel, delayed, effective_n_jobs
from joblib.parallel import BACKENDS as JOBLIB_BACKENDS
from joblib.parallel import get_active_backend

from ipaclip._validation import InvalidParameterError

__all__ = [
    "CACHE_BYTES",
    "PARALLEL_MIN_TEXTS",
    "LRUCache",
    "available_languages",
    "check_language",
    "read",
    "remove_stale_espeak_copies",
    "unread_characters",
]

logger = logging.getLogger(__name__)

#: Copies of the espeak library younger than this (seconds) are never removed: their process
#: may be between copying the library and loading it.
STALE_COPY_AGE_S = 10.0

#: Most bytes of texts and readings kept by the process-wide cache (all configurations
#: together), as :func:`entry_bytes` counts them.
CACHE_BYTES = 64 * 2**20

#: Fewest texts (not yet cached) that ``n_jobs != 1`` reads through joblib when joblib's
#: backend is a local process pool (loky, joblib's default, or multiprocessing); fewer are read
#: serially. What costs is starting the workers: each imports ipaclip and loads espeak.
#: Measured with ``python -m benchmarks --only frontend`` (2-core Xeon, shared; two runs):
#: workers start in 4.2-4.6 s and one process reads 11,600-18,000 words/s; ``n_jobs=2`` read
#: slower than serial at every size tried (0.02x at 1,000 words, 0.14-0.16x at 10,000,
#: 0.55x at 100,000; about 1x with the workers already running). With k workers, parallel
#: reading saves at most ``N / rate * (1 - 1/k)`` seconds, which passes the start only from
#: 107,000-150,000 words for k=2 and 53,000-76,000 for many cores, hence 100,000. A backend
#: the caller chose that is not a local process pool (``joblib.parallel_config(
#: backend="dask")``, threads, ray) is used at any size. Set it to 0 to read in parallel
#: whatever the size.
PARALLEL_MIN_TEXTS = 100_000

# One espeak engine per process (cached below) is not thread-safe: threads take turns.
_ESPEAK_LOCK = threading.Lock()
# phonemizer warns about word-count mismatches and kept flags on every call; ipaclip counts
# language switches itself, so only its errors are shown.
_PHONEMIZER_LOGGER = logging.getLogger("ipaclip.g2p.phonemizer")
_PHONEMIZER_LOGGER.setLevel(logging.ERROR)


# --------------------------------------------------------------------------------------------
# espeak-ng and epitran
# --------------------------------------------------------------------------------------------
@functools.cache
def _espeak_ready() -> None:
    """Point phonemizer at the espeak-ng library and data bundled by espeakng-loader."""
    try:
        import espeakng_loader
        from phonemizer.backend.espeak.wrapper import EspeakWrapper
    except ImportError as exc:  # pragma: no cover - both are install requirements
        raise ImportError(
            "The espeak backend needs 'phonemizer' and 'espeakng-loader': "
            "pip install phonemizer espeakng-loader"
        ) from exc
    if not os.environ.get("PHONEMIZER_ESPEAK_LIBRARY"):
        EspeakWrapper.set_library(espeakng_loader.get_library_path())
        EspeakWrapper.set_data_path(espeakng_loader.get_data_path())
    try:
        remove_stale_espeak_copies(Path(EspeakWrapper.library()))
    except OSError as exc:  # pragma: no cover - tidying must never stop a reading
        logger.debug("Could not look for stale espeak copies: %s", exc)


def remove_stale_espeak_copies(library: Path, folder: Path | None = None) -> list[Path]:
    """Remove the copies of the espeak library that killed processes left in ``folder``.

    phonemizer (3.4) copies the espeak library into a new ``tempfile.mkdtemp()`` folder for
    every engine it creates (``EspeakAPI.__init__``): espeak keeps its state in globals, and
    ``dlopen`` would return the one already loaded for the same path. It removes the folder
    when the engine is collected, so a killed process leaves its copy behind (102 folders
    after a kill loop). It has no option to load the library in place.

    A folder is removed when all of these hold: its name starts with ``tmp``; it holds
    nothing but one regular file named like ``library`` and of its size; that copy is older
    than :data:`STALE_COPY_AGE_S`; and no process this one can see (``/proc/<pid>/maps``)
    has it loaded, that is, the process that made it is gone. Elsewhere than on Linux
    (no ``/proc``) nothing is removed. A process in another PID namespace that shares the
    folder is not seen: removing its copy does not stop it (Linux keeps a mapped file after
    unlinking it), but phonemizer then finds the folder gone when it exits.

    Parameters
    ----------
    library : Path
        The library phonemizer loads (its copies carry its resolved name).
    folder : Path, default=None
        Where phonemizer makes its copies: ``tempfile.gettempdir()``.

    Returns
    -------
    list of Path
        The folders removed.
    """
    proc = Path("/proc")
    library = Path(library).resolve()
    if not (proc / "self" / "maps").is_file() or not library.is_file():
        return []
    folder = Path(folder if folder is not None else tempfile.gettempdir()).resolve()
    size = library.stat().st_size
    now = time.time()
    candidates = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if not entry.name.startswith("tmp") or not entry.is_dir(follow_symlinks=False):
                continue
            try:
                if os.listdir(entry.path) != [library.name]:
                    continue
                copy = os.lstat(os.path.join(entry.path, library.name))
            except OSError:
                continue
            if (
                stat.S_ISREG(copy.st_mode)
                and copy.st_size == size
                and now - copy.st_mtime > STALE_COPY_AGE_S
            ):
                candidates.append(folder / entry.name)
    if not candidates:
        return []
    in_use = _loaded_from(proc, {str(path) + os.sep for path in candidates})
    removed = []
    for path in candidates:
        if str(path) + os.sep in in_use:
            continue
        try:
            os.unlink(path / library.name)
            os.rmdir(path)  # fails, and keeps the folder, if anything appeared in it
        except OSError:
            continue
        removed.append(path)
    if removed:
        logger.debug("Removed %d stale espeak copies in %s", len(removed), folder)
    return removed


def _loaded_from(proc: Path, prefixes: set[str]) -> set[str]:
    """Which of the folder ``prefixes`` hold a file that a live process has mapped."""
    found: set[str] = set()
    for pid in os.listdir(proc):
        if not pid.isdigit():
            continue
        try:
            with open(proc / pid / "maps", encoding="utf-8", errors="replace") as f:
                for line in f:
                    parts = line.split(maxsplit=5)
                    if len(parts) == 6 and parts[5].startswith("/"):
                        where = os.path.dirname(parts[5].rstrip("\n")) + os.sep
                        if where in prefixes:
                            found.add(where)
        except OSError:  # gone, or not ours to read (init)
            continue
    return found


@functools.cache
def _espeak_languages() -> dict[str, str]:
    _espeak_ready()
    from phonemizer.backend import EspeakBackend

    return dict(sorted(EspeakBackend.supported_languages().items()))


@functools.cache
def _epitran_languages() -> dict[str, str]:
    try:
        import epitran
    except ImportError as exc:
        raise ImportError(
            "The epitran backend needs 'epitran': pip install 'ipaclip[epitran]'"
        ) from exc
    folder = Path(epitran.__file__).parent / "data" / "map"
    codes = {p.stem for p in folder.glob("*.csv")}
    # Languages with their own backend have no map file (English needs flite's lex_lookup).
    try:
        from epitran._epitran import SPECIAL_LANGUAGE_BACKENDS
    except ImportError:  # pragma: no cover - older epitran
        SPECIAL_LANGUAGE_BACKENDS = {"eng-Latn": None}
    codes.update(SPECIAL_LANGUAGE_BACKENDS)
    return {code: code for code in sorted(codes)}


def available_languages(backend: str = "espeak") -> dict[str, str]:
    """Language codes a backend accepts, mapped to their names.

    Parameters
    ----------
    backend : {"espeak", "epitran"}

    Returns
    -------
    dict of str to str

    Examples
    --------
    >>> langs = available_languages()
    >>> "en-us" in langs and "fr-fr" in langs and len(langs) > 100
    True
    """
    if backend == "espeak":
        return dict(_espeak_languages())
    if backend == "epitran":
        return dict(_epitran_languages())
    raise ValueError(f"backend={backend!r} has no language list; use 'espeak' or 'epitran'.")


def check_language(backend: str, language: str, caller: str) -> None:
    """Refuse a ``language`` the ``backend`` does not know, suggesting close codes."""
    langs = available_languages(backend)
    if language not in langs:
        close = difflib.get_close_matches(language, list(langs), n=5, cutoff=0.5)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise InvalidParameterError(
            f"Unknown language {language!r} for the {backend} backend (parameter language of "
            f"{caller}).{hint} ipaclip.available_languages({backend!r}) lists all {len(langs)}."
        )


@functools.cache
def _espeak_backend(language: str, with_stress: bool, tie: bool):
    _espeak_ready()
    from phonemizer.backend import EspeakBackend

    return EspeakBackend(
        language,
        with_stress=with_stress,
        tie=tie,
        language_switch="keep-flags",
        logger=_PHONEMIZER_LOGGER,
    )


@functools.cache
def _epitran_backend(language: str):
    import epitran

    try:
        backend = epitran.Epitran(language)
        backend.transliterate("a")
    except Exception as exc:  # epitran raises KeyError/OSError when flite is missing
        raise RuntimeError(
            f"epitran cannot load {language!r} here ({type(exc).__name__}: {exc}). "
            "Some epitran languages (English among them) need the 'flite' lex_lookup binary; "
            "use backend='espeak' for those."
        ) from exc
    return backend


def load(config: tuple) -> None:
    """Load the engine of a configuration ``(backend, language, with_stress, tie)``."""
    backend, language, with_stress, tie = config
    if backend == "espeak":
        _espeak_backend(language, with_stress, tie)
    else:
        _epitran_backend(language)


def unread_characters(config: tuple, chars: Iterable[str]) -> list[str]:
    """Those of ``chars`` that the engine of ``config`` reads as nothing (empty output).

    Each character is read alone, in one engine call for all those not asked before; the
    answers are kept in :data:`UNREAD` (bounded like the readings, so a text of every
    Unicode letter cannot grow it without end).
    """
    chars = list(dict.fromkeys(chars))
    known = UNREAD.get_many((config, ch) for ch in chars)
    todo = [ch for ch in chars if (config, ch) not in known]
    if todo:
        fresh = {(config, ch): not ipa.strip() for ch, ipa in zip(todo, _g2p_chunk(config, todo))}
        UNREAD.put_many(fresh.items())
        known.update(fresh)
    return [ch for ch in chars if known[config, ch]]


def _g2p_chunk(config: tuple, texts: list[str]) -> list[str]:
    """Phonemise a chunk of cleaned texts with one backend (runs in joblib workers)."""
    backend, language, with_stress, tie = config
    if backend == "espeak":
        from phonemizer.separator import Separator

        engine = _espeak_backend(language, with_stress, tie)
        with _ESPEAK_LOCK:
            return engine.phonemize(texts, separator=Separator(word=" ", phone=""), strip=True)
    engine = _epitran_backend(language)
    return [" ".join(engine.transliterate(w) for w in t.split()) for t in texts]


# --------------------------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------------------------
def entry_bytes(key: Hashable, value: object) -> int:
    """What one cache entry keeps resident: its key's and value's strings and containers.

    Strings and tuples (of strings, bools, ...) are measured with ``sys.getsizeof``, the
    tuple's items included; anything else counts its own ``sys.getsizeof``. The entry's
    share of the dictionary (about 100 bytes) is added.

    Examples
    --------
    >>> entry_bytes(("cfg", "a" * 1000), "b" * 1000) > 2000
    True
    """
    return _ENTRY_OVERHEAD + _sizeof(key) + _sizeof(value)


_ENTRY_OVERHEAD = 100


def _sizeof(obj: object) -> int:
    if isinstance(obj, tuple):
        return sys.getsizeof(obj) + sum(_sizeof(item) for item in obj)
    return sys.getsizeof(obj)


class LRUCache:
    """A thread-safe mapping bounded by bytes that forgets its least recently used entries.

    The bound is on what the entries keep resident (:func:`entry_bytes`: texts and their
    readings), not on their number: a bound of 200,000 entries let 150 texts of 100 kB keep
    15 MB resident. An entry larger than the whole bound is not kept; the caller still has
    its value.

    Why not ``functools.lru_cache``: it memoises one call at a time, while the G2P reads all
    the texts a batch misses in one engine call (espeak is many times faster on a batch than
    text by text), so lookups and inserts come by batch. An ``OrderedDict`` under a lock does
    that. Lookups copy their hits into a dict of the caller's own, so no eviction (by another
    thread, or by the caller's own insert) can take away a value the caller still needs.

    Parameters
    ----------
    maxbytes : int
        Most bytes kept (:func:`entry_bytes` summed over the entries).

    Examples
    --------
    >>> cache = LRUCache(maxbytes=3 * entry_bytes("a", "x" * 100))
    >>> cache.put_many([("a", "x" * 100), ("b", "y" * 100), ("c", "z" * 100)])
    >>> sorted(cache.get_many(["a"]))  # "a" is now the most recently used
    ['a']
    >>> cache.put_many([("d", "w" * 100)])  # evicts "b"
    >>> sorted(cache.get_many(["a", "b", "c", "d"]))
    ['a', 'c', 'd']
    >>> cache.nbytes <= cache.maxbytes
    True
    """

    def __init__(self, maxbytes: int) -> None:
        self.maxbytes = maxbytes
        self.nbytes = 0
        self._data: OrderedDict = OrderedDict()  # key -> (value, bytes)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def get_many(self, keys: Iterable[Hashable]) -> dict:
        """The cached values of ``keys`` (those present), marked as recently used."""
        out = {}
        with self._lock:
            for key in keys:
                if key in self._data:
                    self._data.move_to_end(key)
                    out[key] = self._data[key][0]
        return out

    def put_many(self, items: Iterable[tuple[Hashable, object]]) -> None:
        """Insert or refresh ``(key, value)`` pairs, evicting down to ``maxbytes`` as it goes.

        Eviction runs after each insert, so a call larger than the bound never holds more
        than the bound (plus the entry being inserted) at any time.
        """
        with self._lock:
            for key, value in items:
                size = entry_bytes(key, value)
                old = self._data.pop(key, None)
                if old is not None:
                    self.nbytes -= old[1]
                if size > self.maxbytes:
                    continue
                self._data[key] = (value, size)
                self.nbytes += size
                while self.nbytes > self.maxbytes:
                    _, (_, freed) = self._data.popitem(last=False)
                    self.nbytes -= freed

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.nbytes = 0


#: The readings of this process, keyed by ``(configuration, text)``.
CACHE = LRUCache(CACHE_BYTES)
#: Whether a configuration reads a character as nothing, keyed by ``(configuration, char)``.
UNREAD = LRUCache(4 * 2**20)


# --------------------------------------------------------------------------------------------
# Reading a batch
# --------------------------------------------------------------------------------------------
def n_workers(n_jobs: int | None, n_texts: int) -> int:
    """How many joblib workers to read ``n_texts`` texts with (1: serially, no joblib)."""
    if n_jobs is None or n_jobs == 1 or n_texts < 2:
        return 1
    backend, _ = get_active_backend()
    local_pool = tuple(
        JOBLIB_BACKENDS[k] for k in ("loky", "multiprocessing") if k in JOBLIB_BACKENDS
    )
    if isinstance(backend, local_pool) and n_texts < PARALLEL_MIN_TEXTS:
        return 1
    return max(1, effective_n_jobs(n_jobs))


def chunks(texts: Sequence[str], batch_size: int, workers: int) -> list[Sequence[str]]:
    """``texts`` in chunks of at most ``batch_size``, and at least one chunk per worker."""
    n_chunks = max(math.ceil(len(texts) / batch_size), min(workers, len(texts)))
    size = math.ceil(len(texts) / n_chunks) if n_chunks else 1
    return [texts[i : i + size] for i in range(0, len(texts), size)]


def read(
    config: tuple, texts: Sequence[str], *, n_jobs: int | None, batch_size: int, cache: bool
) -> dict[str, str]:
    """The engine's readings (language-switch flags kept) of distinct ``texts``.

    Parameters
    ----------
    config : tuple
        ``(backend, language, with_stress, tie)``.
    texts : sequence of str
        Distinct, cleaned texts.
    n_jobs, batch_size : int
        As in :class:`~ipaclip.IPATransformer`.
    cache : bool
        Whether to consult and fill the process-wide cache.
    """
    out: dict[str, str] = {}
    if cache:
        hits = CACHE.get_many((config, t) for t in texts)
        out = {key[1]: ipa for key, ipa in hits.items()}
    todo = [t for t in texts if t not in out]
    if not todo:
        return out
    workers = n_workers(n_jobs, len(todo))
    parts = chunks(todo, batch_size, workers)
    if workers == 1 or len(parts) == 1:
        outputs = [_g2p_chunk(config, part) for part in parts]
    else:
        logger.debug("Reading %d texts in %d chunks with n_jobs=%s", len(todo), len(parts), n_jobs)
        outputs = Parallel(n_jobs=n_jobs)(delayed(_g2p_chunk)(config, part) for part in parts)
    fresh = {t: ipa for part, output in zip(parts, outputs) for t, ipa in zip(part, output)}
    if cache:
        CACHE.put_many(((config, t), ipa) for t, ipa in fresh.items())
    out.update(fresh)
    return out
