"""Left/right consistency over time (model_training.video_side_consistency, an experiment) on generated tracks."""

import numpy as np

from gymnast_pose.skeleton import JOINT_INDEX, K
from model_training.video_side_consistency import (
    SIDE_GROUPS,
    consistent_sides,
    group_states,
    mediapipe_verdict,
)

LEGS = SIDE_GROUPS["legs"]
ARMS = SIDE_GROUPS["arms"]


def standing_person(frames: int = 60, sway_px: float = 2.0, seed: int = 0) -> np.ndarray:
    """(T, K, 3) a person facing the camera, torso 100 px, legs and arms apart, swaying a little; scores 0.8."""
    rng = np.random.default_rng(seed)
    base = {
        "head_top": (0, -160), "neck": (0, -120), "r_shoulder": (-40, -110), "l_shoulder": (40, -110),
        "r_elbow": (-70, -60), "l_elbow": (70, -60), "r_wrist": (-90, -10), "l_wrist": (90, -10),
        "r_hip": (-25, -10), "l_hip": (25, -10), "r_knee": (-45, 60), "l_knee": (45, 60),
        "r_ankle": (-60, 130), "l_ankle": (60, 130),
    }
    kp = np.zeros((frames, K, 3), np.float32)
    for name, (x, y) in base.items():
        kp[:, JOINT_INDEX[name], 0] = 300 + x
        kp[:, JOINT_INDEX[name], 1] = 250 + y
    kp[..., :2] += rng.normal(0, sway_px, size=(frames, K, 2))
    kp[..., 2] = 0.8
    return kp


def exchange(kp: np.ndarray, frames: slice, pairs) -> np.ndarray:
    out = kp.copy()
    for right, left in pairs:
        out[frames, right], out[frames, left] = kp[frames, left], kp[frames, right]
    return out


def test_a_short_exchange_of_the_legs_is_undone_and_the_arms_are_left_alone():
    truth = standing_person()
    network = exchange(truth, slice(20, 27), LEGS)
    fixed, changed = consistent_sides(network)
    np.testing.assert_array_equal(fixed, truth)
    assert changed == {"arms": 0, "legs": 7}


def test_each_group_is_mended_on_its_own():
    truth = standing_person()
    network = exchange(exchange(truth, slice(5, 9), ARMS), slice(40, 52), LEGS)
    fixed, changed = consistent_sides(network)
    np.testing.assert_array_equal(fixed, truth)
    assert changed == {"arms": 4, "legs": 12}


def test_the_shorter_side_of_a_late_change_is_the_one_mended():
    """Labels exchanged from frame 50 to the end (one jump only): the 10 frames are the exception, not the 50."""
    truth = standing_person()
    fixed, changed = consistent_sides(exchange(truth, slice(50, None), LEGS))
    np.testing.assert_array_equal(fixed, truth)
    assert changed["legs"] == 10


def test_legs_that_really_cross_keep_their_labels():
    """A scissor: the legs pass each other smoothly, so there is no jump to mend."""
    kp = standing_person(frames=40, sway_px=0.0)
    for t in range(40):
        phase = np.cos(np.pi * t / 39)  # 1 -> -1: right leg from the image's left to its right
        for right, left in LEGS:
            centre = (kp[t, right, 0] + kp[t, left, 0]) / 2
            half = (kp[0, left, 0] - kp[0, right, 0]) / 2
            kp[t, right, 0], kp[t, left, 0] = centre - half * phase, centre + half * phase
    fixed, changed = consistent_sides(kp)
    np.testing.assert_array_equal(fixed, kp)
    assert changed["legs"] == 0


def test_a_long_run_with_small_jumps_stays_as_the_network_gave_it():
    """Legs nearly together: exchanging them for 40 frames saves less movement than it costs."""
    kp = standing_person(sway_px=0.0)
    for right, left in LEGS:
        centre = (kp[:, right, 0] + kp[:, left, 0]) / 2
        kp[:, right, 0], kp[:, left, 0] = centre - 3, centre + 3
    network = exchange(kp, slice(10, 50), LEGS)
    fixed, changed = consistent_sides(network)
    np.testing.assert_array_equal(fixed, network)
    assert changed["legs"] == 0


