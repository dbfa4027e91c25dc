"""Atomic writes: a file or a whole folder appears complete or not at all.

Everything ipaclip writes to disk goes through here: a temporary sibling is written and then
renamed over the target (``os.replace``, atomic on POSIX and Windows within one file
system). A temporary is removed when writing fails; one left by a killed process (its
process id is in the name) is removed by the next write to the same target.

A folder is replaced only when the caller may replace it (:func:`check_replaceable`): a
missing path, an empty folder, or a folder the caller recognises as its own; anything else
only with ``overwrite=True``, and never the working directory, its ancestors, the file
system's root or the home folder. Concurrent replacements of folders in one parent folder
are serialised by a lock on that parent (``fcntl.flock`` on its descriptor: no file is
created, and the kernel drops the lock of a killed process); a load reads a folder under
the shared form of that lock (:func:`reading`), so no save swaps it during the read.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: a lock file instead (see _locked)
    fcntl = None

__all__ = [
    "atomic_file",
    "atomic_folder",
    "check_replaceable",
    "reading",
    "recover_folder",
    "write_atomic",
]

#: Lock file used where ``fcntl`` does not exist (created exclusively, removed after use).
_LOCK_NAME = ".ipaclip.lock"
#: Age (seconds) after which such a lock file is taken to be a killed process's.
_STALE_LOCK_S = 60.0


def _umask() -> int:
    """The process's umask (read by setting it, then putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _ordinary_modes(path: Path) -> None:
    """Give ``path`` (a file, or a folder's files) the mode an ordinary ``open()`` gives.

    Some writers create files 0600 (safetensors does), which would make a saved model
    unreadable to the user's group.
    """
    mode = 0o666 & ~_umask()
    for file in [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]:
        os.chmod(file, mode)


def _sibling(path: Path, kind: str, token: str) -> Path:
    return path.with_name(f".{path.name}.{kind}-{os.getpid()}-{token}")


def _siblings(path: Path, kind: str) -> list[Path]:
    """The temporaries ``.<name>.<kind>-<pid>-<token>`` of ``path``, matched literally.

    A name may hold glob characters (``run[1]``, ``*``): the parent is listed and every
    entry's name parsed, so that no other model's temporaries are ever taken.
    """
    pattern = re.compile(rf"\.{re.escape(path.name)}\.{kind}-\d+-[0-9a-f]{{8}}")
    try:
        names = os.listdir(path.parent)
    except OSError:  # a parent that is missing, not a folder or unreadable holds none
        return []
    return sorted(path.parent / name for name in names if pattern.fullmatch(name))


def _owner_alive(sibling: Path) -> bool:
    try:
        pid = int(sibling.name.rsplit("-", 2)[-2])
    except (ValueError, IndexError):
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _clean_stale(path: Path, kinds: tuple[str, ...]) -> None:
    """Remove temporaries of ``path`` left by processes that no longer run."""
    for kind in kinds:
        for sibling in _siblings(path, kind):
            if not _owner_alive(sibling):
                _remove(sibling)


def _absolute(path: str | os.PathLike) -> Path:
    """``path`` with its parent resolved but a link at its end kept (``.``/``..`` resolved).

    A save replaces the entry at ``path`` itself: a symbolic link there is replaced, never the
    folder it points to; ``.`` and ``..`` name the folders they mean, so that no temporary is
    ever called ``..new-*`` or ``....new-*``.
    """
    path = Path(path)
    if path.name in ("", ".", ".."):
        return path.resolve()
    return path.parent.resolve() / path.name


