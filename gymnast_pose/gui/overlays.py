"""What each video view draws at a given frame, taken from the core's results (no Qt, no numbers of our own).

* ``stickman_at(slot, frame)``: the (K, 3) keypoints of that video's own ``PoseSequence``.
* ``ghost_at(comparison, coach_frame, student_frame)``: the coach's pose at ``coach_frame`` normalised onto the
  student's body at ``student_frame`` (``Comparison.student.to_pixels``: the student's mid-hip and torso length, and
  the student's mirror), with the per-joint deviation of the aligned pair (``Comparison.joint_distance``), reordered
  like the drawn joints when the student is mirrored.
"""

from __future__ import annotations

import numpy as np

from gymnast_pose.skeleton import FLIP_PERMUTATION


def pair_index(comparison, coach_frame: int, student_frame: int | None = None) -> int | None:
    """Index of the aligned pair for ``coach_frame`` (the one nearest ``student_frame`` if several), or None."""
    frames = comparison.coach_frames
    lo = int(np.searchsorted(frames, coach_frame, side="left"))
    hi = int(np.searchsorted(frames, coach_frame, side="right"))
    if lo == hi:
        return None
    if student_frame is None or hi - lo == 1:
        return lo
    return lo + int(np.argmin(np.abs(comparison.student_frames[lo:hi] - student_frame)))


def ghost_at(comparison, coach_frame: int, student_frame: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(xy (K, 2) student video pixels, deviation (K,) torso lengths) of the coach's ghost, or None."""
    coach, student = comparison.coach, comparison.student
    row = coach_frame - coach.first_frame
    student_row = student_frame - student.first_frame
    if not (0 <= row < len(coach.xy) and 0 <= student_row < len(student.centre_px)):
        return None
    if not np.isfinite(student.centre_px[student_row]).all():
        return None
    xy = student.to_pixels(coach.xy[row], student_frame)
    p = pair_index(comparison, coach_frame, student_frame)
    deviation = np.full(len(xy), np.nan) if p is None else np.asarray(comparison.joint_distance[p], np.float64)
    if student.mirrored:
        deviation = deviation[list(FLIP_PERMUTATION)]
    return xy, deviation
