"""Temporal filters for joint tracks: a spike-removing median, the One-Euro filter, and their zero-phase cascade.

All functions filter along axis 0 of an array (T, ...) sampled at ``fps`` frames per second, element by element
(each joint coordinate on its own). NaN marks a missing sample and stays NaN in the output.

The app analyses a whole video before it shows the result, so it can afford a filter that looks ahead:
``smooth_track`` removes one- or two-frame spikes (a joint that jumps to the wrong limb for a frame) with a short
running median, then runs the One-Euro filter forwards and again backwards over the result. The backward pass
cancels the delay of the forward one, so a fast movement is not shifted in time, while a still joint gets the
low-pass of both passes. ``benchmarks/smoothing_tradeoff.py`` measures the choice on synthetic motion with known
truth and on the real clips.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

DEFAULT_MEDIAN_S = 0.07  # 3 frames at 30 fps, 5 at 60 fps: short enough to keep a 3 Hz swing's peaks
# The app's One-Euro settings (``benchmarks/smoothing_tradeoff.py``): Hz when still, Hz per torso length per second,
# and the speed estimate's low-pass in Hz (4 rather than 1 keeps a clean 2 Hz swing's peaks).
DEFAULT_MIN_CUTOFF, DEFAULT_BETA, DEFAULT_D_CUTOFF = 1.0, 8.0, 4.0


def median_window(fps: float, seconds: float = DEFAULT_MEDIAN_S) -> int:
    """Odd number of frames (>= 1) of a running median lasting about ``seconds`` at ``fps``; 1 means no median."""
    if seconds <= 0:
        return 1
    frames = int(round(seconds * fps))
    return max(3, frames | 1)


def running_median(values: np.ndarray, window: int) -> np.ndarray:
    """Centred running median of ``values`` (T, ...) over ``window`` frames (odd), ignoring NaN neighbours.

    The ends are padded by repeating the first and last rows. Samples that are NaN in ``values`` stay NaN (the
    median never invents a joint the network did not find). Returns float64 of the same shape.
    """
    data = np.asarray(values, dtype=np.float64)
    if window <= 1 or len(data) == 0:
        return data.copy()
    half = window // 2
    padded = np.concatenate([np.repeat(data[:1], half, axis=0), data, np.repeat(data[-1:], half, axis=0)])
    windows = sliding_window_view(padded, window, axis=0)  # (T, ..., window)
    finite = np.isfinite(windows)
    filled = np.where(finite, windows, np.inf)  # NaN neighbours sort last and are skipped below
    filled.sort(axis=-1)
    count = finite.sum(axis=-1)
    lower = np.take_along_axis(filled, np.maximum((count - 1) // 2, 0)[..., None], axis=-1)[..., 0]
    upper = np.take_along_axis(filled, np.maximum(count // 2, 0)[..., None], axis=-1)[..., 0]
    median = np.where(count > 0, (lower + upper) / 2, np.nan)
    return np.where(np.isfinite(data), median, np.nan)


def one_euro_smooth(
    values: np.ndarray, fps: float, min_cutoff: float = 1.0, beta: float = 10.0, d_cutoff: float = 1.0,
    speed_scale: float = 1.0,
) -> np.ndarray:  # fmt: skip
    """One-Euro filter (Casiez, Roussel & Vogel, CHI 2012) along axis 0 of ``values`` (T, ...), per element.

    A low-pass filter whose cutoff rises with speed: still joints are smoothed hard, fast ones follow with little
    lag. Per sample, at ``fps`` frames per second:

    * ``min_cutoff`` (Hz): cutoff when still; lower = smoother, more lag on slow drifts.
    * ``beta`` (Hz per unit of speed): how fast the cutoff rises with speed, measured in ``speed_scale`` units per
      second (``PoseSequence.smoothed`` uses the torso length, so beta is per torso length per second).
    * ``d_cutoff`` (Hz): cutoff of the low-pass on the speed estimate itself.

    NaN marks a missing sample: the output is NaN there and the filter restarts after the gap.
    Returns float32 of the same shape.
    """
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return data.astype(np.float32)
    flat = data.reshape(len(data), -1)
    out = np.full_like(flat, np.nan)

    def alpha(cutoff):
        return 1.0 / (1.0 + fps / (2.0 * np.pi * cutoff))

    previous = np.full(flat.shape[1], np.nan)
    speed = np.zeros(flat.shape[1])
    speed_alpha = alpha(d_cutoff)
    for t, current in enumerate(flat):
        valid = np.isfinite(current)
        restart = valid & ~np.isfinite(previous)
        raw_speed = np.where(valid & ~restart, (current - previous) * fps / speed_scale, 0.0)
        speed = np.where(restart, 0.0, speed + speed_alpha * (raw_speed - speed))
        smoothed = previous + alpha(min_cutoff + beta * np.abs(speed)) * (current - previous)
        previous = np.where(valid, np.where(restart, current, smoothed), np.nan)
        speed = np.where(valid, speed, 0.0)
        out[t] = previous
    return out.reshape(data.shape).astype(np.float32)


def smooth_track(
    values: np.ndarray, fps: float, min_cutoff: float = DEFAULT_MIN_CUTOFF, beta: float = DEFAULT_BETA,
    d_cutoff: float = DEFAULT_D_CUTOFF, speed_scale: float = 1.0, median_s: float = DEFAULT_MEDIAN_S,
) -> np.ndarray:  # fmt: skip
    """Offline smoothing of a whole track (T, ...): running median (``median_s`` seconds), then the One-Euro
    filter forwards and backwards (zero phase: no lag). Parameters as in ``one_euro_smooth``. Returns float32."""
    despiked = running_median(values, median_window(fps, median_s))
    forward = one_euro_smooth(despiked, fps, min_cutoff, beta, d_cutoff, speed_scale)
    return one_euro_smooth(forward[::-1], fps, min_cutoff, beta, d_cutoff, speed_scale)[::-1].copy()
