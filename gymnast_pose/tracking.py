"""Geometry of the tracked crop: the athlete's box from keypoints, the square region around it, and its smoothing.

Conventions
-----------
* Keypoints ``xy`` (K, 2) float in frame pixels (origin top-left, x right, y down), ``scores`` (K,) in [0, 1],
  LSP-14 order (``gymnast_pose.skeleton``).
* A ``Region`` (``gymnast_pose.inference``) is a square of the frame: centre (cx, cy), side, and ``angle`` in
  degrees, the counter-clockwise rotation applied to the picture before cropping. The tracker only uses 0 (upright)
  and 180 (an upside-down athlete turned upright); a square turned by 180 degrees covers the same pixels, so the
  angle never changes which part of the frame is seen.
* The *extent* of a pose is the larger side of the axis-aligned box around its confident joints. The crop side is
  ``crop_scale`` x extent (1.6 to 2 puts a person at the 50 to 60 % of the network input that it was trained on).

Everything here is plain numpy: no network, no video.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from gymnast_pose.inference import Region
from gymnast_pose.skeleton import JOINT_INDEX, K

_HIPS = (JOINT_INDEX["r_hip"], JOINT_INDEX["l_hip"])
_DIAGONALS = ((JOINT_INDEX["l_shoulder"], JOINT_INDEX["r_hip"]), (JOINT_INDEX["r_shoulder"], JOINT_INDEX["l_hip"]))
_SCALE_FRAMES = 15  # accepted poses over which the athlete's body scale is the median
HOLD_ASTRAY_FRAMES = 4  # frames a joint dropped as astray is held to one frame's reach (TrackState.remember)
_UPPER = (JOINT_INDEX["r_shoulder"], JOINT_INDEX["l_shoulder"], JOINT_INDEX["neck"], JOINT_INDEX["head_top"])


@dataclass(frozen=True)
class PoseBox:
    """Axis-aligned box around a pose's confident joints, in frame pixels: centre, width, height, joint count."""

    cx: float
    cy: float
    width: float
    height: float
    joints: int

    @property
    def extent(self) -> float:
        return max(self.width, self.height)

    @classmethod
    def from_xywh(cls, x: float, y: float, w: float, h: float) -> PoseBox:
        """A box given by its top-left corner and size (a user's box), counted as fully confident."""
        return cls(x + w / 2, y + h / 2, float(w), float(h), K)


