"""The temporal filters of gymnast_pose.smoothing: running median, One-Euro, and the zero-phase cascade."""

import numpy as np
import pytest

from gymnast_pose.smoothing import median_window, one_euro_smooth, running_median, smooth_track

FPS = 30.0
TORSO = 100.0  # pixels


def test_median_window_lasts_about_the_same_time_at_any_frame_rate():
    assert [median_window(fps) for fps in (25.0, 30.0, 60.0, 240.0)] == [3, 3, 5, 17]
    assert median_window(30.0, seconds=0.0) == 1


def test_running_median_removes_a_one_frame_spike_and_keeps_gaps():
    signal = np.linspace(0.0, 9.0, 10)
    signal[4] = 500.0  # the joint jumped to another limb for one frame
    signal[7] = np.nan
    filtered = running_median(signal, 3)
    assert filtered[4] == pytest.approx(4.0, abs=1.0)
    assert np.isnan(filtered[7]) and np.isfinite(np.delete(filtered, 7)).all()
    assert filtered[8] == pytest.approx(8.5)  # its NaN neighbour is ignored: median of 8 and 9
    np.testing.assert_allclose(running_median(signal, 1), signal)


def delay_s(filtered: np.ndarray, truth: np.ndarray, fps: float) -> float:
    """First-order delay of ``filtered`` behind ``truth`` (seconds): filtered(t) ~ truth(t - d) ~ truth - d v."""
    velocity = np.gradient(truth) * fps
    return float(-np.sum((filtered - truth) * velocity) / np.sum(velocity**2))


def test_smooth_track_does_not_lag_a_movement_and_keeps_its_peaks():
    """A 1 Hz swing of half a torso: the zero-phase cascade has no delay, the causal One-Euro pass has some."""
    t = np.arange(150) / FPS
    truth = 0.5 * TORSO * np.sin(2 * np.pi * 1.0 * t)
    noisy = truth + np.random.default_rng(0).normal(0.0, 2.0, len(t))
    inner = slice(30, 120)  # away from the ends
    two_way = smooth_track(noisy, FPS, speed_scale=TORSO)
    one_way = one_euro_smooth(noisy, FPS, min_cutoff=1.0, beta=8.0, d_cutoff=4.0, speed_scale=TORSO)
    assert abs(delay_s(two_way[inner], truth[inner], FPS)) < 0.003
    assert delay_s(one_way[inner], truth[inner], FPS) > 0.005
    assert np.sqrt(np.mean((two_way - truth)[inner] ** 2)) < np.sqrt(np.mean((noisy - truth)[inner] ** 2))
    fast = TORSO * np.sin(2 * np.pi * 2.0 * t)  # 2 Hz, one torso, no noise: within 8 % everywhere
    assert np.abs(smooth_track(fast, FPS, speed_scale=TORSO) - fast)[inner].max() < 0.08 * TORSO


def test_smooth_track_settles_a_noisy_still_joint_below_two_percent_of_the_torso():
    rng = np.random.default_rng(1)
    noisy = rng.normal(0.0, 3.0, (150, 2))  # 3 % of the torso per coordinate, plus occasional spikes
    noisy[rng.random(150) < 0.03] += 50.0
    smooth = smooth_track(noisy, FPS, speed_scale=TORSO)
    step = np.median(np.linalg.norm(np.diff(smooth, axis=0), axis=-1))
    assert step / TORSO < 0.02 < np.median(np.linalg.norm(np.diff(noisy, axis=0), axis=-1)) / TORSO


def test_smooth_track_keeps_missing_samples_missing():
    signal = np.linspace(0.0, 10.0, 20)
    signal[5:8] = np.nan
    smooth = smooth_track(signal, FPS)
    assert smooth.dtype == np.float32
    assert np.isnan(smooth[5:8]).all() and np.isfinite(np.delete(smooth, [5, 6, 7])).all()
    assert smooth_track(np.full((4, 2), np.nan), FPS).shape == (4, 2)
    assert smooth_track(np.zeros((0, 14, 2)), FPS).shape == (0, 14, 2)


def test_one_euro_follows_a_fast_step_with_little_lag():
    signal = np.r_[np.zeros(30), np.full(30, TORSO)]  # a joint jumps one torso length in one frame
    smooth = one_euro_smooth(signal, FPS, speed_scale=TORSO)
    assert np.all(smooth[:30] == 0)
    assert np.argmax(smooth[30:] > 0.9 * TORSO) <= 2  # within two frames (67 ms at 30 fps)
    assert abs(smooth[-1] - TORSO) < 0.01 * TORSO


def test_one_euro_is_fps_aware():
    """With beta = 0 it is a first-order low-pass: it settles in the same seconds whatever the frame rate."""
    settle_times = []
    for fps in (30.0, 240.0):
        step = np.r_[np.zeros(int(fps)), np.ones(int(fps))]
        smooth = one_euro_smooth(step, fps, min_cutoff=1.0, beta=0.0)
        settle_times.append(np.argmax(smooth[int(fps) :] > 1 - np.exp(-1)) / fps)
    time_constant = 1 / (2 * np.pi * 1.0)  # seconds, for a 1 Hz cutoff
    assert settle_times == [pytest.approx(time_constant, abs=1 / 30)] * 2


def test_one_euro_handles_nan_gaps():
    signal = np.linspace(0.0, 10.0, 20)
    signal[5:8] = np.nan
    smooth = one_euro_smooth(signal, FPS)
    assert np.isnan(smooth[5:8]).all() and np.isfinite(np.delete(smooth, [5, 6, 7])).all()
    assert smooth[8] == pytest.approx(signal[8])  # restarts on the first sample after the gap
    assert one_euro_smooth(np.full((4, 2), np.nan), FPS).shape == (4, 2)


