"""Third-party output while a teacher works: nothing at ``verbose=0``.

Loading and running a teacher goes through transformers, huggingface_hub,
sentence-transformers and open_clip, which print progress bars of their own ("Loading
weights") and log INFO/WARNING lines, open_clip on the root logger. :func:`quiet_third_party`
silences all of that for the duration of a block when ``verbose`` is 0, and restores the
previous settings when the last such block ends, so no global setting outlives a call.
ipaclip's own log records (such as the warning about random weights) are left alone.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

_LIBRARY_LOGGERS = ("transformers", "sentence_transformers", "huggingface_hub", "open_clip", "timm")

# Blocks may nest and overlap across threads: the first to enter silences, the last to leave
# restores. While any verbose=0 block runs, third-party output is silenced process-wide.
_lock = threading.Lock()
_depth = 0
_undo: list[Callable[[], None]] = []


class _DropRootChatter(logging.Filter):
    """Drops records logged on the root logger itself (``logging.info(...)`` in libraries).

    A filter on a logger sees only the records logged on that logger, not those propagated
    from named loggers, so ipaclip's own records pass.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR


class _StandInForNoHandler(logging.Handler):
    """Stands on the root logger while it has no handler, as Python's last resort would.

    Without it, open_clip's first ``logging.info(...)`` calls ``logging.basicConfig()``, which
    installs a stderr handler on the root logger for the rest of the process.
    """

    def emit(self, record: logging.LogRecord) -> None:
        last = logging.lastResort
        if last is not None and record.levelno >= last.level:
            last.handle(record)


def _silence_loggers() -> Callable[[], None]:
    saved = [(logging.getLogger(name), logging.getLogger(name).level) for name in _LIBRARY_LOGGERS]
    for logger, _ in saved:
        logger.setLevel(logging.ERROR)
    root = logging.getLogger()
    chatter, stand_in = _DropRootChatter(), _StandInForNoHandler()
    root.addFilter(chatter)
    added_stand_in = not root.handlers
    if added_stand_in:
        root.addHandler(stand_in)

    def undo() -> None:
        for logger, level in saved:
            logger.setLevel(level)
        root.removeFilter(chatter)
        if added_stand_in:
            root.removeHandler(stand_in)

    return undo


def _silence_progress_bars() -> Callable[[], None]:
    """Turn off the bars of transformers and huggingface_hub with their public switches."""
    try:
        import huggingface_hub.utils as hub_utils
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover - a dependency of open_clip and transformers
        return lambda: None
    if getattr(constants, "HF_HUB_DISABLE_PROGRESS_BARS", None) is False:
        return lambda: None  # HF_HUB_DISABLE_PROGRESS_BARS=0: the user asked for the bars
    hub_was_disabled = hub_utils.are_progress_bars_disabled()
    try:
        from transformers.utils import logging as transformers_logging
    except ImportError:
        transformers_logging = None
    transformers_was_enabled = (
        transformers_logging is not None and transformers_logging.is_progress_bar_enabled()
    )
    if transformers_logging is not None:
        transformers_logging.disable_progress_bar()  # also disables huggingface_hub's
    else:
        hub_utils.disable_progress_bars()

    def undo() -> None:
        # transformers' switches also set huggingface_hub's, so restore it second.
        if transformers_was_enabled:
            transformers_logging.enable_progress_bar()
        if hub_was_disabled:
            hub_utils.disable_progress_bars()
        else:
            hub_utils.enable_progress_bars()

    return undo


@contextlib.contextmanager
def quiet_third_party(verbose: Any) -> Iterator[None]:
    """Silence third-party progress bars and log lines in the block when ``verbose`` is 0."""
    global _depth
    if verbose:
        yield
        return
    with _lock:
        if _depth == 0:
            _undo[:] = [_silence_loggers(), _silence_progress_bars()]
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                for undo in reversed(_undo):
                    undo()
                _undo.clear()
