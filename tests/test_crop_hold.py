"""The tracked crop holds still while the athlete does, and follows as soon as they move."""

from __future__ import annotations

import numpy as np
from test_identity import figure_at, inside, track_scripted

from gymnast_pose.inference import Region
from gymnast_pose.tracking import PoseBox, TrackState


def box(x0: float, y0: float, x1: float, y1: float) -> PoseBox:
    return PoseBox.from_xywh(x0, y0, x1 - x0, y1 - y0)


def held_state() -> TrackState:
    state = TrackState()
    state.start(Region(100.0, 100.0, 200.0), box(50, 50, 150, 150))
    return state


def test_a_small_change_of_target_leaves_the_crop_exactly_where_it_is():
    state = held_state()
    state.update(Region(105.0, 97.0, 210.0), box(55, 47, 155, 147), hold=0.04)  # 5.8 px < 8 px, side +5 %
    assert (state.cx, state.cy, state.side) == (100.0, 100.0, 200.0)


def test_a_larger_move_or_size_change_is_followed():
    moved = held_state()
    moved.update(Region(110.0, 100.0, 200.0), box(60, 50, 160, 150), hold=0.04)  # 10 px > 8 px
    assert moved.cx == 100.0 + 0.7 * 10.0
    grown = held_state()
    grown.update(Region(100.0, 100.0, 220.0), box(45, 45, 155, 155), hold=0.04)  # side +10 % > 8 %
    assert grown.side == 200.0 + 0.6 * 20.0
    no_hold = held_state()
    no_hold.update(Region(101.0, 100.0, 200.0), box(51, 50, 151, 150), hold=0.0)
    assert no_hold.cx == 100.0 + 0.7 * 1.0


def test_a_turn_is_followed_even_in_place():
    state = held_state()
    state.update(Region(100.0, 100.0, 200.0, 180.0), box(50, 50, 150, 150), hold=0.04)
    assert state.angle == 180.0


def test_a_still_athlete_with_wobbly_joints_is_seen_through_one_crop():
    rng = np.random.default_rng(1)
    wobble = rng.normal(0.0, 1.0, (40, 14, 2)).astype(np.float32)  # the network's frame-to-frame noise, pixels
    regions = []

    def people(index, region):
        regions.append((index, region))
        if inside(region, 300, 120):
            return figure_at(300, 120, 150) + wobble[index], np.full(14, 0.9, np.float32)
        return figure_at(region.cx, region.cy, 60), np.full(14, 0.05, np.float32)

    track_scripted(people, 40)
    late = {(round(r.cx, 6), round(r.cy, 6), round(r.side, 6)) for i, r in regions if i >= 12}
    assert len(late) == 1
