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
from gymnast_pose.identity import hide_box, hide_in_crop
from gymnast_pose.inference import Region, crop_regions
from gymnast_pose.person_locator import LocatorSettings, locate
from gymnast_pose.skeleton import K
from gymnast_pose.tracking import HOLD_ASTRAY_FRAMES, PoseBox, TrackState, body_scale

WIDTH, HEIGHT = 640, 240


def figure_at(cx: float, cy: float, height: float) -> np.ndarray:
    """The upright standing figure (K, 2) in frame pixels, centred at (cx, cy), ``height`` pixels tall."""
    return ((FIGURE - 0.5) * height / 0.556 + (cx, cy)).astype(np.float32)


def inside(region, cx: float, cy: float) -> bool:
    return abs(cx - region.cx) <= region.side / 2 and abs(cy - region.cy) <= region.side / 2


def scripted(people, sees_hidden: bool = False):
    """``infer`` stand-in: ``people(frame_index, region)`` -> (keypoints (K, 2), scores (K,)) seen in that crop;
    with ``sees_hidden``, ``people(frame_index, region, boxes)`` also gets the boxes hidden from that crop."""

    def infer(jobs, hidden=None):
        xy = np.zeros((len(jobs), K, 2), np.float32)
        scores = np.zeros((len(jobs), K), np.float32)
        for i, (image, region) in enumerate(jobs):
            boxes = hidden[i] if hidden is not None else []
            seen = people(int(image[0, 0, 0]), region, boxes) if sees_hidden else people(int(image[0, 0, 0]), region)
            xy[i], scores[i] = seen
        return xy, scores

    return infer


def track_scripted(people, count: int, sees_hidden: bool = False):
    """Track ``count`` frames (``frames``) with the network replaced by ``scripted(people, sees_hidden)``."""
    estimator = PoseEstimator(CentredFigurePredictor())
    estimator.infer = scripted(people, sees_hidden)
    return estimator.track(frames(count))


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

    result = track_scripted(people, 12)
    centres = np.array([np.nanmedian(x) if np.isfinite(x).any() else np.nan for x in result.keypoints[..., 0]])
    assert not result.found[5] and np.isnan(result.keypoints[5, :, :2]).all()  # nobody rather than her
    others = [t for t in range(12) if t != 5]
    assert result.found[others].all()
    assert np.allclose(centres[others], [athlete_x(t) for t in others], atol=3)


LEGS = np.arange(6)  # r_ankle ... l_ankle: the joints a passer-by under the athlete takes


def walking_athlete_with_legs_astray(hiding_helps: bool):
    """The athlete walks right at 2 px a frame; on frames 4-7 a passer-by stands in the crop 45 px to the right
    (farther than the athlete can move in a frame) and the network puts the athlete's legs on her legs. Hidden,
    she no longer draws them (``hiding_helps``) or still does."""

    def athlete_x(t):
        return 150.0 + 2 * t

    looks = []

    def people(t, region, boxes):
        xy = figure_at(athlete_x(t), 120.0, 60)
        if not inside(region, athlete_x(t), 120.0):
            return xy, np.zeros(K, np.float32)
        her = figure_at(athlete_x(t) + 45, 120.0, 60)
        hidden = any(x0 <= her[0, 0] <= x1 and y0 <= her[0, 1] <= y1 for x0, y0, x1, y1 in boxes)
        looks.append((t, bool(boxes)))
        if 4 <= t <= 7 and not (hidden and hiding_helps):
            xy[LEGS] = her[LEGS]
        return xy, np.full(K, 0.8, np.float32)

    return athlete_x, people, looks


def test_legs_taken_by_a_passer_by_are_looked_at_again_with_her_hidden():
    athlete_x, people, looks = walking_athlete_with_legs_astray(hiding_helps=True)
    result = track_scripted(people, 12, sees_hidden=True)
    assert result.found.all()
    expected = np.array([figure_at(athlete_x(t), 120.0, 60) for t in range(12)])
    assert np.allclose(result.keypoints[..., :2], expected, atol=3)  # legs on the athlete on every frame
    assert sorted({t for t, hid in looks if hid}) == [4, 5, 6, 7]  # second looks only where she took them


def test_legs_still_on_her_after_the_second_look_are_dropped_and_not_followed():
    athlete_x, people, _ = walking_athlete_with_legs_astray(hiding_helps=False)
    result = track_scripted(people, 12, sees_hidden=True)
    assert result.found.all()
    for t in range(4, 8):
        assert np.isnan(result.keypoints[t, LEGS, :2]).all() and (result.keypoints[t, LEGS, 2] == 0).all()
        assert abs(result.regions[t, 0] - athlete_x(t)) < 10  # the crop stays on him, not between the two
    upper = np.arange(6, K)
    assert np.allclose(result.keypoints[4:8, upper, 0], [figure_at(athlete_x(t), 120, 60)[upper, 0]
                                                         for t in range(4, 8)], atol=3)


def test_one_stray_joint_is_left_as_the_network_gave_it():
    """A single joint far from its last place is common network noise on one person: no second look, no drop."""

    def people(t, region, boxes):
        xy = figure_at(150.0, 120.0, 60)
        if t == 5:
            xy[0] += (45.0, 0.0)
        return xy, np.full(K, 0.8, np.float32) * (not boxes)

    result = track_scripted(people, 10, sees_hidden=True)
    assert result.found.all()
    assert math.isclose(result.keypoints[5, 0, 0], figure_at(150.0, 120.0, 60)[0, 0] + 45, abs_tol=1)
    assert result.keypoints[5, 0, 2] > 0.5


