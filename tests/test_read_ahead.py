"""The read-ahead iterator: same items in the same order, errors where they happen, bounded, stops when closed."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from gymnast_pose.read_ahead import read_ahead


def frames(count: int, nbytes: int = 16, log: list | None = None):
    for i in range(count):
        if log is not None:
            log.append(i)
        yield SimpleNamespace(index=i, image=np.zeros(nbytes, np.uint8))


def test_items_arrive_complete_and_in_order():
    assert [f.index for f in read_ahead(frames(50))] == list(range(50))
    assert list(read_ahead(iter(()))) == []
    assert list(read_ahead(range(5))) == [0, 1, 2, 3, 4]  # objects without an image work too


def test_an_error_of_the_source_reaches_the_consumer_after_the_items_before_it():
    def failing():
        yield from frames(3)
        raise ValueError("truncated video")

    seen = []
    with pytest.raises(ValueError, match="truncated video"):
        for frame in read_ahead(failing()):
            seen.append(frame.index)
    assert seen == [0, 1, 2]


def test_at_most_the_allowed_number_of_frames_wait():
    produced: list[int] = []
    iterator = read_ahead(frames(100, nbytes=1000, log=produced), max_items=8, max_bytes=3000)
    next(iterator)
    time.sleep(0.3)  # let the worker fill the queue
    # 1 handed out + 3 waiting (3000 bytes of 1000-byte frames) + 1 decoded and blocked on the full queue.
    assert len(produced) <= 5
    iterator.close()


def test_closing_early_stops_the_worker_and_closes_the_source():
    closed = threading.Event()

    def source():
        try:
            yield from frames(10_000)
        finally:
            closed.set()

    iterator = read_ahead(source(), max_items=4)
    assert [next(iterator).index for _ in range(3)] == [0, 1, 2]
    iterator.close()
    assert closed.wait(2.0)
    assert not any(t.name == "read-ahead" and t.is_alive() for t in threading.enumerate())
