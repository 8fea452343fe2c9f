"""Work-arounds for Qt binding bugs, in one place.

* ``binding_loses_none_references()``: PySide6 6.12.0 (seen with Python 3.11) returns ``None`` from every Qt call
  that returns nothing without taking a reference to it, so ``None``'s reference count falls by one per call (by
  thousands per second while a video plays) and the interpreter aborts with "none_dealloc: deallocating None".
  Python >= 3.12 is safe (its ``None`` is immortal); pyproject.toml keeps PySide6 < 6.12 on older Pythons. The app
  checks at start and warns (``BINDING_WARNING``) if an installation has the bug anyway.
* ``signals_blocked(*objects)``: block the signals of some objects inside a ``with`` block, restoring their previous
  state after it. The GUI uses it instead of ``QSignalBlocker``, which in the same PySide6 release lost a
  reference to ``None`` per use even as a context manager.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtCore import QObject

BINDING_WARNING = (
    "This installation uses a PySide6 release ({version}) that loses track of Python's None object on every Qt "
    "call: gymnast_pose will crash after a while (\"deallocating None\"). Install an earlier PySide6, for example "
    "pip install \"PySide6-Essentials<6.12\", or use Python 3.12 or newer."
)


@contextmanager
def signals_blocked(*objects: QObject) -> Iterator[None]:
    """Block the signals of ``objects`` inside the block; each gets its previous blocking state back after it."""
    previous = [obj.blockSignals(True) for obj in objects]
    try:
        yield
    finally:
        for obj, was_blocked in zip(objects, previous):
            obj.blockSignals(was_blocked)


def binding_loses_none_references(calls: int = 200) -> bool:
    """True when Qt calls returning nothing drop references to ``None`` (see the module docstring)."""
    if sys.version_info >= (3, 12):
        return False  # None is immortal: its count does not move, and nothing can break
    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(calls):
        probe.setObjectName("probe")  # returns nothing
    return sys.getrefcount(None) < before - calls // 2
