"""Atomic writes: a file or a whole folder appears complete or not at all.

Everything ipaclip writes to disk goes through here: a temporary sibling is written and then
renamed over the target (``os.replace``, atomic on POSIX and Windows within one file
system). A temporary is removed when writing fails; one left by a killed process (its
process id is in the name) is removed by the next write to the same target.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_file", "atomic_folder", "recover_folder", "write_atomic"]


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
    return sorted(path.parent.glob(f".{path.name}.{kind}-*"))


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


def recover_folder(path: str | os.PathLike) -> None:
    """Finish a folder replacement that a killed process left between its two renames.

    :func:`atomic_folder` renames the old folder to ``.name.old-<pid>-<token>`` only once the
    new one, ``.name.new-<pid>-<token>``, is complete; if ``path`` is missing and such a pair
    exists, the new folder is moved into place.
    """
    path = Path(path)
    if path.exists():
        return
    for old in _siblings(path, "old"):
        new = path.with_name(old.name.replace(".old-", ".new-", 1))
        if new.is_dir() and not _owner_alive(old):
            os.replace(new, path)
            _remove(old)
            return


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a new temporary folder beside ``path``; it replaces ``path`` if the block succeeds.

    The old folder stays complete until the new one is: the new one is written aside, the old
    one renamed aside, the new one renamed into place, and the old one deleted. A process
    killed between the two renames leaves a pair that :func:`recover_folder` completes
    (loading and the next save call it); temporaries of killed processes are removed by the
    next save.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    recover_folder(path)
    _clean_stale(path, ("new", "old"))
    token = uuid.uuid4().hex[:8]
    tmp, old = _sibling(path, "new", token), _sibling(path, "old", token)
    tmp.mkdir()
    try:
        yield tmp
        _ordinary_modes(tmp)
    except BaseException:
        _remove(tmp)
        raise
    if not path.exists():
        os.replace(tmp, path)
        return
    os.replace(path, old)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.replace(old, path)  # put the old folder back
        _remove(tmp)
        raise
    _remove(old)
