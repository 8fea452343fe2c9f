"""Joint angles in the image plane, and their differences taken the short way round.

Conventions (written once, here; ``docs/angles.md`` has the same table with a picture)
-------------------------------------------------------------------------------------
All angles are in degrees, in the image plane, in the range [-180, 180). They follow the *neutral-zero* method
that physiotherapists use: every angle is 0 in the upright standing position (arms hanging, legs straight).

Signs are taken as if the athlete faces the **right** of the picture: flexion (bending a joint forward, lifting the
arm forward, bending the knee) and leaning the trunk forward are **positive**; extension beyond straight
(hyperextension), lifting the arm backward and leaning the trunk backward are negative. Seen on screen, that is
counter-clockwise positive for the elbow, shoulder and hip, clockwise positive for the knee and the trunk. A single
camera cannot tell which way the athlete faces, so for an athlete facing left every sign flips: compare performances
seen from the same side, or use mirror mode (``CompareOptions.mirror``), which flips the student's picture.

==========  ==============================  =====================================  ===============================
angle       measured between                0 when                                  + when (athlete facing right)
==========  ==============================  =====================================  ===============================
elbow       upper arm -> forearm            the arm is straight                     the elbow bends
shoulder    trunk (shoulder->hip) -> arm    the arm hangs along the trunk           the arm is raised forward
hip         trunk (shoulder->hip) -> thigh  trunk and thigh are in line             the hip bends (pike, sitting)
knee        thigh -> shank                  the leg is straight                     the knee bends
trunk       mid-hip -> mid-shoulder         the trunk is vertical, head up          the trunk leans forward
==========  ==============================  =====================================  ===============================

Elbow, shoulder, hip and knee exist for both sides (``r_`` and ``l_``, the athlete's own sides); their joints come
from ``skeleton.ANGLE_TRIPLETS``. ``trunk`` is the inclination of the mid-hip -> mid-shoulder segment from the
image's vertical (so it includes any camera roll unless that is removed during normalisation).

The wrap point is +-180 degrees: a handstand has the trunk and both shoulders near +-180, a fully folded joint is
near +-180. Values there may jump between +179 and -179 from frame to frame; ``angle_difference_deg`` always takes
the short way round (179 vs -179 is 2 degrees), and ``unwrap_angles_deg`` makes a continuous curve for plotting.
An angle whose joints are missing or below the confidence threshold is NaN.
"""

from __future__ import annotations

import math

import numpy as np

from gymnast_pose.skeleton import ANGLE_TRIPLETS, JOINT_INDEX, K

TRUNK_ANGLE = "trunk"
ANGLE_NAMES: tuple[str, ...] = tuple(name for name, *_ in ANGLE_TRIPLETS) + (TRUNK_ANGLE,)
A: int = len(ANGLE_NAMES)

# Per kind of joint: how the zero is defined and the sign that makes flexion positive for an athlete facing right.
# "straight": 0 when the distal bone continues the proximal one (a->vertex); "along": 0 when the distal bone lies
# along the proximal one (vertex->a), used for the shoulder whose rest position is the arm hanging by the trunk.
_CONVENTIONS: dict[str, tuple[str, float]] = {
    "elbow": ("straight", 1.0),
    "shoulder": ("along", 1.0),
    "hip": ("straight", 1.0),
    "knee": ("straight", -1.0),
}
_TRUNK_SIGN = -1.0  # leaning forward (top of the trunk towards screen right) is clockwise on screen


def _joint_kind(angle_name: str) -> str:
    return angle_name.split("_", 1)[1]


def wrap_deg(angles: np.ndarray | float) -> np.ndarray:
    """Angles (any shape, degrees) wrapped into [-180, 180). NaN stays NaN."""
    return np.mod(np.asarray(angles, dtype=np.float64) + 180.0, 360.0) - 180.0


def angle_difference_deg(student: np.ndarray, coach: np.ndarray) -> np.ndarray:
    """Signed difference ``student - coach`` taken the short way round, in [-180, 180) degrees (broadcasts)."""
    return wrap_deg(np.asarray(student, dtype=np.float64) - np.asarray(coach, dtype=np.float64))


def unwrap_angles_deg(series: np.ndarray, axis: int = 0) -> np.ndarray:
    """A time series of wrapped angles made continuous (no +-360 jumps) for plotting; NaN gaps are kept."""
    series = np.asarray(series, dtype=np.float64)
    moved = np.moveaxis(series, axis, 0)
    out = np.full_like(moved, np.nan)
    for column in np.ndindex(moved.shape[1:]):
        values = moved[(slice(None), *column)]
        finite = np.isfinite(values)
        if finite.any():
            out[(finite, *column)] = np.degrees(np.unwrap(np.radians(values[finite])))
    return np.moveaxis(out, 0, axis)