def test_hide_box_surrounds_the_far_joints_and_never_covers_the_athlete():
    xy = figure_at(100, 100, 60)
    far = np.zeros(K, bool)
    assert hide_box(xy, far, 10, None) is None
    far[LEGS] = True
    x0, y0, x1, y1 = hide_box(xy, far, 10, None)
    assert math.isclose(x0, xy[LEGS, 0].min() - 10) and math.isclose(y1, xy[LEGS, 1].max() + 10)
    on_him = box_at(100, 115)
    assert hide_box(xy, far, 10, on_him) is None  # the legs' box holds where he was last seen
    assert hide_box(xy, far, 10, box_at(100, 60)) is not None


def box_at(cx: float, cy: float) -> PoseBox:
    return PoseBox.from_xywh(cx - 5, cy - 5, 10, 10)


def test_hide_in_crop_blurs_the_box_as_the_crop_sees_it_and_nothing_else():
    frame = np.full((200, 200, 3), 60, np.uint8)
    frame[(np.arange(200) // 8) % 2 == 0] = 250  # stripes 8 px wide: blurred, they turn grey
    box = (120.0, 40.0, 160.0, 80.0)
    for angle in (0.0, 180.0):
        crop, mats = crop_regions(frame, [Region(100.0, 100.0, 200.0, angle)], 100)
        out = hide_in_crop(crop[0], mats[0], [box])
        centre = mats[0] @ (140.0, 60.0, 1.0)  # the box's middle, in crop pixels
        cx, cy = np.rint(centre).astype(int)
        assert out[cy - 3:cy + 4, cx].std() < 0.3 * crop[0][cy - 3:cy + 4, cx].std()
        far = mats[0] @ (40.0, 160.0, 1.0)
        fx, fy = np.rint(far).astype(int)
        assert np.array_equal(out[fy - 5:fy + 5, fx - 5:fx + 5], crop[0][fy - 5:fy + 5, fx - 5:fx + 5])
    assert np.array_equal(hide_in_crop(crop[0], mats[0], []), crop[0])


def test_a_joint_dropped_as_astray_moves_with_the_body_for_a_few_frames_then_is_let_back():
    state = TrackState(fps=30.0)
    xy, scores = figure_at(100, 100, 60), np.full(K, 0.9, np.float32)
    state.remember(xy, scores, 0.15, index=0)
    astray = np.zeros(K, bool)
    astray[0] = True
    dropped = scores.copy()
    dropped[0] = 0.0
    for t in range(1, HOLD_ASTRAY_FRAMES + 3):
        state.remember(xy + (2.0 * t, 0.0), dropped, 0.15, index=t, astray=astray)
        held = t <= HOLD_ASTRAY_FRAMES
        assert state.seen_at[0] == (t if held else HOLD_ASTRAY_FRAMES)
        assert math.isclose(state.last_xy[0, 0], xy[0, 0] + 2.0 * min(t, HOLD_ASTRAY_FRAMES), abs_tol=1e-3)
    state.remember(xy, scores, 0.15, index=20)  # seen again: held anew next time
    assert state.seen_at[0] == 20 and state.astray_for[0] == 0


def test_body_scale_is_a_median_over_recent_poses_so_one_odd_pose_cannot_inflate_the_reach():
    state = TrackState(fps=30.0)
    scores = np.full(K, 0.9, np.float32)
    for t in range(10):
        state.remember(figure_at(100, 100, 60), scores, 0.15, index=t)
    usual = state.last_scale
    state.remember(figure_at(100, 100, 240), scores, 0.15, index=10)  # one pose four times the size
    assert math.isclose(state.last_scale, usual, rel_tol=1e-5)
    for t in range(11, 30):  # the athlete really comes closer: the scale follows
        state.remember(figure_at(100, 100, 120), scores, 0.15, index=t)
    assert math.isclose(state.last_scale, 2 * usual, rel_tol=1e-3)


def test_when_the_athlete_leaves_a_bigger_vaguer_pose_on_the_background_is_not_reported():
    """The athlete stands still for 10 frames (score 0.8), then walks out of the picture; from then on every crop
    shows the network's guess on the empty background: a pose 2.2x as big, scored 0.35 (above the person threshold
    of 0.2, below 0.6 x the athlete's 0.8)."""

    def people(t, region):
        if t < 10 and inside(region, 300.0, 120.0):
            return figure_at(300.0, 120.0, 60), np.full(K, 0.8, np.float32)
        return figure_at(region.cx, region.cy, 132), np.full(K, 0.35, np.float32)

    result = track_scripted(people, 20)
    assert result.found[:10].all() and not result.found[10:].any()
    assert np.isnan(result.keypoints[10:, :, :2]).all()


def test_is_background_needs_both_a_much_bigger_and_a_much_vaguer_pose():
    from gymnast_pose.identity import GROWTH_LIMIT, QUALITY_DROP, is_background
    from gymnast_pose.person_locator import Candidate

    state = TrackState()
    region = Region(300, 120, 200)

    def pose(height, score):
        return Candidate(figure_at(300, 120, height), np.full(K, score, np.float32), region, None)

    assert not is_background(pose(150, 0.3), state, 0.15)  # no history yet: nothing to compare with
    for t in range(5):
        state.remember(figure_at(300, 120, 60), np.full(K, 0.8, np.float32), 0.15, t)
    big, vague = 60 * GROWTH_LIMIT * 1.1, 0.8 * QUALITY_DROP * 0.9
    assert is_background(pose(big, vague), state, 0.15)
    assert not is_background(pose(big, 0.8), state, 0.15)  # a sure pose that size: somebody real, judged elsewhere
    assert not is_background(pose(60, vague), state, 0.15)  # the athlete's size, less sure: a hard frame
