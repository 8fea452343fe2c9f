"""Property tests of gymnast_pose.compare and gymnast_pose.angles on synthetic stick figures."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from test_compare_synthetic import (
    figure_keypoints,
    make_sequence,
    mirrored,
    seen_from_behind,
    squat,
    squat_sequence,
)

from gymnast_pose.angles import (
    ANGLE_NAMES,
    angle_difference_deg,
    joint_angles_deg,
    unwrap_angles_deg,
    wrap_deg,
)
from gymnast_pose.compare import (
    CompareError,
    CompareOptions,
    compare_sequences,
    estimate_offset,
    joint_distances,
    normalise_poses,
    similarity_score,
)
from gymnast_pose.skeleton import FLIP_PERMUTATION, JOINT_INDEX, JOINT_NAMES, K

OFFSET_ZERO = CompareOptions(align="offset", offset_s=0.0)


@pytest.mark.parametrize("options", [CompareOptions(), OFFSET_ZERO])
def test_a_sequence_against_itself_has_zero_distance_and_a_perfect_score(options):
    coach = squat_sequence(4.0, 30.0, yaw_deg=30)
    result = compare_sequences(coach, coach, options)
    assert result.num_pairs == coach.num_frames
    np.testing.assert_array_equal(result.coach_frames, result.student_frames)
    assert np.nanmax(result.joint_distance) == 0.0
    assert result.score == 100.0 and result.mean_distance == 0.0
    assert np.nanmax(np.abs(result.angle_diff_deg)) == 0.0
    assert result.tempo_ratio == pytest.approx(1.0)


def test_translation_and_scale_vanish_after_normalisation():
    times = np.arange(120) / 30.0
    angles = squat(times)
    coach = make_sequence(figure_keypoints(angles, yaw_deg=20, torso_px=120.0, centre_px=(300.0, 400.0)), 30.0)
    walking = np.stack([200.0 + 40.0 * times, 500.0 - 10.0 * times], axis=1)
    student = make_sequence(figure_keypoints(angles, yaw_deg=20, torso_px=260.0, centre_px=walking), 30.0)
    result = compare_sequences(coach, student, OFFSET_ZERO)
    assert np.nanmax(result.joint_distance) < 1e-5
    assert result.score == pytest.approx(100.0, abs=1e-3)
    assert result.student.torso_px / result.coach.torso_px == pytest.approx(260.0 / 120.0, rel=1e-5)


def test_mirrored_performance_matches_only_in_mirror_mode():
    coach = squat_sequence(4.0, 30.0, yaw_deg=40)
    student = make_sequence(mirrored(coach.keypoints), 30.0)
    assert compare_sequences(coach, student, OFFSET_ZERO).mean_distance > 0.2
    result = compare_sequences(coach, student, CompareOptions(align="offset", offset_s=0.0, mirror=True))
    assert np.nanmax(result.joint_distance) < 1e-5
    assert np.nanmax(np.abs(result.angle_diff_deg)) < 1e-3


def test_a_student_filmed_from_the_other_side_matches_only_in_the_opposite_view():
    coach = squat_sequence(4.0, 30.0, yaw_deg=40)
    student = make_sequence(seen_from_behind(coach.keypoints), 30.0)
    assert compare_sequences(coach, student, OFFSET_ZERO).mean_distance > 0.2
    assert compare_sequences(coach, student, replace(OFFSET_ZERO, mirror=True)).mean_distance > 0.05
    result = compare_sequences(coach, student, replace(OFFSET_ZERO, opposite_view=True))
    assert np.nanmax(result.joint_distance) < 1e-5
    assert result.student.opposite_view and not result.student.mirrored and not result.coach.opposite_view


def test_mirror_and_opposite_view_together_swap_sides_without_flipping():
    coach = squat_sequence(4.0, 30.0, yaw_deg=40)
    student = make_sequence(coach.keypoints[:, FLIP_PERMUTATION], 30.0)  # labels swapped, picture as it was
    both = compare_sequences(coach, student, replace(OFFSET_ZERO, mirror=True, opposite_view=True))
    assert np.nanmax(both.joint_distance) < 1e-5


@pytest.mark.parametrize("mirror, opposite_view", [(False, True), (True, True)])
def test_ghost_lands_on_a_student_filmed_from_the_other_side(mirror, opposite_view):
    coach = squat_sequence(2.0, 30.0, yaw_deg=40, torso_px=100.0, centre_px=(200.0, 300.0))
    student_kp = squat_sequence(2.0, 30.0, yaw_deg=40, torso_px=180.0, centre_px=(700.0, 420.0)).keypoints
    # Filmed from behind (flipped, labels kept); mirrored as well, that is labels swapped and no flip at all.
    student_kp = student_kp[:, FLIP_PERMUTATION] if mirror else seen_from_behind(student_kp)
    result = compare_sequences(coach, make_sequence(student_kp, 30.0),
                               CompareOptions(mirror=mirror, opposite_view=opposite_view))
    assert np.nanmax(result.joint_distance) < 1e-4
    pair = 17
    ghost = result.student.to_pixels(result.coach.xy[result.coach_frames[pair]], int(result.student_frames[pair]))
    np.testing.assert_allclose(ghost, student_kp[result.student_frames[pair], :, :2], atol=1e-2)


def test_ghost_of_the_coach_lands_on_the_student_in_pixels():
    coach = squat_sequence(2.0, 30.0, yaw_deg=40, torso_px=100.0, centre_px=(200.0, 300.0))
    student_kp = mirrored(squat_sequence(2.0, 30.0, yaw_deg=40, torso_px=180.0, centre_px=(700.0, 420.0)).keypoints)
    result = compare_sequences(coach, make_sequence(student_kp, 30.0), CompareOptions(mirror=True))
    pair = 17
    ghost = result.student.to_pixels(result.coach.xy[result.coach_frames[pair]], int(result.student_frames[pair]))
    np.testing.assert_allclose(ghost, student_kp[result.student_frames[pair], :, :2], atol=1e-2)


def test_constant_camera_roll_is_removed_but_real_trunk_lean_is_kept():
    coach = squat_sequence(4.0, 30.0, yaw_deg=60)
    rolled = squat_sequence(4.0, 30.0, yaw_deg=60, roll_deg=12.0)
    assert compare_sequences(coach, rolled, OFFSET_ZERO).mean_distance > 0.05
    result = compare_sequences(coach, rolled, CompareOptions(align="offset", offset_s=0.0, remove_roll=True))
    assert result.student.roll_deg == pytest.approx(12.0, abs=1e-3)
    assert result.mean_distance < 1e-4
    leaning = make_sequence(figure_keypoints({"trunk": np.full(30, 25.0)}, yaw_deg=60), 30.0)
    poses = normalise_poses(leaning.keypoints, leaning.fps, remove_roll=True)
    assert poses.roll_deg == pytest.approx(0.0, abs=1e-6)
    trunk = ANGLE_NAMES.index("trunk")
    lean_in_picture = joint_angles_deg(leaning.xy)[:, trunk]
    assert lean_in_picture[0] > 10.0
    np.testing.assert_allclose(joint_angles_deg(poses.xy)[:, trunk], lean_in_picture, atol=1e-3)


def test_side_view_leaves_roll_alone_because_the_lines_are_too_short():
    side = squat_sequence(2.0, 30.0, yaw_deg=0.0, roll_deg=10.0)
    assert normalise_poses(side.keypoints, side.fps, remove_roll=True).roll_deg == 0.0


def test_low_confidence_and_missing_joints_are_excluded_and_counted_not_zeroed():
    coach = squat_sequence(2.0, 30.0, yaw_deg=20)
    keypoints = squat_sequence(2.0, 30.0, yaw_deg=20, centre_px=(660.0, 360.0)).keypoints.copy()
    keypoints[:, :, 0] += np.linspace(0, 30, K)  # every joint a little off, so distances are not zero
    wrist, ankle = JOINT_INDEX["r_wrist"], JOINT_INDEX["l_ankle"]
    keypoints[10:20, wrist, 2] = 0.1  # below the threshold
    keypoints[:5, ankle] = (np.nan, np.nan, 0.0)  # not found
    result = compare_sequences(coach, make_sequence(keypoints, 30.0), CompareOptions(align="offset", offset_s=0.0))
    assert np.isnan(result.joint_distance[10:20, wrist]).all()
    assert np.isnan(result.joint_distance[:5, ankle]).all()
    assert np.isfinite(result.joint_distance[20:, wrist]).all() and (result.joint_distance[20:, wrist] > 0).all()
    assert result.excluded_joints[:5].tolist() == [1] * 5 and result.excluded_joints[10:20].tolist() == [1] * 10
    summary = {s.name: s for s in result.joints}
    assert summary["r_wrist"].excluded_pairs == 10 and summary["l_ankle"].excluded_pairs == 5
    assert np.isfinite(result.pose_distance).all()
    angles = {name: result.student_angles_deg[:, i] for i, name in enumerate(ANGLE_NAMES)}
    assert np.isnan(angles["r_elbow"][10:20]).all() and np.isnan(angles["l_knee"][:5]).all()


def test_short_hip_dropouts_are_bridged_and_long_ones_leave_the_frames_out():
    coach = squat_sequence(2.0, 30.0, yaw_deg=20)
    keypoints = coach.keypoints.copy()
    hips = [JOINT_INDEX["r_hip"], JOINT_INDEX["l_hip"]]
    keypoints[10:15, hips, 2] = 0.0  # 5 frames: shorter than 0.5 s
    keypoints[30:50, hips, 2] = 0.0  # 20 frames: longer than 0.5 s
    result = compare_sequences(coach, make_sequence(keypoints, 30.0), OFFSET_ZERO)
    knee = JOINT_INDEX["r_knee"]
    assert np.isfinite(result.joint_distance[10:15, knee]).all()
    assert np.isnan(result.joint_distance[10:15, hips]).all()
    assert np.isnan(result.pose_distance[30:50]).all() and (result.excluded_joints[30:50] == K).all()
    assert result.mean_distance < 0.01  # the bridged centre is close to the true mid-hip


def test_pose_distance_weights_joints_by_the_lower_confidence():
    a = np.zeros((1, K, 2))
    b = np.zeros((1, K, 2))
    b[0, 0] = (1.0, 0.0)
    weight_a = np.ones((1, K))
    weight_b = np.ones((1, K))
    weight_b[0, 0] = 0.5
    per_joint, pose = joint_distances(a, weight_a, b, weight_b)
    assert per_joint[0, 0] == 1.0
    assert pose[0] == pytest.approx(0.5 / (K - 1 + 0.5))


def test_another_frame_rate_gives_the_same_distances():
    # Side views: the projected torso length never changes, so both students get exactly the same torso unit.
    coach = squat_sequence(4.0, 30.0)
    other_30 = squat_sequence(4.0, 30.0, depth=0.7, torso_px=90.0)
    other_60 = squat_sequence(4.0, 60.0, depth=0.7, torso_px=90.0)
    for options in (OFFSET_ZERO, CompareOptions()):
        at_30 = compare_sequences(coach, other_30, options)
        at_60 = compare_sequences(coach, other_60, options)
        np.testing.assert_array_equal(at_60.student_frames, 2 * at_30.student_frames)
        np.testing.assert_allclose(at_60.pose_distance, at_30.pose_distance, atol=1e-6)
        assert at_60.score == pytest.approx(at_30.score, abs=1e-3)
    same_motion = compare_sequences(coach, squat_sequence(4.0, 60.0))
    assert np.nanmax(same_motion.joint_distance) < 1e-5


def test_angles_across_180_degrees_differ_the_short_way():
    assert angle_difference_deg(-179.0, 179.0) == pytest.approx(2.0)
    assert angle_difference_deg(179.0, -179.0) == pytest.approx(-2.0)
    assert angle_difference_deg(10.0, 350.0) == pytest.approx(20.0)
    assert wrap_deg(540.0) == pytest.approx(-180.0)
    handstand = figure_keypoints({"trunk": np.array([179.0]), "shoulder": np.array([178.0])})
    past = figure_keypoints({"trunk": np.array([-179.0]), "shoulder": np.array([-178.0])})
    coach, student = make_sequence(handstand, 30.0), make_sequence(past, 30.0)
    result = compare_sequences(coach, student, OFFSET_ZERO)
    diff = dict(zip(ANGLE_NAMES, result.angle_diff_deg[0]))
    assert diff["trunk"] == pytest.approx(2.0, abs=0.05)
    assert result.coach_angles_deg[0, ANGLE_NAMES.index("trunk")] == pytest.approx(179.0, abs=0.05)


def test_unwrap_makes_a_continuous_curve_and_keeps_gaps():
    series = np.array([170.0, 179.0, -172.0, np.nan, -160.0])
    np.testing.assert_allclose(unwrap_angles_deg(series), [170.0, 179.0, 188.0, np.nan, 200.0])


def test_two_squatters_are_closer_than_a_squatter_and_a_handstand():
    coach = squat_sequence(4.0, 30.0, yaw_deg=10)
    other_squatter = squat_sequence(4.0, 25.0, yaw_deg=25, torso_px=90.0)
    other_squatter.keypoints[..., :2] += np.random.default_rng(0).normal(0, 2.0, other_squatter.xy.shape)
    times = np.arange(100) / 25.0
    handstand = make_sequence(
        figure_keypoints({"trunk": 180.0 + 5 * np.sin(times), "shoulder": np.full(100, 175.0)}, yaw_deg=10), 25.0
    )
    squat_score = compare_sequences(coach, other_squatter).score
    handstand_score = compare_sequences(coach, handstand).score
    assert squat_score > 80.0 > 30.0 > handstand_score


def test_ranges_trim_and_frames_stay_video_frames():
    coach = squat_sequence(6.0, 30.0)
    student = make_sequence(squat_sequence(6.0, 30.0, delay_s=1.0).keypoints, 30.0, start_frame=100)
    options = CompareOptions(align="offset", offset_s=0.0, coach_range=(30, 120), student_range=(160, None))
    result = compare_sequences(coach, student, options)
    assert result.coach_frames[0] == 30 and result.coach_frames[-1] == 119
    np.testing.assert_array_equal(result.student_frames - result.coach_frames, 130)
    assert result.mean_distance < 1e-5
    assert result.student_frame_for(30) == 160 and result.coach_frame_for(160) == 30
    assert result.student_frame_limits == (100, 280)


def test_frame_mapping_follows_the_alignment_both_ways_and_extrapolates():
    coach = squat_sequence(4.0, 30.0)
    student = squat_sequence(4.0, 60.0, delay_s=0.5)
    result = compare_sequences(coach, student, CompareOptions(align="offset", offset_s=None))
    assert result.offset_s == pytest.approx(0.5)
    assert result.student_frame_for(30) == 90
    assert result.coach_frame_for(90) == 30
    np.testing.assert_array_equal(result.student_frame_for(np.array([0, 10])), [30, 50])
    assert result.student_frame_for(119) == 239  # clipped to the student's last frame
    assert result.coach_frame_for(0) == 0  # before the aligned span: keeps the offset, clipped at frame 0


def test_estimate_offset_returns_offset_and_score():
    coach = squat_sequence(5.0, 30.0)
    delayed = squat_sequence(5.0, 30.0, delay_s=0.4)
    offset_s, score = estimate_offset(coach, delayed)
    assert offset_s == pytest.approx(0.4) and score == pytest.approx(100.0, abs=1e-3)


def test_similarity_score_is_100_for_identical_and_falls_with_distance():
    assert similarity_score(0.0) == 100.0
    assert 100.0 > similarity_score(0.1) > similarity_score(0.5) > similarity_score(1.5) > 0.0
    assert similarity_score(0.5, score_scale=0.5) == pytest.approx(100.0 / np.e)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"align": "warp"}, "alignment must be"),
        ({"band_s": 0.0}, "band"),
        ({"confidence_threshold": 2.0}, "threshold"),
        ({"offset_s": float("nan")}, "finite"),
    ],
)
def test_bad_options_give_a_clear_message(kwargs, message):
    with pytest.raises(CompareError, match=message):
        CompareOptions(**kwargs)


def test_bad_input_gives_a_clear_message():
    coach = squat_sequence(2.0, 30.0)
    no_hips = coach.keypoints.copy()
    no_hips[:, [JOINT_INDEX["r_hip"], JOINT_INDEX["l_hip"]], 2] = 0.0
    with pytest.raises(CompareError, match="student: no frame has both hips"):
        compare_sequences(coach, make_sequence(no_hips, 30.0))
    with pytest.raises(CompareError, match="coach's range 50:500"):
        compare_sequences(coach, coach, CompareOptions(coach_range=(50, 500)))

    class Wrong:
        keypoints = np.zeros((5, 17, 3))
        fps = 30.0

    with pytest.raises(CompareError, match=r"shape \(frames, 14, 3\)"):
        compare_sequences(Wrong(), coach)
    with pytest.raises(CompareError, match="do not overlap"):
        compare_sequences(coach, coach, CompareOptions(align="offset", offset_s=100.0))


def test_summaries_name_every_joint_and_angle():
    result = compare_sequences(squat_sequence(2.0, 30.0), squat_sequence(2.0, 30.0, yaw_deg=30))
    assert [s.name for s in result.joints] == list(JOINT_NAMES)
    assert [s.name for s in result.angles] == list(ANGLE_NAMES)
    worst = result.worst_joints(3)
    assert worst[0].mean >= worst[1].mean >= worst[2].mean
    top = worst[0]
    assert result.joint_distance[top.pair_of_max, JOINT_NAMES.index(top.name)] == top.max