def _screen_direction_deg(vectors: np.ndarray) -> np.ndarray:
    """Direction of image-plane vectors (..., 2) with y pointing down, counter-clockwise on screen from +x."""
    return np.degrees(np.arctan2(-vectors[..., 1], vectors[..., 0]))


def joint_angles_deg(xy: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """All angles of ``ANGLE_NAMES`` for a pose sequence.

    Args:
        xy: (T, K, 2) joint positions, x right and y down (pixels or any normalised unit: scale and translation do
            not matter). NaN marks a missing joint.
        valid: optional (T, K) bool; joints marked False are treated as missing (e.g. below a confidence threshold).

    Returns:
        (T, A) float64 angles in degrees, [-180, 180), NaN where a needed joint is missing or a bone has no length.
    """
    xy = np.asarray(xy, dtype=np.float64)
    if xy.ndim != 3 or xy.shape[1:] != (K, 2):
        raise ValueError(f"joint_angles_deg expects keypoints of shape (T, {K}, 2), got {xy.shape}")
    if valid is not None:
        xy = np.where(np.asarray(valid, dtype=bool)[..., None], xy, np.nan)
    angles = np.full((xy.shape[0], A), np.nan)
    with np.errstate(invalid="ignore"):
        for column, (name, a, vertex, b) in enumerate(ANGLE_TRIPLETS):
            reference, sign = _CONVENTIONS[_joint_kind(name)]
            proximal = xy[:, vertex] - xy[:, a] if reference == "straight" else xy[:, a] - xy[:, vertex]
            distal = xy[:, b] - xy[:, vertex]
            turn = _screen_direction_deg(distal) - _screen_direction_deg(proximal)
            usable = (np.hypot(*proximal.T) > 0) & (np.hypot(*distal.T) > 0)
            angles[:, column] = np.where(usable, wrap_deg(sign * turn), np.nan)
        mid_hip = 0.5 * (xy[:, JOINT_INDEX["r_hip"]] + xy[:, JOINT_INDEX["l_hip"]])
        mid_shoulder = 0.5 * (xy[:, JOINT_INDEX["r_shoulder"]] + xy[:, JOINT_INDEX["l_shoulder"]])
        trunk = mid_shoulder - mid_hip
        turn = _screen_direction_deg(trunk) - 90.0
        usable = np.hypot(*trunk.T) > 0
        angles[:, A - 1] = np.where(usable, wrap_deg(_TRUNK_SIGN * turn), np.nan)
    return angles


def rotate_on_screen(xy: np.ndarray, angle_deg: float) -> np.ndarray:
    """Rotate y-down points (..., 2) counter-clockwise as seen on screen by ``angle_deg`` about the origin."""
    if angle_deg == 0.0:
        return xy
    c, s = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    x, y = xy[..., 0], xy[..., 1]
    return np.stack([c * x + s * y, -s * x + c * y], axis=-1)


def estimate_roll_deg(xy: np.ndarray, usable: np.ndarray) -> float:
    """Constant camera roll (degrees, counter-clockwise on screen) of a pose sequence, or 0.0 if it cannot be told.

    xy (T, K, 2) joint positions in torso lengths (y down); usable (T, K) bool. The shoulder and hip lines are
    assumed horizontal on average. Lines are axial (r->l and l->r are the same line), so their angles are doubled
    before a length-weighted circular mean. Returns 0.0 when the lines are short (median < 0.2 torso lengths, as in
    a side view) or disagree (mean resultant length < 0.7, as in turning skills).
    """
    lines = []
    for right, left in (("r_shoulder", "l_shoulder"), ("r_hip", "l_hip")):
        r, l = JOINT_INDEX[right], JOINT_INDEX[left]
        both = usable[:, r] & usable[:, l]
        lines.append(xy[both, l] - xy[both, r])
    vectors = np.concatenate(lines)
    if len(vectors) == 0:
        return 0.0
    lengths = np.hypot(vectors[:, 0], vectors[:, 1])
    doubled = 2.0 * np.arctan2(-vectors[:, 1], vectors[:, 0])
    resultant = np.array([(lengths * np.cos(doubled)).sum(), (lengths * np.sin(doubled)).sum()])
    if np.median(lengths) < 0.2 or np.hypot(*resultant) < 0.7 * lengths.sum():
        return 0.0
    return float(np.degrees(0.5 * np.arctan2(resultant[1], resultant[0])))
