"""A synthetic moving stick figure for the comparison tests, and checks that it moves as asked.

The figure is built in 3-D (x forward, y up, z to the athlete's left) from sagittal-plane angles that follow the
conventions of ``gymnast_pose.angles`` (flexion positive), then projected orthographically onto the image with a
camera yaw: yaw 0 is a pure side view with the athlete facing the right of the picture. Bone lengths are in torso
lengths (mid-hip to mid-shoulder = 1) and scaled to pixels.

Usage from other test modules: ``from test_compare_synthetic import squat, figure_keypoints, make_sequence``
(pytest puts ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

import numpy as np

from gymnast_pose.angles import ANGLE_NAMES, joint_angles_deg
from gymnast_pose.sequence import PoseSequence
from gymnast_pose.skeleton import FLIP_PERMUTATION, JOINT_INDEX, K

THIGH, SHANK, UPPER_ARM, FOREARM = 0.9, 0.85, 0.6, 0.55
HALF_PELVIS, HALF_SHOULDERS, NECK, HEAD = 0.18, 0.25, 0.15, 0.35
ANGLE_KEYS = ("trunk", "hip", "knee", "shoulder", "elbow")


def _direction(alpha_deg: np.ndarray) -> np.ndarray:
    """Unit sagittal vectors (T, 3) at angle ``alpha`` from straight up towards forward (+x)."""
    alpha = np.radians(alpha_deg)
    return np.stack([np.sin(alpha), np.cos(alpha), np.zeros_like(alpha)], axis=-1)


def figure_keypoints(
    angles: dict[str, np.ndarray],
    *,
    yaw_deg: float = 0.0,
    torso_px: float = 150.0,
    centre_px: np.ndarray | tuple[float, float] = (640.0, 360.0),
    roll_deg: float = 0.0,
) -> np.ndarray:
    """Keypoints (T, K, 3) of the figure for per-frame angles in degrees.

    ``angles`` maps "trunk", "hip", "knee", "shoulder", "elbow" (both sides alike) or "r_knee", "l_hip", ... (one
    side) to (T,) arrays; missing keys are 0 (standing). ``centre_px`` is the mid-hip, (2,) or (T, 2) pixels.
    ``roll_deg`` rolls the camera: the picture turns counter-clockwise on screen by that angle about the mid-hip.
    Scores are 1.
    """
    length = max(len(np.atleast_1d(v)) for v in angles.values())

    def angle(name: str, side: str) -> np.ndarray:
        value = angles.get(f"{side}_{name}", angles.get(name, 0.0))
        return np.broadcast_to(np.asarray(value, dtype=np.float64), (length,))

    trunk = angle("trunk", "")
    up = _direction(trunk)
    points = np.zeros((length, K, 3))
    mid_shoulder = up * 1.0
    points[:, JOINT_INDEX["neck"]] = mid_shoulder + NECK * up
    points[:, JOINT_INDEX["head_top"]] = mid_shoulder + (NECK + HEAD) * up
    for side, lateral in (("r", -1.0), ("l", 1.0)):
        hip = np.array([0.0, 0.0, lateral * HALF_PELVIS])
        shoulder = mid_shoulder + np.array([0.0, 0.0, lateral * HALF_SHOULDERS])
        thigh_alpha = trunk + 180.0 - angle("hip", side)
        knee = hip + THIGH * _direction(thigh_alpha)
        ankle = knee + SHANK * _direction(thigh_alpha + angle("knee", side))
        arm_alpha = trunk + 180.0 - angle("shoulder", side)
        elbow = shoulder + UPPER_ARM * _direction(arm_alpha)
        wrist = elbow + FOREARM * _direction(arm_alpha - angle("elbow", side))
        for name, position in (
            ("hip", hip),
            ("knee", knee),
            ("ankle", ankle),
            ("shoulder", shoulder),
            ("elbow", elbow),
            ("wrist", wrist),
        ):
            points[:, JOINT_INDEX[f"{side}_{name}"]] = position
    yaw = np.radians(yaw_deg)
    screen_x = points[..., 0] * np.cos(yaw) + points[..., 2] * np.sin(yaw)
    screen_up = points[..., 1]
    roll = np.radians(roll_deg)
    rolled_x = screen_x * np.cos(roll) - screen_up * np.sin(roll)
    rolled_up = screen_x * np.sin(roll) + screen_up * np.cos(roll)
    centre = np.broadcast_to(np.asarray(centre_px, dtype=np.float64), (length, 2))
    keypoints = np.ones((length, K, 3))
    keypoints[..., 0] = centre[:, None, 0] + torso_px * rolled_x
    keypoints[..., 1] = centre[:, None, 1] - torso_px * rolled_up
    return keypoints.astype(np.float32)


def squat(times_s: np.ndarray, depth: float = 1.0) -> dict[str, np.ndarray]:
    """Angles of a slow squat with arm raises that never repeats exactly (so alignment has one right answer)."""
    t = np.asarray(times_s, dtype=np.float64)
    phase = 2 * np.pi * (0.35 * t + 0.03 * t**2)
    bend = depth * 0.5 * (1 - np.cos(phase))
    return {
        "knee": 110.0 * bend,
        "hip": 95.0 * bend,
        "trunk": 35.0 * bend,
        "shoulder": 80.0 * bend + 40.0 * np.sin(0.9 * t),
        "elbow": 20.0 + 30.0 * np.sin(0.6 * t) ** 2,
    }


def make_sequence(keypoints: np.ndarray, fps: float, start_frame: int = 0) -> PoseSequence:
    return PoseSequence(keypoints=keypoints, fps=fps, source="synthetic", start_frame=start_frame)


def squat_sequence(
    duration_s: float = 6.0, fps: float = 30.0, delay_s: float = 0.0, depth: float = 1.0, **figure
) -> PoseSequence:
    """A squat filmed for ``duration_s`` at ``fps``; ``delay_s`` > 0 starts the movement that much later."""
    times = np.arange(int(round(duration_s * fps))) / fps
    return make_sequence(figure_keypoints(squat(times - delay_s, depth), **figure), fps)


def mirrored(keypoints: np.ndarray, width_px: float = 1280.0) -> np.ndarray:
    """What a pose model reports on the horizontally flipped video: x -> width - x, left/right labels swapped."""
    flipped = np.array(keypoints, copy=True)
    flipped[..., 0] = width_px - flipped[..., 0]
    return flipped[:, FLIP_PERMUTATION]


def seen_from_behind(keypoints: np.ndarray, width_px: float = 1280.0) -> np.ndarray:
    """What a camera on the other side of the athlete sees (orthographic): x -> width - x, the person's own left
    and right labels kept (the back of a body is the front's mirror image, each arm still its own)."""
    flipped = np.array(keypoints, copy=True)
    flipped[..., 0] = width_px - flipped[..., 0]
    return flipped


def test_side_view_recovers_the_requested_angles():
    requested = {
        "trunk": np.array([0.0, 20.0, -15.0]),
        "hip": np.array([0.0, 90.0, -30.0]),
        "knee": np.array([0.0, 100.0, 10.0]),
        "shoulder": np.array([0.0, 170.0, -45.0]),
        "elbow": np.array([0.0, 60.0, 5.0]),
    }
    measured = joint_angles_deg(figure_keypoints(requested)[..., :2])
    for column, name in enumerate(ANGLE_NAMES):
        key = name.split("_", 1)[1] if "_" in name else name
        np.testing.assert_allclose(measured[:, column], requested[key], atol=1e-3, err_msg=name)


def test_side_swap_of_a_mirrored_figure_keeps_its_angles_but_flips_their_signs():
    keypoints = figure_keypoints(squat(np.linspace(0, 3, 10)), yaw_deg=30)
    original = joint_angles_deg(keypoints[..., :2])
    flipped = joint_angles_deg(mirrored(keypoints)[..., :2])
    swap = [ANGLE_NAMES.index(n.replace("r_", "#").replace("l_", "r_").replace("#", "l_")) for n in ANGLE_NAMES]
    np.testing.assert_allclose(flipped, -original[:, swap], atol=1e-3)
