"""Which person the tracker keeps: the whole-frame search and the identity check against a passer-by.

The network is replaced by scripted ``infer`` functions that place people in the frame (joints in frame pixels),
so each test knows where the athlete and the other person are on every frame.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
from test_estimator import FIGURE, CentredFigurePredictor

from gymnast_pose.estimator import PoseEstimator
from gymnast_pose.person_locator import LocatorSettings, locate
from gymnast_pose.skeleton import K
from gymnast_pose.tracking import TrackState, body_scale

WIDTH, HEIGHT = 640, 240


def figure_at(cx: float, cy: float, height: float) -> np.ndarray:
    """The upright standing figure (K, 2) in frame pixels, centred at (cx, cy), ``height`` pixels tall."""
    return ((FIGURE - 0.5) * height / 0.556 + (cx, cy)).astype(np.float32)


def inside(region, cx: float, cy: float) -> bool:
    return abs(cx - region.cx) <= region.side / 2 and abs(cy - region.cy) <= region.side / 2


def scripted(people):
    """``infer`` stand-in: ``people(frame_index, region)`` -> (keypoints (K, 2), scores (K,)) seen in that crop."""

    def infer(jobs):
        xy = np.zeros((len(jobs), K, 2), np.float32)
        scores = np.zeros((len(jobs), K), np.float32)
        for i, (image, region) in enumerate(jobs):
            xy[i], scores[i] = people(int(image[0, 0, 0]), region)
        return xy, scores

    return infer


def frames(count: int):
    """Frames with their index in the first pixel and noise elsewhere (so none is blank)."""
    rng = np.random.default_rng(0)
    images = []
    for i in range(count):
        image = rng.integers(40, 200, (HEIGHT, WIDTH, 3), dtype=np.uint8)
        image[0, 0, 0] = i
        images.append(image)

    class Reader:
        num_frames = count
        fps = 30.0

        def frames(self, start=0, stop=None):
            for i in range(start, count if stop is None else stop):
                yield SimpleNamespace(index=i, image=images[i])

    return Reader()


def test_body_scale_is_the_shorter_torso_diagonal():
    xy = figure_at(100, 100, 90)
    diagonals = [np.linalg.norm(xy[9] - xy[2]), np.linalg.norm(xy[8] - xy[3])]
    assert math.isclose(body_scale(xy), min(diagonals), rel_tol=1e-5)
    xy[9] = (400, 100)  # the left shoulder placed on somebody else lengthens one diagonal only
    assert math.isclose(body_scale(xy), float(np.linalg.norm(xy[8] - xy[3])), rel_tol=1e-5)
    only_legs = np.full((K, 2), np.nan, np.float32)
    only_legs[:2] = figure_at(100, 100, 90)[:2]
    assert math.isclose(body_scale(only_legs), float(np.ptp(only_legs[:2], axis=0).max()) / 3, rel_tol=1e-5)


def test_reach_grows_with_the_frames_elapsed_and_follows_the_frame_rate():
    state = TrackState(fps=30.0)
    assert math.isinf(state.reach(5, 0.5, 45.0))  # nothing seen yet: anybody may be the athlete
    xy, scores = figure_at(100, 100, 90), np.full(K, 0.9, np.float32)
    state.remember(xy, scores, 0.15, index=10)
    scale = body_scale(xy)
    assert math.isclose(state.step(0.5, 45.0), 1.5 * scale, rel_tol=1e-5)  # 45 torso lengths/s at 30 fps
    assert math.isclose(state.reach(13, 0.5, 45.0), 3 * 1.5 * scale, rel_tol=1e-5)
    assert math.isclose(TrackState(fps=240.0, last_scale=scale).step(0.5, 45.0), 0.5 * scale, rel_tol=1e-5)
    speeds = state.speeds(xy + (6.0, 8.0), scores, 0.15, index=12)
    assert np.allclose(speeds, 5.0)  # 10 pixels in 2 frames


def test_search_prefers_a_sharp_small_athlete_to_a_vague_pose_spread_over_the_frame():
    athlete = (200.0, 130.0)

    def people(_, region):
        if region.side >= HEIGHT * 0.9:  # big squares: joints scattered over the frame, fairly confident
            rng = np.random.default_rng(int(region.cx))
            return rng.uniform((0, 0), (WIDTH, HEIGHT), (K, 2)).astype(np.float32), np.full(K, 0.6, np.float32)
        if inside(region, *athlete):
            return figure_at(*athlete, 60), np.full(K, 0.9, np.float32)
        return figure_at(region.cx, region.cy, 60), np.full(K, 0.05, np.float32)

    found, _ = locate(scripted(people), np.zeros((HEIGHT, WIDTH, 3), np.uint8), LocatorSettings())
    assert found is not None and math.hypot(found.box.cx - athlete[0], found.box.cy - athlete[1]) < 10


def test_a_pose_that_jumps_to_a_passer_by_is_not_followed():
    """The athlete walks right at 2 px a frame; on frame 5 a more confident passer-by fills the crop 45 px away
    (farther than the athlete can move in a frame), then walks on out of it."""

    def athlete_x(t):
        return 150.0 + 2 * t

    def people(t, region):
        passer_by = (athlete_x(t) + 45 + (0 if t <= 5 else 60 * (t - 5)), 120.0)
        if t == 5 and inside(region, *passer_by):
            return figure_at(*passer_by, 60), np.full(K, 0.95, np.float32)
        if inside(region, athlete_x(t), 120.0):
            return figure_at(athlete_x(t), 120.0, 60), np.full(K, 0.8, np.float32)
        return figure_at(region.cx, region.cy, 60), np.zeros(K, np.float32)

    estimator = PoseEstimator(CentredFigurePredictor())
    estimator.infer = scripted(people)
    result = estimator.track(frames(12))
    centres = np.array([np.nanmedian(x) if np.isfinite(x).any() else np.nan for x in result.keypoints[..., 0]])
    assert not result.found[5] and np.isnan(result.keypoints[5, :, :2]).all()  # nobody rather than her
    others = [t for t in range(12) if t != 5]
    assert result.found[others].all()
    assert np.allclose(centres[others], [athlete_x(t) for t in others], atol=3)