@contextlib.contextmanager
def _locked(folder: Path, *, shared: bool = False) -> Iterator[None]:
    """Hold an exclusive (or ``shared``) lock on the folder ``folder`` while the block runs.

    ``fcntl.flock`` on the folder's own descriptor: nothing is created, each call opens its
    own descriptor (so threads of one process exclude each other too), and the lock dies
    with its process. Without ``fcntl``, a lock file created exclusively, removed
    afterwards (one older than a minute is taken to be a killed process's and removed); a
    shared lock is then not taken at all, since a reader may not be allowed to write.
    """
    if fcntl is not None:
        fd = os.open(folder, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock
        return
    if shared:  # readers may not be able to write a lock file (a read-only cache)
        yield
        return
    lock = folder / _LOCK_NAME
    while True:
        try:
            os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            break
        except FileExistsError:
            with contextlib.suppress(OSError):
                if time.time() - lock.stat().st_mtime > _STALE_LOCK_S:
                    lock.unlink()  # left by a killed process
            time.sleep(0.01)
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; it replaces ``path`` if the block succeeds.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> with atomic_file(folder / "a.txt") as tmp:
    ...     _ = tmp.write_text("done")
    >>> (folder / "a.txt").read_text(), len(list(folder.iterdir()))
    ('done', 1)
    """
    path = Path(path)
    _clean_stale(path, ("tmp",))
    tmp = _sibling(path, "tmp", uuid.uuid4().hex[:8])
    try:
        yield tmp
        _ordinary_modes(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)


def _protected(path: Path) -> str | None:
    """Why ``path`` may never be replaced by a save (None when it may)."""
    cwd, home = Path.cwd().resolve(), Path.home().resolve()
    if path == Path(path.anchor):
        return "it is the root of the file system"
    if path == home:
        return "it is your home folder"
    if path == cwd:
        return "it is the current working directory"
    if path in cwd.parents:
        return "it is an ancestor of the current working directory"
    return None


def check_replaceable(
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    is_ours: Callable[[Path], bool] | None = None,
) -> None:
    """Raise ``FileExistsError`` unless a save may replace ``path`` as a whole.

    A save may replace, without being asked, a path that is missing, an empty folder, or a
    folder for which ``is_ours`` is true (the caller's own format, nothing else in it).
    Anything else (a file, a symbolic link, a folder holding other files) only with
    ``overwrite=True``. The working directory, its ancestors, the root of the file system
    and the home folder are refused even then. The message names the path and up to three
    entries that would be lost.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "notes.txt").write_text("mine")
    >>> check_replaceable(folder)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileExistsError: Refusing to replace .../: it exists and is not ... (it holds notes.txt); ...
    >>> check_replaceable(folder, overwrite=True)
    """
    path = _absolute(path)
    reason = _protected(path)
    if reason is not None:
        raise FileExistsError(
            f"Refusing to save to {path}: {reason}, and a save replaces its target as a "
            "whole (even with overwrite=True). Choose a new folder inside it instead."
        )
    if overwrite or not os.path.lexists(path):
        return
    if path.is_symlink() or not path.is_dir():
        kind = "a symbolic link" if path.is_symlink() else "a file"
        lost = f"it is {kind}"
    else:
        entries = sorted(os.listdir(path))
        if not entries or (is_ours is not None and is_ours(path)):
            return
        shown = ", ".join(entries[:3]) + (
            f" and {len(entries) - 3} more" if len(entries) > 3 else ""
        )
        lost = f"it holds {shown}"
    raise FileExistsError(
        f"Refusing to replace {path}{os.sep if path.is_dir() else ''}: it exists and is not "
        f"a model folder that ipaclip wrote ({lost}); saving would delete it. Pass "
        "overwrite=True (ipaclip fit --overwrite) to replace it, or choose another folder."
    )


def _pending(path: Path) -> Path | None:
    """The new folder of a replacement of ``path`` killed between its renames, if any."""
    if os.path.lexists(path):
        return None
    for old in _siblings(path, "old"):
        new = path.with_name(old.name.replace(".old-", ".new-", 1))
        if new.is_dir():
            return new
    return None


def _recover(path: Path) -> None:
    """Finish a replacement of ``path`` killed between its two renames (lock held)."""
    new = _pending(path)
    if new is not None:
        os.replace(new, path)
        _remove(new.with_name(new.name.replace(".new-", ".old-", 1)))


def recover_folder(path: str | os.PathLike) -> None:
    """Finish a folder replacement that a killed process left between its two renames.

    :func:`atomic_folder` renames the old folder to ``.name.old-<pid>-<token>`` only once the
    new one, ``.name.new-<pid>-<token>``, is complete; if ``path`` is missing and such a pair
    exists, the new folder is moved into place. Writers rename under the parent's lock, and
    so does this: a pair whose writer still runs is never taken.
    """
    path = _absolute(path)
    if _pending(path) is None:
        return
    with _locked(path.parent):
        _recover(path)


@contextlib.contextmanager
def reading(path: str | os.PathLike) -> Iterator[Path]:
    """Keep the folder ``path`` from being replaced while the block reads it.

    A shared lock on the parent: readers run together, and a concurrent
    :func:`atomic_folder` renames only once they are done, so that the files read all come
    from one folder (without it, about 1 load in 200 during a loop of saves saw one save's
    config with the next one's weights). A save killed between its renames is finished first
    (:func:`recover_folder`). Yields ``path`` made absolute.
    """
    path = _absolute(path)
    while True:
        recover_folder(path)
        if not path.parent.is_dir():
            yield path  # nothing to lock: the reader reports the missing folder
            return
        with _locked(path.parent, shared=True):
            if _pending(path) is None:
                yield path
                return
        # A writer was killed between its renames after recover_folder looked: finish it.


@contextlib.contextmanager
def atomic_folder(
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    is_ours: Callable[[Path], bool] | None = None,
) -> Iterator[Path]:
    """Yield a new temporary folder beside ``path``; it replaces ``path`` if the block succeeds.

    What is at ``path`` is replaced only as :func:`check_replaceable` allows (``overwrite``,
    ``is_ours``), checked before the block runs and again, under the lock, before the
    renames. The old folder stays complete until the new one is: the new one is written
    aside, the old one renamed aside, the new one renamed into place, and the old one
    deleted. Concurrent calls for folders of one parent rename one at a time (the parent's
    lock). A process killed between the two renames leaves a pair that
    :func:`recover_folder` completes (loading and the next save call it); temporaries of
    killed processes are removed by the next save.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "model"
    >>> with atomic_folder(target) as tmp:
    ...     _ = (tmp / "a.txt").write_text("done")
    >>> sorted(p.name for p in target.parent.iterdir()), (target / "a.txt").read_text()
    (['model'], 'done')
    """
    path = _absolute(path)
    # Before any work, under the shared lock: a concurrent save's two renames (made under
    # the exclusive lock) must not be seen half done (1 in ~50 concurrent saves was refused).
    if path.parent.is_dir():
        with _locked(path.parent, shared=True):
            check_replaceable(path, overwrite=overwrite, is_ours=is_ours)
    else:
        check_replaceable(path, overwrite=overwrite, is_ours=is_ours)
    path.parent.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:8]
    tmp, old = _sibling(path, "new", token), _sibling(path, "old", token)
    with _locked(path.parent):
        _recover(path)
        _clean_stale(path, ("new", "old"))
        tmp.mkdir()
    try:
        yield tmp
        _ordinary_modes(tmp)
        with _locked(path.parent):
            # What is there now may differ from what was there when the block began.
            check_replaceable(path, overwrite=overwrite, is_ours=is_ours)
            if os.path.lexists(path):
                os.replace(path, old)
                try:
                    os.replace(tmp, path)
                except BaseException:
                    os.replace(old, path)  # put the old folder back
                    raise
            else:
                os.replace(tmp, path)
    finally:
        _remove(tmp)
    _remove(old)
