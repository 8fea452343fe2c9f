"""Read-ahead: run a frame iterator on a worker thread so decoding overlaps with the work done on each frame.

Decoding a 720p H.264 frame and turning it into RGB takes about 2 ms on the 2-core CPU we measure on (grab 0.9 ms,
retrieve 1.1 ms in a profile of the squat clip), a sixth of the time the tracker spends per frame. OpenCV and
PyTorch both release the GIL while they work, so a decoder thread runs while the network runs. ``read_ahead`` keeps
at most ``max_items`` items (and at most ``max_bytes`` of frame pixels) waiting, so memory stays bounded on any
length of video.

The consumer sees exactly the items of the source iterator, in order; an exception raised by the source is raised
in the consumer at the point where that item would have come. Closing the consumer early (``break``, ``close()``,
garbage collection) stops the worker after at most the item it is decoding.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

Item = TypeVar("Item")

_DONE = object()


class _Failure:
    def __init__(self, error: BaseException):
        self.error = error


def _size_of(item) -> int:
    image = getattr(item, "image", None)
    return int(getattr(image, "nbytes", 0))


def read_ahead(source: Iterable[Item], max_items: int = 8, max_bytes: float = 96e6) -> Iterator[Item]:
    """Items of ``source`` (objects with an ``image`` array count its bytes), produced on a worker thread.

    At most ``max_items`` items wait at any time, fewer when each is large: the limit is ``max_bytes`` / the first
    item's size (at least 1), so a 4K video (25 MB a frame) waits with 3 frames where 720p waits with 8.
    """
    iterator = iter(source)
    try:
        first = next(iterator)
    except StopIteration:
        return
    size = _size_of(first)
    depth = max(1, min(int(max_items), int(max_bytes // size) if size else int(max_items)))
    waiting: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                waiting.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in iterator:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as error:  # handed to the consumer, raised there
            put(_Failure(error))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=work, name="read-ahead", daemon=True)
    worker.start()
    try:
        yield first
        while True:
            item = waiting.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        worker.join(timeout=5.0)