def test_frames_without_the_group_break_the_chain():
    """Missing legs between two runs: each run keeps the network's labels (there is no jump inside either)."""
    kp = standing_person()
    kp[30:33, [j for pair in LEGS for j in pair]] = [np.nan, np.nan, 0.0]
    network = exchange(kp, slice(33, None), LEGS)
    states = group_states(network[..., :2], LEGS, scale=100.0)
    assert not states.any()


def test_scores_move_with_the_positions_and_missing_joints_stay_missing():
    truth = standing_person()
    truth[:, JOINT_INDEX["r_ankle"], 2] = 0.3
    truth[22, JOINT_INDEX["l_knee"]] = [np.nan, np.nan, 0.0]
    fixed, _ = consistent_sides(exchange(truth, slice(20, 25), LEGS))
    np.testing.assert_array_equal(fixed, truth)


def test_empty_and_torso_less_input_come_back_unchanged():
    empty, changed = consistent_sides(np.zeros((0, K, 3), np.float32))
    assert empty.shape == (0, K, 3) and changed == {"arms": 0, "legs": 0}
    blank = np.full((5, K, 3), np.nan, np.float32)
    same, changed = consistent_sides(blank)
    assert np.isnan(same).all() and changed == {"arms": 0, "legs": 0}


def test_a_stride_read_as_bouncing_legs_is_crossed_by_the_second_order_only():
    """Running legs pass each other; the network keeps "right" on the image's left. No label jumps, so displacement
    (order 1) sees nothing to mend, while acceleration (order 2) sees two bounces per stride and crosses them."""
    truth = standing_person(frames=60, sway_px=0.0)
    for t in range(60):
        phase = np.cos(2 * np.pi * t / 30 + 0.3)  # one stride per 30 frames
        for right, left in LEGS:
            centre = (truth[t, right, 0] + truth[t, left, 0]) / 2
            half = (truth[0, left, 0] - truth[0, right, 0]) / 2
            truth[t, right, 0], truth[t, left, 0] = centre - half * phase, centre + half * phase
    network = truth.copy()
    for right, left in LEGS:
        network[:, right, 0] = np.minimum(truth[:, right, 0], truth[:, left, 0])
        network[:, left, 0] = np.maximum(truth[:, right, 0], truth[:, left, 0])
    assert (network != truth).any()
    same, changed = consistent_sides(network, order=1)
    np.testing.assert_array_equal(same, network)
    crossed, changed = consistent_sides(network, order=2)
    np.testing.assert_allclose(crossed, truth, atol=1e-3)
    assert changed == {"arms": 0, "legs": 30}


def test_the_mediapipe_referee_reads_exchanged_as_given_and_unknown_frames():
    truth = standing_person(frames=3, sway_px=0.0)
    ours = exchange(truth, slice(0, 1), LEGS)
    found = np.array([True, True, False])
    verdict = mediapipe_verdict(ours, truth[..., :2], found, LEGS, margin=0.1)
    np.testing.assert_array_equal(verdict, [1, -1, 0])


def test_the_network_s_certainty_protects_its_labels():
    """With ``score_weight`` an exchange on frames the network was sure of costs more than the jump it removes;
    where its scores were low (probability split between the two legs) the exchange is still undone."""
    truth = standing_person()
    sure = exchange(truth, slice(20, 27), LEGS)  # scores 0.8 on the exchanged frames
    unsure = sure.copy()
    for right, left in LEGS:
        unsure[20:27, [right, left], 2] = 0.1
    # Each end of the 7-frame run: six joints jump onto their twins, about 4.8 torso lengths, 9.6 for both ends;
    # an exchange costs 7 frames x 5 x 0.8 = 28 where the network was sure, 7 x 5 x 0.1 = 3.5 where it was not.
    kept, changed = consistent_sides(sure, switch_cost=0.0, score_weight=5.0)
    np.testing.assert_array_equal(kept, sure)
    assert changed["legs"] == 0
    mended, changed = consistent_sides(unsure, switch_cost=0.0, score_weight=5.0)
    np.testing.assert_array_equal(mended[..., :2], truth[..., :2])
    assert changed["legs"] == 7
