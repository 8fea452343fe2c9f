"""Tests of gymnast_pose.alignment: banded DTW against a brute-force reference, offsets, time maps."""

from __future__ import annotations

import numpy as np
import pytest
from test_compare_synthetic import figure_keypoints, make_sequence, squat, squat_sequence

from gymnast_pose.alignment import (
    TimeMap,
    band_limits,
    banded_dtw,
    resample_indices,
    search_constant_shift,
)
from gymnast_pose.compare import CompareOptions, compare_sequences


def reference_dtw(costs: np.ndarray, allowed: np.ndarray) -> float:
    """Textbook O(n m) DTW over the allowed cells of a full cost matrix."""
    n, m = costs.shape
    total = np.full((n + 1, m + 1), np.inf)
    total[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            if allowed[i - 1, j - 1]:
                total[i, j] = costs[i - 1, j - 1] + min(total[i - 1, j - 1], total[i - 1, j], total[i, j - 1])
    return float(total[n, m])


def matrix_cost(costs: np.ndarray):
    return lambda rows, columns: costs[rows[:, None], columns]


def check_path(path_a: np.ndarray, path_b: np.ndarray, n: int, m: int) -> None:
    assert (path_a[0], path_b[0]) == (0, 0) and (path_a[-1], path_b[-1]) == (n - 1, m - 1)
    steps = np.stack([np.diff(path_a), np.diff(path_b)], axis=1)
    assert set(map(tuple, steps.tolist())) <= {(0, 1), (1, 0), (1, 1)}


@pytest.mark.parametrize(
    "n, m, radius",
    [(30, 30, 100), (25, 40, 100), (40, 23, 3), (17, 50, 0), (50, 9, 1), (1, 12, 0), (12, 1, 0), (60, 60, 4)],
)
def test_banded_dtw_matches_brute_force_inside_the_band(n, m, radius):
    costs = np.random.default_rng(n * 100 + m).random((n, m))
    first, last = band_limits(n, m, radius)
    columns = np.arange(m)
    allowed = (columns >= first[:, None]) & (columns <= last[:, None])
    result = banded_dtw(matrix_cost(costs), n, m, radius, rows_per_block=7)
    check_path(result.path_a, result.path_b, n, m)
    assert result.total_cost == pytest.approx(reference_dtw(costs, allowed))
    assert result.total_cost == pytest.approx(costs[result.path_a, result.path_b].sum())
    assert result.band_cells == allowed.sum()


def test_band_follows_the_rectangle_diagonal_and_stays_narrow():
    first, last = band_limits(1000, 3000, radius=10)
    assert first[0] == 0 and last[-1] == 2999
    widths = last - first + 1
    assert widths.max() <= 2 * 10 + 4
    assert (first[1:] <= last[:-1] + 1).all()


def test_dtw_recovers_a_delay_of_n_frames():
    delay = 9
    coach = squat_sequence(6.0, 30.0, yaw_deg=20)
    student = squat_sequence(6.0, 30.0, yaw_deg=20, delay_s=delay / 30.0)
    result = compare_sequences(coach, student, CompareOptions(band_s=1.0))
    assert np.median(result.student_frames - result.coach_frames) == delay
    assert result.offset_s == pytest.approx(delay / 30.0)
    skill = CompareOptions(coach_range=(0, 150), student_range=(delay, 150 + delay))  # the same movement
    trimmed = compare_sequences(coach, student, skill)
    np.testing.assert_array_equal(trimmed.student_frames - trimmed.coach_frames, delay)
    assert trimmed.score == pytest.approx(100.0, abs=1e-3)


def test_dtw_finds_the_tempo_of_a_slower_student():
    times = np.arange(150) / 30.0
    coach = make_sequence(figure_keypoints(squat(times), yaw_deg=15), 30.0)
    slow_times = np.arange(int(150 * 1.25)) / 30.0
    student = make_sequence(figure_keypoints(squat(slow_times / 1.25), yaw_deg=15), 30.0)
    result = compare_sequences(coach, student, CompareOptions(band_s=2.0))
    assert result.tempo_ratio == pytest.approx(1.25, abs=0.03)
    assert result.mean_distance < 0.02


@pytest.mark.parametrize("coach_fps, student_fps", [(30.0, 30.0), (30.0, 60.0), (60.0, 30.0), (25.0, 30.0)])
def test_offset_search_recovers_a_delay_at_any_frame_rates(coach_fps, student_fps):
    coach = squat_sequence(6.0, coach_fps, yaw_deg=20)
    student = squat_sequence(6.0, student_fps, yaw_deg=20, delay_s=0.4)
    result = compare_sequences(coach, student, CompareOptions(align="offset", offset_s=None))
    assert result.offset_s == pytest.approx(0.4, abs=0.5 / coach_fps)
    assert result.score > 97.0  # nearest frames differ by up to half a student frame when the rates differ
    assert compare_sequences(coach, student, CompareOptions(align="dtw")).offset_s == pytest.approx(0.4, abs=0.04)


def test_shift_search_ignores_excluded_joints_and_respects_the_limits():
    rng = np.random.default_rng(3)
    xy_a = rng.normal(size=(80, 14, 2))
    weight_a = np.ones((80, 14))
    xy_b = np.concatenate([rng.normal(size=(7, 14, 2)), xy_a])[:80]
    weight_b = np.ones((80, 14))
    xy_b[:, 3] = 1e6  # garbage where excluded
    weight_b[:, 3] = 0.0
    search = search_constant_shift(xy_a, weight_a, xy_b, weight_b)
    assert search.best_shift == 7
    assert search.mean_squared_distance[search.shifts == 7][0] == pytest.approx(0.0, abs=1e-6)
    limited = search_constant_shift(xy_a, weight_a, xy_b, weight_b, max_shift=5)
    assert abs(limited.best_shift) <= 5
    assert np.isinf(limited.mean_squared_distance[np.abs(limited.shifts) > 5]).all()
    with pytest.raises(ValueError, match="overlapping"):
        search_constant_shift(xy_a, np.zeros((80, 14)), xy_b, weight_b)


def test_resampling_onto_another_clock_picks_the_nearest_frames():
    np.testing.assert_array_equal(resample_indices(7, 60.0, 30.0), [0, 2, 4, 6])
    np.testing.assert_array_equal(resample_indices(4, 30.0, 60.0, start=10), [10, 11, 11, 12, 12, 13, 13])
    np.testing.assert_array_equal(resample_indices(5, 25.0, 30.0), [0, 1, 2, 3, 3])  # 2.5 rounds up
    assert len(resample_indices(0, 30.0, 30.0)) == 0


def test_time_map_interpolates_inside_and_keeps_the_end_offsets_outside():
    time_map = TimeMap.from_pairs(np.array([1.0, 1.0, 2.0, 3.0]), np.array([1.5, 1.7, 3.0, 4.0]))
    np.testing.assert_allclose(time_map(np.array([0.0, 1.0, 1.5, 3.0, 5.0])), [0.6, 1.6, 2.3, 4.0, 6.0])
    assert time_map.map_frames(30, 30.0, 60.0, 0, 1000) == 96
    np.testing.assert_array_equal(time_map.map_frames(np.array([0, 300]), 30.0, 60.0, 10, 200), [36, 199])
