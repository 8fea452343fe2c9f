"""Decode video frames on a background thread so that scrubbing and playback never block the GUI thread.

One :class:`FrameLoader` per open video, with its own ``VideoSource`` (a source is not shared between threads).
``request(index)`` only records the *latest* wanted frame: while the thread decodes one frame, newer requests replace
older ones, so fast scrubbing skips frames instead of queueing them. Decoded frames arrive on the GUI thread as
``frame_ready(index, rgb)`` with ``rgb`` a read-only (H, W, 3) uint8 array. During playback the loader also decodes
one frame ahead when idle (``prefetch``), so the next frame is usually already in the source's LRU cache.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from PySide6.QtCore import QThread, Signal

log = logging.getLogger(__name__)


class FrameLoader(QThread):
    frame_ready = Signal(int, object)  # index, (H, W, 3) uint8 RGB
    failed = Signal(int, str)  # index, message

    def __init__(self, path: str | Path, parent=None):
        super().__init__(parent)
        self.path = Path(path)
        self.setObjectName(f"gymnast_pose:frames:{self.path.name}")
        self._condition = threading.Condition()
        self._wanted: int | None = None
        self._prefetch: int | None = None
        self._stopping = False
        self.decoded = 0  # frames decoded (for benchmarks)

    def request(self, index: int, prefetch: int | None = None) -> None:
        """Ask for frame ``index`` (replacing any request not yet served); then decode ``prefetch`` if idle."""
        with self._condition:
            self._wanted = int(index)
            self._prefetch = None if prefetch is None else int(prefetch)
            self._condition.notify()

    def stop(self, msecs: int = 10_000) -> None:
        """End the thread and wait for it (the frame being decoded is finished first)."""
        with self._condition:
            self._stopping = True
            self._condition.notify()
        if self.isRunning() and not self.wait(msecs):
            log.warning("Frame loader for %s did not stop in time", self.path)

    def run(self) -> None:
        from gymnast_pose.video import VideoSource

        try:
            source = VideoSource(self.path, cache_megabytes=192.0)
        except Exception as exc:  # the GUI shows the message; it already opened this file once
            self.failed.emit(-1, str(exc))
            return
        try:
            while True:
                with self._condition:
                    while not self._stopping and self._wanted is None and self._prefetch is None:
                        self._condition.wait()
                    if self._stopping:
                        return
                    index, emit = (self._wanted, True) if self._wanted is not None else (self._prefetch, False)
                    if emit:
                        self._wanted = None
                    else:
                        self._prefetch = None
                if not 0 <= index < source.num_frames:
                    continue
                try:
                    image = source.frame(index)
                    self.decoded += 1
                except Exception as exc:
                    if emit:
                        self.failed.emit(index, str(exc))
                    continue
                if emit:
                    self.frame_ready.emit(index, image)
        finally:
            source.close()
