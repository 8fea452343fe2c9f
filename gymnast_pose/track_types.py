"""What a video's pose tracking takes and gives: the user's seed box, per-frame and whole-video results, progress,
and cancellation. Plain data, shared by ``estimator`` (which produces them), ``analysis``, ``render`` and the CLI.

Conventions: pixel coordinates are the frame's own; keypoints follow the ``PoseSequence`` convention, (K, 3) or
(T, K, 3) float32 x, y, score with x = y = NaN and score 0 where a joint (or the whole person) is missing; K is
``skeleton.K``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from gymnast_pose.inference import Region
from gymnast_pose.tracking import PoseBox

Cancel = threading.Event | Callable[[], bool] | None


class AnalysisCancelled(Exception):
    """The analysis was cancelled by the user (through ``cancel``); nothing was stored."""


@dataclass(frozen=True)
class SeedBox:
    """The user's box around the athlete on frame ``frame``: top-left (x, y) and size (w, h) in frame pixels."""

    x: float
    y: float
    w: float
    h: float
    frame: int = 0

    def box(self) -> PoseBox:
        return PoseBox.from_xywh(self.x, self.y, self.w, self.h)

    def __str__(self) -> str:
        return f"{self.x:g},{self.y:g},{self.w:g},{self.h:g}@{self.frame}"


def parse_box(text: str) -> SeedBox:
    """``"x,y,w,h@frame"`` (``@frame`` optional, default 0) -> ``SeedBox``; ValueError with a clear message."""
    match = re.fullmatch(r"\s*([^,@]+),([^,@]+),([^,@]+),([^,@]+)(?:@\s*(\d+))?\s*", text)
    try:
        if not match:
            raise ValueError
        x, y, w, h = (float(v) for v in match.groups()[:4])
    except ValueError:
        raise ValueError(f"expected a box as x,y,w,h@frame (pixels, e.g. 410,120,200,380@0), not {text!r}") from None
    if not (w > 0 and h > 0 and all(np.isfinite((x, y, w, h)))):
        raise ValueError(f"the box {text!r} needs a positive width and height")
    return SeedBox(x, y, w, h, int(match.group(5) or 0))


@dataclass(frozen=True)
class FramePose:
    """One frame's result: keypoints (K, 3) x, y, score in frame pixels (NaN where missing), the region it came
    from (None if nobody was found) and whether a person was found (mean score >= ``person_threshold``)."""

    keypoints: np.ndarray
    region: Region | None
    found: bool

    @property
    def quality(self) -> float:
        return float(self.keypoints[:, 2].mean())


@dataclass(frozen=True)
class TrackProgress:
    """Yielded after each frame: the frame just finished and how many of ``total`` frames are done."""

    frame_index: int
    done: int
    total: int


@dataclass
class TrackResult:
    """Per-frame results of a whole video: keypoints (T, K, 3) float32 (``PoseSequence`` convention), regions
    (T, 4) float32 cx, cy, side, angle of the crop used (NaN without a person), found (T,) bool, network crops run."""

    keypoints: np.ndarray
    regions: np.ndarray
    found: np.ndarray
    crops: int = 0

    @property
    def found_fraction(self) -> float:
        return float(self.found.mean()) if len(self.found) else 0.0


class FrameReader(Protocol):
    """What the estimator needs from a video (``VideoSource`` has it): the decoded frame count and sequential
    reading of frames ``start .. stop - 1`` as objects with ``index`` and ``image`` (H, W, 3) uint8 RGB."""

    num_frames: int

    def frames(self, start: int = 0, stop: int | None = None) -> Iterator[Any]: ...


def is_cancelled(cancel: Cancel) -> bool:
    if cancel is None:
        return False
    return cancel.is_set() if isinstance(cancel, threading.Event) else bool(cancel())