def pose_box(xy: np.ndarray, scores: np.ndarray, min_score: float, min_joints: int = 4) -> PoseBox | None:
    """Box around the joints scored at least ``min_score``; None if fewer than ``min_joints`` qualify.

    A joint far from the others (more than 3 times the median distance to the joints' median point, i.e. a stray
    detection elsewhere in the crop) is left out, so one wrong joint cannot blow the box up.
    """
    ok = np.isfinite(xy).all(axis=1) & (scores >= min_score)
    if ok.sum() < min_joints:
        return None
    pts = xy[ok].astype(np.float64)
    centre = np.median(pts, axis=0)
    dist = np.linalg.norm(pts - centre, axis=1)
    keep = dist <= max(3.0 * float(np.median(dist)), 1.0)
    if keep.sum() >= min_joints:
        pts = pts[keep]
    (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
    return PoseBox((x0 + x1) / 2, (y0 + y1) / 2, float(x1 - x0), float(y1 - y0), int(len(pts)))


def body_scale(xy: np.ndarray) -> float:
    """The athlete's size in frame pixels from keypoints (K, 2) (NaN = missing): the shorter torso diagonal
    (shoulder to the opposite hip; the two are about equal in any real pose, and bending, tucking or turning upside
    down hardly changes them, while one joint placed on somebody else lengthens one); else a third of the joints'
    box extent; NaN with fewer than 2 joints."""
    diagonals = [np.linalg.norm(xy[a] - xy[b]) for a, b in _DIAGONALS]
    finite = [d for d in diagonals if np.isfinite(d) and d > 0]
    if finite:
        return float(min(finite))
    pts = xy[np.isfinite(xy).all(axis=1)]
    if len(pts) < 2:
        return float("nan")
    return float((pts.max(axis=0) - pts.min(axis=0)).max() / 3.0)


def region_around(box: PoseBox, crop_scale: float, min_side: float, angle: float = 0.0,
                  max_side: float = math.inf) -> Region:
    """The square crop centred on ``box`` with side ``crop_scale`` x its extent, clipped to [min_side, max_side]."""
    side = min(max(crop_scale * box.extent, min_side), max_side)
    return Region(float(box.cx), float(box.cy), float(side), float(angle) % 360)


def turned(region: Region) -> Region:
    """The same square with the picture turned by a further 180 degrees."""
    return Region(region.cx, region.cy, region.side, (region.angle + 180.0) % 360)


def is_upside_down(region: Region) -> bool:
    """True when ``region``'s picture is turned by more than 90 degrees either way (an inverted athlete's crop)."""
    return 90.0 < float(region.angle) % 360 < 270.0


def is_well_framed(region: Region, box: PoseBox | None, crop_scale: float, tolerance: float = 0.35) -> bool:
    """True when ``box`` sits near the middle of ``region`` at about the intended size.

    The size may differ from ``crop_scale`` x extent by the factor (1 + tolerance) either way; the centre may be
    off by at most half of ``tolerance`` x side.
    """
    if box is None:
        return False
    wanted = crop_scale * box.extent
    if not (region.side / (1 + tolerance) <= wanted <= region.side * (1 + tolerance)):
        return False
    offset = max(abs(box.cx - region.cx), abs(box.cy - region.cy))
    return offset <= 0.5 * tolerance * region.side


def upright_angle(xy: np.ndarray, scores: np.ndarray, current: float, min_score: float) -> float:
    """0 or 180: which way up to crop the next frame, from the direction hips -> shoulders/head in frame pixels.

    Clearly head-down (the body axis within 60 degrees of straight down) gives 180, clearly head-up gives 0;
    sideways (cartwheels, lying) or unknown keeps ``current``.
    """
    hips = [j for j in _HIPS if scores[j] >= min_score and np.isfinite(xy[j]).all()]
    upper = [j for j in _UPPER if scores[j] >= min_score and np.isfinite(xy[j]).all()]
    if not hips or not upper:
        return current
    axis = xy[upper].mean(axis=0) - xy[hips].mean(axis=0)
    length = float(np.hypot(*axis))
    if length < 1e-6:
        return current
    down = axis[1] / length  # +1: head straight below the hips (y grows downwards)
    if down > 0.5:
        return 180.0
    if down < -0.5:
        return 0.0
    return current


@dataclass
class TrackState:
    """The smoothed crop that follows the athlete from frame to frame.

    ``update`` moves the centre by ``centre_alpha`` of the way to the new box (a light exponential smoothing), grows
    the side quickly (``grow_alpha``) so limbs are not cut off, and shrinks it slowly (``shrink_alpha``) so one
    frame with a few missed joints does not collapse the crop. ``misses`` counts consecutive frames without a
    confident pose; ``active`` is False while there is no track (before the first detection, or after losing it).
    ``last_xy`` (K, 2) holds each joint where it was last accepted (NaN: never) and ``seen_at`` (K,) on which
    frame (-1: never); ``last_scale`` is the athlete's ``body_scale`` (the median over the last 15 accepted poses,
    ``scales``, so one pose with a stray joint cannot inflate it) and ``last_index`` the frame of the last
    accepted pose; with ``fps``, the video's frame rate, they say how far the athlete can have moved since
    (``reach``, ``speeds``).
    """

    cx: float = 0.0
    cy: float = 0.0
    side: float = 0.0
    angle: float = 0.0
    active: bool = False
    misses: int = 0
    since_search: int = 0
    last_box: PoseBox | None = None
    last_xy: np.ndarray | None = None
    seen_at: np.ndarray | None = None
    last_scale: float = 0.0
    last_index: int = -1
    fps: float = 30.0
    scales: list[float] = field(default_factory=list)
    astray_for: np.ndarray | None = None  # (K,) consecutive frames each joint has been dropped as astray
    qualities: list[float] = field(default_factory=list)  # mean joint scores of the last accepted poses

    @property
    def usual_quality(self) -> float:
        """The athlete's usual mean joint score: the median over the last 15 accepted poses (0 before the first)."""
        return float(np.median(self.qualities)) if self.qualities else 0.0

    def step(self, per_frame: float, per_second: float) -> float:
        """How far (frame pixels) the athlete can move in one frame: ``max(per_frame, per_second / fps)`` body
        scales; infinite before the first pose."""
        if self.last_scale <= 0:
            return math.inf
        return max(per_frame, per_second / max(self.fps, 1.0)) * self.last_scale

    def reach(self, index: int, per_frame: float, per_second: float) -> float:
        """How far (frame pixels) the athlete can be on frame ``index`` from the last accepted pose."""
        if self.last_index < 0:
            return math.inf
        return max(1, abs(index - self.last_index)) * self.step(per_frame, per_second)

    def speeds(self, xy: np.ndarray, scores: np.ndarray, min_score: float, index: int) -> np.ndarray:
        """(K,) distance in frame pixels per frame elapsed from each joint's last accepted place to ``xy`` (K, 2);
        NaN for joints not confident now (``scores`` (K,) below ``min_score``) or never seen."""
        out = np.full(len(xy), np.nan, np.float32)
        if self.last_xy is None or self.seen_at is None:
            return out
        ok = (self.seen_at >= 0) & np.isfinite(xy).all(axis=1) & (scores >= min_score)
        elapsed = np.maximum(1, np.abs(index - self.seen_at[ok]))
        out[ok] = np.linalg.norm(xy[ok] - self.last_xy[ok], axis=1) / elapsed
        return out

    def remember(self, xy: np.ndarray, scores: np.ndarray, min_score: float, index: int,
                 astray: np.ndarray | None = None) -> None:
        """Record the accepted pose of frame ``index``: keypoints (K, 2), scores (K,); joints below ``min_score``
        keep their earlier place. ``astray`` (K,) bool: joints dropped as lying on somebody else; their place moves
        with the median shift of the joints recorded now and counts as seen now, so that next frame they are held
        to one frame's reach instead of two -- for at most ``HOLD_ASTRAY_FRAMES`` frames in a row, after which
        their reach grows again with every frame (a limb the network keeps losing must be let back)."""
        if self.last_xy is None or self.seen_at is None:
            self.last_xy = np.full((len(xy), 2), np.nan, np.float32)
            self.seen_at = np.full(len(xy), -1, np.int64)
        if self.astray_for is None:
            self.astray_for = np.zeros(len(xy), np.int64)
        ok = np.isfinite(xy).all(axis=1) & (scores >= min_score)
        if astray is not None:
            carried = astray & ~ok & (self.seen_at >= 0) & (self.astray_for < HOLD_ASTRAY_FRAMES)
            both = ok & (self.seen_at >= 0)
            if carried.any() and both.any():
                self.last_xy[carried] += np.median(xy[both] - self.last_xy[both], axis=0)
                self.seen_at[carried] = index
            self.astray_for[astray & ~ok] += 1
        self.astray_for[ok] = 0
        self.last_xy[ok], self.seen_at[ok] = xy[ok], index
        scale = body_scale(np.where(ok[:, None], xy, np.nan))
        if np.isfinite(scale):
            self.scales = (self.scales + [scale])[-_SCALE_FRAMES:]
            self.last_scale = float(np.median(self.scales))
        self.qualities = (self.qualities + [float(np.mean(scores))])[-_SCALE_FRAMES:]
        self.last_index = index

    def region(self) -> Region:
        return Region(self.cx, self.cy, self.side, self.angle)

    def start(self, region: Region, box: PoseBox | None) -> None:
        """Begin a track at ``region`` (a found person or the user's box)."""
        self.cx, self.cy, self.side, self.angle = region.cx, region.cy, region.side, region.angle
        self.active, self.misses, self.since_search = True, 0, 0
        self.last_box = box

    def update(self, target: Region, box: PoseBox, centre_alpha: float = 0.7, grow_alpha: float = 0.6,
               shrink_alpha: float = 0.2, hold: float = 0.0) -> None:
        """Move towards ``target`` (the region a perfect crop of this frame would have).

        ``hold``: while the target's centre is within ``hold`` x side of the crop's and its side within
        2 x ``hold`` x side, and the angle is the same, the crop stays exactly where it is. A still athlete is then
        seen through the very same crop from batch to batch; moved by a few pixels, the crop shifts the stride-4
        output grid under the body and the joints with it (the largest part of the skeleton's jitter when still).
        """
        still = (hold > 0 and target.angle == self.angle
                 and np.hypot(target.cx - self.cx, target.cy - self.cy) < hold * self.side
                 and abs(target.side - self.side) < 2 * hold * self.side)
        if not still:
            self.cx += centre_alpha * (target.cx - self.cx)
            self.cy += centre_alpha * (target.cy - self.cy)
            alpha = grow_alpha if target.side > self.side else shrink_alpha
            self.side += alpha * (target.side - self.side)
        self.angle = target.angle
        self.misses, self.last_box, self.active = 0, box, True

    def copy(self) -> TrackState:
        return replace(self, last_xy=None if self.last_xy is None else self.last_xy.copy(),
                       seen_at=None if self.seen_at is None else self.seen_at.copy(), scales=list(self.scales),
                       qualities=list(self.qualities),
                       astray_for=None if self.astray_for is None else self.astray_for.copy())


def is_blank(image: np.ndarray, min_contrast: float = 16.0) -> bool:
    """Whether ``image`` (H, W, 3) uint8 is too uniform to show anybody: on a grid of about 4,000 of its pixels the
    brightness range between the 1st and 99th percentile is below ``min_contrast`` grey levels (a black frame of a
    fade-out, with or without a line of title text, is; the darkest gym footage is far above). Without it the
    network finds "joints" in the text of a fading title card."""
    step = max(1, int(np.sqrt(image.shape[0] * image.shape[1] / 4000)))
    sample = image[::step, ::step].mean(axis=-1)
    low, high = np.percentile(sample, (1, 99))
    return bool(high - low < min_contrast)
