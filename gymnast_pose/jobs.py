"""Long jobs are generators that yield progress items and return their result (``StopIteration.value``).

``run_to_end`` drives such a generator for callers that only want the result (the CLI, scripts), optionally
reporting ``progress(item.done, item.total)`` after every item; the GUI drives the same generators on a worker
thread instead (``gui/workers.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TypeVar

Result = TypeVar("Result")


def run_to_end(job: Generator[object, None, Result], progress: Callable[[int, int], object] | None = None) -> Result:
    """Exhaust ``job`` and return its result; items need ``done`` and ``total`` when ``progress`` is given."""
    while True:
        try:
            item = next(job)
        except StopIteration as stop:
            return stop.value
        if progress is not None:
            progress(item.done, item.total)
