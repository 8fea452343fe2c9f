"""Telling the athlete from somebody else who comes into the tracked crop.

The network finds one person per crop. When a second person enters the athlete's crop (a passer-by walking under a
flip), it may put some joints on them, or all of them, and the crop, which follows the joints, slides over to the
other person. ``athlete_in`` decides, for the pose found in the tracked crop, against where the athlete's joints
were last seen (``TrackState.speeds``) and how far the athlete can move in a frame (``TrackState.step``):

* **Same person?** (``is_same_person``) A pose whose joints moved (median over the joints seen in both) farther
  than the athlete can has jumped to somebody else.
* **Joints on somebody else** (``far_joints``): the joints that moved farther than that, one by one. Two or more in
  a pose whose median is fine make a pose mixed from two people (hips and legs on the passer-by, head and arms on
  the athlete). One alone is left as it is: single stray joints are common on clips with one person (35 of 209
  frames of the grass handstand), and with them dropped too the grass handstand's smoothed jitter was 0.025 torso
  lengths a frame against 0.012 (one run each).

Either way (somebody else, or two or more joints astray) the crop is looked at again with the far joints hidden
(``hide_box``: the box around them widened by half a body scale, filled by ``hide_in_crop`` with a blur of the crop
itself, which looks like the out-of-focus background the network was trained with). The second look wins when it
is the athlete (at least four joints comparable with where he was) with fewer joints astray. Joints still astray
are dropped (score 0) and the pose's box is taken without them, so the crop does not follow them; their remembered
place moves along with the rest of the body for a few frames (``TrackState.remember``), so they are not let back
onto the other person a frame later.

* **Nobody there** (``is_background``): when the athlete leaves the picture, the network still finds its best guess
  in the empty crop, a pose spread over the background. Such a pose is much bigger than the athlete and much less
  sure: its body scale is more than ``GROWTH_LIMIT`` x the athlete's (``TrackState.last_scale``) while its mean
  score is below ``QUALITY_DROP`` x the athlete's usual one (``TrackState.usual_quality``). On the outdoor run
  (the runner leaves at about frame 31) the frames after are 1.7-2.1x the size at 0.41-0.63x the score. Real
  athletes come close: mid-flip on the platform clip one pose was 2.16x at 0.66x (int8, 288 px), and with a
  limit of 0.7x that frame was refused and the track lost (``benchmarks/platform_identity.py``); at 0.6x it is
  kept, and on the outdoor run only frames 33-34, with the runner half out of the picture, still get a pose.

On the platform clip the second look kept the athlete through the passer-by in 8 of 9
perturbed runs, against 3 of 9 with the same-person check alone (``benchmarks/platform_identity.py``).

Conventions: keypoints ``xy`` (K, 2) in frame pixels (NaN = missing), ``speeds`` (K,) frame pixels per frame (NaN =
not comparable), boxes (x0, y0, x1, y1) in frame pixels, crops (S, S, 3) uint8 with their 2 x 3 affine from frame to
crop pixels (``Region.matrix``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import cv2
import numpy as np

from gymnast_pose.inference import Region
from gymnast_pose.person_locator import Candidate, candidates_from
from gymnast_pose.tracking import PoseBox, TrackState, body_scale, pose_box

GROWTH_LIMIT = 1.6  # a pose this many times the athlete's body scale...
QUALITY_DROP = 0.6  # ...with a mean score below this fraction of the athlete's usual one is the empty background
_MIN_HISTORY = 5  # accepted poses needed before the athlete's usual size and score are trusted

Box = tuple[float, float, float, float]
HidingInfer = Callable[[Sequence[tuple[np.ndarray, Region]], Sequence[list[Box]]], tuple[np.ndarray, np.ndarray]]


def far_joints(speeds: np.ndarray, step: float) -> np.ndarray:
    """(K,) bool: the joints that moved more than ``step`` frame pixels per frame (NaN speeds never do)."""
    with np.errstate(invalid="ignore"):
        return np.nan_to_num(speeds, nan=0.0) > step


def is_same_person(speeds: np.ndarray, step: float, min_common: int = 4, unknown: bool = True) -> bool:
    """Whether the median joint speed (over the joints comparable with the last pose, at least ``min_common`` of
    them; fewer: cannot tell, and the answer is ``unknown``) stays within ``step``."""
    common = np.isfinite(speeds)
    if common.sum() < min_common:
        return unknown
    return bool(float(np.median(speeds[common])) <= step)


def hide_box(xy: np.ndarray, far: np.ndarray, margin: float, athlete: PoseBox | None) -> Box | None:
    """The box to hide: around the joints ``far`` (K,) bool of ``xy`` (K, 2), widened by ``margin`` pixels on every
    side. None when no joint is far or when the box would cover the middle of ``athlete`` (where the athlete was
    last seen): hiding that would hide the athlete."""
    pts = xy[far & np.isfinite(xy).all(axis=1)]
    if not len(pts):
        return None
    (x0, y0), (x1, y1) = pts.min(axis=0) - margin, pts.max(axis=0) + margin
    if athlete is not None and x0 <= athlete.cx <= x1 and y0 <= athlete.cy <= y1:
        return None
    return float(x0), float(y0), float(x1), float(y1)


def hide_in_crop(crop: np.ndarray, matrix: np.ndarray, boxes: list[Box]) -> np.ndarray:
    """A copy of ``crop`` (S, S, 3) uint8 in which each frame-pixel box (seen through ``matrix`` (2, 3), so turned
    with the crop) is filled with a strong blur of the crop (a box filter of a quarter of its side)."""
    mask = np.zeros(crop.shape[:2], np.uint8)
    for x0, y0, x1, y1 in boxes:
        corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)
        in_crop = corners @ matrix[:, :2].T + matrix[:, 2]
        cv2.fillConvexPoly(mask, np.rint(in_crop).astype(np.int32), 1)
    hidden = mask.astype(bool)
    if not hidden.any():
        return crop
    kernel = max(3, crop.shape[0] // 4)
    out = crop.copy()
    out[hidden] = cv2.blur(crop, (kernel, kernel), borderType=cv2.BORDER_REFLECT)[hidden]
    return out


def is_background(c: Candidate, state: TrackState, joint_threshold: float, any_size: bool = False) -> bool:
    """Whether ``c`` is the network's guess on an empty background rather than the athlete (see the module
    docstring): far bigger and far less sure than the athlete's last accepted poses; with ``any_size``, far less
    sure alone (for a whole-frame search after the track was lost: whoever restarts it must be as clear as the
    athlete was). False until the track has ``_MIN_HISTORY`` of them."""
    if len(state.qualities) < _MIN_HISTORY or state.last_scale <= 0:
        return False
    if any_size:
        return c.quality < QUALITY_DROP * state.usual_quality
    confident = np.isfinite(c.xy).all(axis=1) & (c.scores >= joint_threshold)
    scale = body_scale(np.where(confident[:, None], c.xy, np.nan))
    return bool(np.isfinite(scale) and scale > GROWTH_LIMIT * state.last_scale
                and c.quality < QUALITY_DROP * state.usual_quality)


def athlete_in(c: Candidate, image: np.ndarray, state: TrackState, index: int, step: float, infer: HidingInfer,
               joint_threshold: float, person_threshold: float) -> tuple[Candidate | None, np.ndarray]:
    """The athlete's pose in ``c``'s crop of ``image`` (frame ``index``) or None (nobody there is the athlete, or
    nobody at all: ``is_background``), and
    the joints dropped as astray ((K,) bool; for ``TrackState.remember``).

    ``c`` itself when it is the athlete with at most one joint astray; otherwise the second look described in the
    module docstring, through ``infer(jobs, hidden)`` (the estimator's network call with boxes to hide). ``step``:
    how far the athlete can move in one frame, frame pixels (``TrackState.step``)."""
    def judge(pose: Candidate, unknown: bool = True) -> tuple[bool, np.ndarray]:
        speeds = state.speeds(pose.xy, pose.scores, joint_threshold, index)
        return is_same_person(speeds, step, unknown=unknown), far_joints(speeds, step)

    if is_background(c, state, joint_threshold):
        return None, np.zeros(len(c.xy), bool)
    same, far = judge(c)
    if same and far.sum() < 2:
        return c, np.zeros_like(far)
    box = hide_box(c.xy, far, 0.5 * state.last_scale, state.last_box)
    if box is not None:
        xy, scores = infer([(image, c.region)], [[box]])
        again = candidates_from(xy, scores, [c.region], joint_threshold)[0]
        if again.quality >= person_threshold and again.box is not None:
            same_again, far_again = judge(again, unknown=False)  # a second look must show it is the athlete
            if same_again and far_again.sum() < far.sum():
                if is_background(again, state, joint_threshold):  # c itself was judged at the top
                    return None, far_again
                c, same, far = again, True, far_again
    if not same:
        return None, far
    if far.any():
        scores = np.where(far, 0.0, c.scores).astype(np.float32)
        c = replace(c, scores=scores, box=pose_box(c.xy, scores, joint_threshold) or c.box)
    return c, far
