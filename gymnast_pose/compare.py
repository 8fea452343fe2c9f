"""Compare a student's performance with the coach's: normalisation, distances, alignment, one ``Comparison``.

Symbols: T frames, K joints (``skeleton.K``), A angles (``angles.A``), P aligned frame pairs.

Normalisation (``normalise_poses``), per sequence:
  1. origin at the mid-hip (mean of both hips) in every frame; short gaps (<= ``MAX_CENTRE_GAP_S``) where a hip is
     missing are bridged by linear interpolation, longer ones leave the frame out;
  2. unit = one *torso length*: the median over the sequence of the mid-hip to mid-shoulder distance (one number
     per sequence, so the scale never jitters; mid-points rather than the LSP l_shoulder-r_hip diagonal keep the
     unit the same for mirrored and turning athletes);
  3. optional removal of camera roll (off by default): one constant angle per sequence, the length-weighted axial
     mean of the shoulder and hip lines, assumed horizontal on average. Real trunk lean is never rotated away. If
     those lines are too short (side view) or too spread out (turning skills) the roll is left at 0;
  4. optional views of the student only: *mirror*, x -> -x and left/right joints swapped, for a skill done on the
     other side; *opposite view*, x -> -x with the person's own left and right kept, for a camera on the other
     side of the athlete (the coach filmed from the front, the student from behind: the back of a body looks like
     the front's mirror image, with each arm still its own). Both together swap left and right without flipping.
Normalised coordinates keep the image orientation: x right, y down.

Distances: a joint is *compared* when its score is >= the confidence threshold in both poses and both positions
exist; otherwise it is *excluded* (NaN in ``joint_distance``) and counted. The per-joint distance is Euclidean, in
torso lengths. The pose distance of a frame pair is the mean of the compared joints' distances weighted by the
lower of the two scores; NaN when no joint is compared.

Score: ``100 * exp(-mean pose distance / score_scale)``, ``score_scale`` = 0.5 torso lengths by default: 100 for
identical poses, about 82 for a mean distance of 0.1 torso lengths, 37 for 0.5, 5 for 1.5.

Alignment (``alignment.align_rows``; times from the start of each range, the coach's video is the clock):
``"offset"``: student time = coach time + ``offset_s`` (``None``: estimated, see ``estimate_offset``); ``"dtw"``:
banded dynamic time warping of the normalised poses, the student resampled onto the coach's frame clock.
Angle conventions: ``gymnast_pose.angles``. The same conventions, with a picture: ``docs/angles.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from gymnast_pose.alignment import TimeMap, align_rows
from gymnast_pose.angles import (
    ANGLE_NAMES,
    angle_difference_deg,
    estimate_roll_deg,
    joint_angles_deg,
    rotate_on_screen,
)
from gymnast_pose.sequence import fill_gaps
from gymnast_pose.skeleton import FLIP_PERMUTATION, JOINT_INDEX, JOINT_NAMES, K

MAX_CENTRE_GAP_S = 0.5
MISSING_PAIR_COST = 1.0  # DTW cost (torso lengths) of a frame pair with no compared joint
_R_HIP, _L_HIP = JOINT_INDEX["r_hip"], JOINT_INDEX["l_hip"]
_R_SHOULDER, _L_SHOULDER = JOINT_INDEX["r_shoulder"], JOINT_INDEX["l_shoulder"]
FrameRange = tuple[int | None, int | None]


class CompareError(ValueError):
    """The two performances cannot be compared; the message says why in words a coach understands."""


@dataclass(frozen=True)
class CompareOptions:
    """Everything that decides a comparison, frozen before the work starts.

    align: "dtw" (dynamic time warping) or "offset" (constant time offset).
    offset_s: for "offset", student time minus coach time of the same moment, seconds; None = estimate it.
    band_s: DTW band radius (Sakoe-Chiba), seconds of the coach's clock: the largest tempo drift allowed.
    mirror: flip the student left/right (skill performed on the other side).
    opposite_view: the student was filmed from the other side (flip the picture, keep the person's left and right).
    coach_range, student_range: frames [start, stop) to compare, None or a None end = from the start / to the end.
    confidence_threshold: joints scored below this are excluded. remove_roll: remove constant camera roll.
    score_scale: torso lengths of mean distance that bring the score down to 100/e (about 37).
    max_offset_s: for estimating the offset, the largest offset tried (None = any with enough overlap).
    """

    align: str = "dtw"
    offset_s: float | None = 0.0
    band_s: float = 2.0
    mirror: bool = False
    opposite_view: bool = False
    coach_range: FrameRange | None = None
    student_range: FrameRange | None = None
    confidence_threshold: float = 0.3
    remove_roll: bool = False
    score_scale: float = 0.5
    max_offset_s: float | None = None

    def __post_init__(self) -> None:
        if self.align not in ("dtw", "offset"):
            raise CompareError(f"alignment must be 'dtw' or 'offset', not {self.align!r}")
        if self.offset_s is not None and not math.isfinite(self.offset_s):
            raise CompareError("the offset must be a finite number of seconds")
        if not self.band_s > 0:
            raise CompareError(f"the DTW band must be a positive number of seconds, not {self.band_s}")
        if not 0.0 <= self.confidence_threshold <= 1.0:
            raise CompareError(f"the confidence threshold must lie in [0, 1], not {self.confidence_threshold}")
        if not self.score_scale > 0:
            raise CompareError("score_scale must be positive")


@dataclass(frozen=True)
class NormalisedPoses:
    """One sequence (or its range) after normalisation; row t is video frame ``first_frame + t``.

    xy: (T, K, 2) float32 torso lengths from the mid-hip, x right, y down (after roll removal / mirror; NaN: no
    position). weight: (T, K) float32 the joint's score where compared, 0 where excluded. centre_px: (T, 2) mid-hip
    in video pixels (NaN where unknown). torso_px: torso length in pixels. roll_deg: removed camera roll,
    counter-clockwise on screen. mirrored: whether left/right were flipped. opposite_view: whether the picture was
    flipped for a camera on the other side (labels kept).
    """

    xy: np.ndarray
    weight: np.ndarray
    centre_px: np.ndarray
    torso_px: float
    roll_deg: float
    mirrored: bool
    first_frame: int = 0
    opposite_view: bool = False

    def to_pixels(self, xy: np.ndarray, frame: int) -> np.ndarray:
        """Normalised joints (..., K, 2) drawn into this sequence's video at ``frame`` (e.g. a ghost of the coach)."""
        xy = np.array(xy, dtype=np.float64)
        if self.mirrored:
            xy = xy[..., FLIP_PERMUTATION, :] * np.array([-1.0, 1.0])
        if self.opposite_view:
            xy = xy * np.array([-1.0, 1.0])
        xy = rotate_on_screen(xy, self.roll_deg)
        return xy * self.torso_px + self.centre_px[frame - self.first_frame]


def normalise_poses(
    keypoints: np.ndarray,
    fps: float,
    confidence_threshold: float = 0.3,
    remove_roll: bool = False,
    mirror: bool = False,
    first_frame: int = 0,
    opposite_view: bool = False,
) -> NormalisedPoses:
    """Normalise (T, K, 3) keypoints (x, y pixels, score) as described in the module docstring."""
    keypoints = np.asarray(keypoints, dtype=np.float64)
    xy, scores = keypoints[..., :2], keypoints[..., 2]
    usable = np.isfinite(xy).all(axis=-1) & (np.nan_to_num(scores, nan=-1.0) >= confidence_threshold)
    hips = usable[:, _R_HIP] & usable[:, _L_HIP]
    if not hips.any():
        raise CompareError("no frame has both hips detected confidently, so the pose cannot be centred")
    centre = np.where(hips[:, None], 0.5 * (xy[:, _R_HIP] + xy[:, _L_HIP]), np.nan)
    centre_track = np.concatenate([centre, np.ones((len(centre), 1))], axis=1)[:, None, :]  # as one joint
    centre = fill_gaps(centre_track, max(1, int(round(MAX_CENTRE_GAP_S * fps))))[0][:, 0, :2].astype(np.float64)
    torso_frames = hips & usable[:, _R_SHOULDER] & usable[:, _L_SHOULDER]
    mid_shoulder = 0.5 * (xy[torso_frames, _R_SHOULDER] + xy[torso_frames, _L_SHOULDER])
    torso_lengths = np.hypot(*(mid_shoulder - centre[torso_frames]).T)
    torso_px = float(np.median(torso_lengths)) if len(torso_lengths) else 0.0
    if not torso_px > 0:
        raise CompareError("no frame shows hips and shoulders confidently, so the torso length is unknown")
    rel = (xy - centre[:, None, :]) / torso_px
    usable &= np.isfinite(rel).all(axis=-1)
    roll = estimate_roll_deg(rel, usable) if remove_roll else 0.0
    rel = rotate_on_screen(rel, -roll)
    weight = np.where(usable, scores, 0.0)
    if opposite_view:
        rel = rel * np.array([-1.0, 1.0])
    if mirror:
        rel = rel[:, FLIP_PERMUTATION] * np.array([-1.0, 1.0])
        weight = weight[:, FLIP_PERMUTATION]
    rel = np.where((weight > 0)[..., None], rel, np.nan)
    return NormalisedPoses(
        rel.astype(np.float32), weight.astype(np.float32), centre, torso_px, roll, mirror, first_frame, opposite_view
    )


def joint_distances(
    xy_a: np.ndarray, weight_a: np.ndarray, xy_b: np.ndarray, weight_b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-joint distances (P, K) (NaN where excluded) and weighted pose distances (P,) of normalised pose pairs.

    Inputs are (P, K, 2) positions and (P, K) weights (0 = excluded) of both poses of each pair.
    """
    compared = (weight_a > 0) & (weight_b > 0)
    with np.errstate(invalid="ignore"):
        per_joint = np.where(compared, np.linalg.norm(xy_a.astype(np.float64) - xy_b, axis=-1), np.nan)
    pair_weight = np.where(compared, np.minimum(weight_a, weight_b), 0.0)
    total = pair_weight.sum(axis=-1)
    weighted = np.nansum(per_joint * pair_weight, axis=-1)
    pose = np.divide(weighted, total, out=np.full(total.shape, np.nan), where=total > 0)
    return per_joint, pose


def similarity_score(mean_distance: float, score_scale: float = 0.5) -> float:
    """Score in [0, 100] of a mean pose distance (torso lengths): ``100 * exp(-distance / score_scale)``."""
    return float(100.0 * math.exp(-mean_distance / score_scale)) if math.isfinite(mean_distance) else math.nan


@dataclass(frozen=True)
class DeviationSummary:
    """How one joint (distance, torso lengths) or one angle (absolute difference, degrees) deviates over the pairs.

    ``mean`` and ``max`` are over the pairs where it was compared (NaN if never); ``pair_of_max`` indexes the
    pairs (-1 if never compared); ``excluded_pairs`` counts pairs where it was left out.
    """

    name: str
    unit: str
    mean: float
    max: float
    pair_of_max: int
    coach_frame_at_max: int
    coach_time_at_max_s: float
    student_frame_at_max: int
    student_time_at_max_s: float
    excluded_pairs: int
    compared_pairs: int


@dataclass
class Comparison:
    """The result of ``compare_sequences``; arrays are indexed by aligned pair p = 0 .. P-1 in time order.

    coach_frames, student_frames: (P,) int64 video frame indices (repeats occur where one side holds still).
    coach_times_s, student_times_s: (P,) float64 video times, frame / fps.
    pose_distance: (P,) torso lengths (NaN: nothing compared). joint_distance: (P, K) torso lengths, NaN where
    excluded. excluded_joints: (P,) int64 number of joints excluded in each pair.
    coach_angles_deg, student_angles_deg, angle_diff_deg: (P, A) degrees (conventions in ``gymnast_pose.angles``;
    the difference is student - coach, the short way round).
    mean_distance, score: overall mean pose distance and its 0-100 score. joints: K summaries (``JOINT_NAMES``
    order); angles: A summaries (``ANGLE_NAMES`` order) of the absolute angle difference.
    offset_s: the offset used ("offset") or the median student-minus-coach time ("dtw"), measured from the starts
    of the ranges. tempo_ratio: student seconds per coach second over the pairs (> 1: the student is slower).
    coach_frame_limits, student_frame_limits: [first, stop) video frames of each whole pose sequence.
    coach, student: the normalised ranges (for a ghost: ``student.to_pixels(coach.xy[row], student_frame)``).
    """

    coach_frames: np.ndarray
    student_frames: np.ndarray
    coach_times_s: np.ndarray
    student_times_s: np.ndarray
    pose_distance: np.ndarray
    joint_distance: np.ndarray
    excluded_joints: np.ndarray
    coach_angles_deg: np.ndarray
    student_angles_deg: np.ndarray
    angle_diff_deg: np.ndarray
    mean_distance: float
    score: float
    joints: list[DeviationSummary]
    angles: list[DeviationSummary]
    offset_s: float
    tempo_ratio: float
    coach_fps: float
    student_fps: float
    coach_frame_limits: tuple[int, int]
    student_frame_limits: tuple[int, int]
    options: CompareOptions
    coach: NormalisedPoses = field(repr=False)
    student: NormalisedPoses = field(repr=False)
    joint_names: tuple[str, ...] = JOINT_NAMES
    angle_names: tuple[str, ...] = ANGLE_NAMES

    def __post_init__(self) -> None:
        self._to_student = TimeMap.from_pairs(self.coach_times_s, self.student_times_s)
        self._to_coach = TimeMap.from_pairs(self.student_times_s, self.coach_times_s)

    @property
    def num_pairs(self) -> int:
        return len(self.coach_frames)

    def worst_joints(self, count: int = 3) -> list[DeviationSummary]:
        """The ``count`` joints with the largest mean distance (joints never compared come last)."""
        return sorted(self.joints, key=lambda s: -s.mean if math.isfinite(s.mean) else math.inf)[:count]

    def student_frame_for(self, coach_frame):
        """Student video frame(s) to show with coach frame(s) ``coach_frame`` (int or array), through the alignment.

        Inside the aligned span the pairs are interpolated; outside it the nearest end's time offset is kept.
        """
        return self._to_student.map_frames(coach_frame, self.coach_fps, self.student_fps, *self.student_frame_limits)

    def coach_frame_for(self, student_frame):
        """Coach video frame(s) to show with student frame(s) ``student_frame``: the inverse of the above."""
        return self._to_coach.map_frames(student_frame, self.student_fps, self.coach_fps, *self.coach_frame_limits)


def _checked(sequence, role: str) -> tuple[np.ndarray, float, int]:
    keypoints = np.asarray(getattr(sequence, "keypoints", None), dtype=np.float64)
    fps = float(getattr(sequence, "fps", 0.0) or 0.0)
    if keypoints.ndim != 3 or keypoints.shape[1:] != (K, 3) or len(keypoints) == 0:
        raise CompareError(f"the {role}'s poses should have shape (frames, {K}, 3), got {keypoints.shape}")
    if not (math.isfinite(fps) and fps > 0):
        raise CompareError(f"the {role}'s poses have no valid frame rate ({fps})")
    return keypoints, fps, int(getattr(sequence, "start_frame", 0))


def _rows(frame_range: FrameRange | None, first_frame: int, num_frames: int, role: str) -> tuple[int, int]:
    """Video frame range [start, stop) -> rows [start, stop) of the pose array that begins at ``first_frame``."""
    start, stop = frame_range if frame_range is not None else (None, None)
    start = first_frame if start is None else int(start)
    stop = first_frame + num_frames if stop is None else int(stop)
    if not first_frame <= start < stop <= first_frame + num_frames:
        raise CompareError(
            f"the {role}'s range {start}:{stop} is empty or outside its frames {first_frame}:{first_frame + num_frames}"
        )
    return start - first_frame, stop - first_frame


def _summary(
    name: str, unit: str, values: np.ndarray, coach_frames, coach_times, student_frames, student_times
) -> DeviationSummary:
    compared = np.isfinite(values)
    if not compared.any():
        return DeviationSummary(name, unit, math.nan, math.nan, -1, -1, math.nan, -1, math.nan, len(values), 0)
    p = int(np.nanargmax(values))
    return DeviationSummary(
        name, unit, float(np.nanmean(values)), float(values[p]), p, int(coach_frames[p]), float(coach_times[p]),
        int(student_frames[p]), float(student_times[p]), int((~compared).sum()), int(compared.sum()),
    )  # fmt: skip


@dataclass(frozen=True)
class _Prepared:
    coach: NormalisedPoses
    student: NormalisedPoses
    coach_fps: float
    student_fps: float
    coach_limits: tuple[int, int]
    student_limits: tuple[int, int]


def _prepare(coach, student, options: CompareOptions) -> _Prepared:
    prepared = {}
    for role, sequence, frame_range in (
        ("coach", coach, options.coach_range),
        ("student", student, options.student_range),
    ):
        keypoints, fps, first = _checked(sequence, role)
        r0, r1 = _rows(frame_range, first, len(keypoints), role)
        try:
            poses = normalise_poses(
                keypoints[r0:r1], fps, options.confidence_threshold, options.remove_roll,
                mirror=options.mirror and role == "student", first_frame=first + r0,
                opposite_view=options.opposite_view and role == "student",
            )  # fmt: skip
        except CompareError as exc:
            raise CompareError(f"{role}: {exc}") from None
        prepared[role] = (poses, fps, (first, first + len(keypoints)))
    (coach_poses, coach_fps, coach_limits), (student_poses, student_fps, student_limits) = prepared.values()
    return _Prepared(coach_poses, student_poses, coach_fps, student_fps, coach_limits, student_limits)


def estimate_offset(coach, student, options: CompareOptions | None = None) -> tuple[float, float]:
    """Best constant offset (seconds, student minus coach time, from the range starts) and the score it gives.

    Use it for synchronised cameras (expect about 0) or to seed a manual offset. It minimises the weighted mean
    squared joint distance over shifts of whole coach frames that keep at least half the shorter range overlapping
    (and at most ``options.max_offset_s``). The same as ``compare_sequences`` with ``align="offset"`` and
    ``offset_s=None``, whose ``Comparison`` carries ``offset_s`` and ``score`` too.

    Views matter: two cameras on different sides of the athlete see different 2-D shapes at the same moment, and
    the shift that makes the shapes most alike can be far from the true one (front vs back cameras of one movement,
    1.7 s long: +0.83 s, the largest shift allowed). There the median offset of the DTW alignment
    (``compare_sequences`` with ``align="dtw"``, the app's automatic alignment) is the better estimate (+0.03 s).
    """
    comparison = compare_sequences(coach, student, replace(options or CompareOptions(), align="offset", offset_s=None))
    return comparison.offset_s, comparison.score


def compare_sequences(coach, student, options: CompareOptions | None = None) -> Comparison:
    """Align and compare two ``PoseSequence``s (``keypoints`` (T, K, 3), ``fps``, ``start_frame``).

    Raises ``CompareError`` with a plain-language message when they cannot be compared.
    """
    options = options or CompareOptions()
    p = _prepare(coach, student, options)
    try:
        coach_rows, student_rows, offset_s = align_rows(
            p.coach.xy, p.coach.weight, p.coach_fps, p.student.xy, p.student.weight, p.student_fps,
            method=options.align, offset_s=options.offset_s, band_s=options.band_s,
            max_offset_s=options.max_offset_s, missing_cost=MISSING_PAIR_COST,
        )  # fmt: skip
    except ValueError as exc:
        raise CompareError(str(exc)) from None
    per_joint, pose = joint_distances(
        p.coach.xy[coach_rows], p.coach.weight[coach_rows], p.student.xy[student_rows], p.student.weight[student_rows]
    )
    if not np.isfinite(pose).any():
        raise CompareError(
            "no aligned frame pair has a joint detected confidently in both videos; try a lower confidence threshold"
        )
    coach_angles = joint_angles_deg(p.coach.xy, p.coach.weight > 0)[coach_rows]
    student_angles = joint_angles_deg(p.student.xy, p.student.weight > 0)[student_rows]
    diff = angle_difference_deg(student_angles, coach_angles)
    coach_frames, student_frames = coach_rows + p.coach.first_frame, student_rows + p.student.first_frame
    coach_times, student_times = coach_frames / p.coach_fps, student_frames / p.student_fps
    where = (coach_frames, coach_times, student_frames, student_times)
    coach_rel_s, student_rel_s = coach_rows / p.coach_fps, student_rows / p.student_fps
    if offset_s is None:
        offset_s = float(np.median(student_rel_s - coach_rel_s))
    tempo = float(np.polyfit(coach_rel_s, student_rel_s, 1)[0]) if np.ptp(coach_rows) > 0 else 1.0
    mean_distance = float(np.nanmean(pose))
    return Comparison(
        coach_frames=coach_frames, student_frames=student_frames, coach_times_s=coach_times,
        student_times_s=student_times, pose_distance=pose, joint_distance=per_joint,
        excluded_joints=np.isnan(per_joint).sum(axis=1), coach_angles_deg=coach_angles,
        student_angles_deg=student_angles, angle_diff_deg=diff, mean_distance=mean_distance,
        score=similarity_score(mean_distance, options.score_scale),
        joints=[_summary(name, "torso_lengths", per_joint[:, k], *where) for k, name in enumerate(JOINT_NAMES)],
        angles=[_summary(name, "deg", np.abs(diff[:, a]), *where) for a, name in enumerate(ANGLE_NAMES)],
        offset_s=float(offset_s), tempo_ratio=tempo, coach_fps=p.coach_fps, student_fps=p.student_fps,
        coach_frame_limits=p.coach_limits, student_frame_limits=p.student_limits, options=options,
        coach=p.coach, student=p.student,
    )  # fmt: skip
