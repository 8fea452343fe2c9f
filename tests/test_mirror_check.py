"""check_mirror: suggest the mirror setting when it matches clearly better, and only then."""

from __future__ import annotations

import pytest
from test_compare_synthetic import make_sequence, mirrored, seen_from_behind, squat_sequence

from gymnast_pose.compare import CompareOptions, compare_sequences
from gymnast_pose.mirror_check import check_mirror


def test_a_student_facing_the_other_way_gets_a_mirror_suggestion():
    coach = squat_sequence(4.0, 30.0, yaw_deg=40)
    student = make_sequence(mirrored(coach.keypoints), 30.0)
    plain = compare_sequences(coach, student, CompareOptions())
    suggestion = check_mirror(coach, student, plain)
    assert suggestion is not None and suggestion.mirror is True
    assert suggestion.mean_distance < 1e-5 < plain.mean_distance
    assert suggestion.current_score == plain.score and suggestion.score == pytest.approx(100.0)
    assert "Turn on Mirror student" in suggestion.message()
    assert suggestion.changed == "mirror" and suggestion.turn_on and not suggestion.opposite_view
    assert "--mirror" in suggestion.message("--mirror")


def test_a_student_filmed_from_behind_gets_an_opposite_view_suggestion():
    coach = squat_sequence(4.0, 30.0, yaw_deg=40)
    student = make_sequence(seen_from_behind(coach.keypoints), 30.0)
    plain = compare_sequences(coach, student, CompareOptions())
    suggestion = check_mirror(coach, student, plain)
    assert suggestion is not None and suggestion.changed == "opposite_view"
    assert suggestion.opposite_view is True and suggestion.mirror is False and suggestion.turn_on
    assert suggestion.mean_distance < 1e-5 < plain.mean_distance
    assert "Turn on Filmed from the other side" in suggestion.message()
    right = compare_sequences(coach, student, CompareOptions(opposite_view=True))
    assert check_mirror(coach, student, right) is None


def test_no_suggestion_when_the_setting_is_already_right():
    coach = squat_sequence(4.0, 30.0, yaw_deg=40)
    assert check_mirror(coach, coach, compare_sequences(coach, coach, CompareOptions())) is None
    student = make_sequence(mirrored(coach.keypoints), 30.0)
    assert check_mirror(coach, student, compare_sequences(coach, student, CompareOptions(mirror=True))) is None


def test_a_needless_mirror_is_pointed_out_too():
    coach = squat_sequence(4.0, 30.0, yaw_deg=40)
    mirrored_comparison = compare_sequences(coach, coach, CompareOptions(mirror=True))
    suggestion = check_mirror(coach, coach, mirrored_comparison)
    assert suggestion is not None and suggestion.mirror is False
    assert "Turn off" in suggestion.message()
    with pytest.raises(ValueError):
        check_mirror(coach, coach, mirrored_comparison, margin=1.5)
