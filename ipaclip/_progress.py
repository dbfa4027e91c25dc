"""Progress bars with one rule: ``verbose=0`` prints nothing; ``verbose>=1`` shows a tqdm bar
for every step that takes longer than :data:`DELAY_S` seconds (shorter steps stay silent).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["DELAY_S", "iterate", "make_bar", "progress"]

#: A bar appears only once its step has run this long (tqdm's ``delay``).
DELAY_S = 2.0


class _Silent:
    """Stands in for a tqdm bar at ``verbose=0``."""

    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        pass

    def set_postfix_str(self, *args: Any, **kwargs: Any) -> None:
        pass

    def write(self, text: str, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass


def make_bar(
    total: int | None,
    desc: str,
    verbose: int,
    *,
    unit: str = "it",
    initial: int = 0,
    delay: float | None = None,
) -> Any:
    """A tqdm bar (on standard error) when ``verbose``, else an object that ignores updates.

    Close it when done (or use :func:`progress`).
    """
    if not verbose:
        return _Silent()
    from tqdm.auto import tqdm

    delay = DELAY_S if delay is None else delay
    return tqdm(total=total, desc=desc, unit=unit, initial=initial, delay=delay, leave=True)


@contextlib.contextmanager
def progress(
    total: int | None,
    desc: str,
    verbose: int,
    *,
    unit: str = "it",
    initial: int = 0,
    delay: float | None = None,
) -> Iterator[Any]:
    """:func:`make_bar` as a context manager that closes the bar."""
    bar = make_bar(total, desc, verbose, unit=unit, initial=initial, delay=delay)
    try:
        yield bar
    finally:
        bar.close()


def iterate(items: Any, desc: str, verbose: int, *, total: int | None = None) -> Any:
    """``items`` under a tqdm bar when ``verbose`` (shown once the loop has run
    :data:`DELAY_S` seconds), else ``items`` themselves."""
    if not verbose:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, total=total, desc=desc, delay=DELAY_S, leave=True)
