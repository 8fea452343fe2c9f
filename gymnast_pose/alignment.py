"""Temporal alignment of two performances: a common clock, banded dynamic time warping, constant-offset search.

Vocabulary: sequence ``a`` is the reference (the coach), sequence ``b`` the other one (the student). A *path* is a
pair of equally long index arrays ``(path_a, path_b)``, non-decreasing, that starts at ``(0, 0)`` and ends at
``(n - 1, m - 1)``; each step moves by one in ``a``, in ``b``, or in both. A *shift* ``s`` pairs ``a[i]`` with
``b[i + s]``: a positive shift means that ``b`` shows the same moment ``s`` frames later than ``a``.

Everything here works on plain arrays of normalised poses (built by ``gymnast_pose.compare``) and frame indices.

Dynamic time warping follows Sakoe & Chiba, "Dynamic programming algorithm optimization for spoken word
recognition" (IEEE Trans. ASSP, 1978), with the symmetric step pattern (1, 0), (0, 1), (1, 1) and the band drawn
around the diagonal of the (n, m) rectangle, so that sequences of different lengths still reach the end corner.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# Step codes stored per band cell for the backtrack.
_DIAGONAL, _FROM_PREVIOUS_A, _FROM_PREVIOUS_B = 0, 1, 2

PairCost = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""cost(rows (R,), columns (R, W)) -> (R, W) non-negative costs of pairing a[rows[r]] with b[columns[r, w]]."""


def resample_indices(num_frames: int, fps: float, target_fps: float, start: int = 0) -> np.ndarray:
    """Frame indices of a video at ``fps`` that are nearest to the ticks of a ``target_fps`` clock.

    The clock starts at frame ``start`` (time 0 of the clock) and runs while it stays inside the ``num_frames``
    frames that follow. Returns (N,) int64 frame indices in the original video, possibly repeating frames when
    ``target_fps`` is the higher rate.
    """
    if num_frames <= 0:
        return np.zeros(0, dtype=np.int64)
    duration_s = (num_frames - 1) / fps
    ticks = np.arange(int(np.floor(duration_s * target_fps + 1e-9)) + 1)
    nearest = np.floor(ticks * (fps / target_fps) + 0.5).astype(np.int64)  # ties round up
    return start + np.minimum(nearest, num_frames - 1)


def band_limits(n: int, m: int, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """First and last column (inclusive, (n,) int64 each) of every row of a Sakoe-Chiba band of an (n, m) grid.

    The band follows the straight line from (0, 0) to (n - 1, m - 1) with ``radius`` columns on either side, and is
    widened where needed so that consecutive rows connect (a path can always reach the end corner).
    """
    if n <= 0 or m <= 0:
        raise ValueError("time warping needs two non-empty sequences")
    centre = np.arange(n) * ((m - 1) / (n - 1)) if n > 1 else np.zeros(1)
    first = np.clip(np.ceil(centre - radius - 1e-9), 0, m - 1).astype(np.int64)
    last = np.clip(np.floor(centre + radius + 1e-9), 0, m - 1).astype(np.int64)
    if n == 1:
        first[:], last[:] = 0, m - 1
    # A diagonal step from the end of row i reaches column last[i] + 1 of row i + 1: rows must overlap or touch.
    first[1:] = np.minimum(first[1:], last[:-1] + 1)
    first[0], last[-1] = 0, m - 1
    return first, last


@dataclass(frozen=True)
class WarpingPath:
    """Result of ``banded_dtw``: the optimal path through the band and its accumulated cost.

    path_a, path_b: (L,) int64 indices into the two sequences (see the module docstring).
    total_cost: sum of the pair costs along the path. band_cells: number of grid cells evaluated (memory is
    proportional to it: one byte per cell for the backtrack).
    """

    path_a: np.ndarray
    path_b: np.ndarray
    total_cost: float
    band_cells: int


def banded_dtw(pair_cost: PairCost, n: int, m: int, radius: int, rows_per_block: int = 256) -> WarpingPath:
    """Dynamic time warping restricted to a Sakoe-Chiba band of ``radius`` frames around the rectangle's diagonal.

    Rows of the cost grid are processed one at a time with numpy over the band. Inside a row the recurrence
    ``D[i, j] = c[i, j] + min(D[i-1, j-1], D[i-1, j], D[i, j-1])`` has a left-to-right dependency; it is solved in
    closed form with prefix sums: ``D[i, j] = S[j] + min over k <= j of (E[k] - S[k-1])`` where ``S`` is the
    prefix sum of the row's costs and ``E[k] = min(D[i-1, k-1], D[i-1, k])`` the best entry from the row above.
    Costs are requested from ``pair_cost`` in blocks of ``rows_per_block`` rows, so memory is O(band) and never
    O(n * m): one byte per band cell for the backtrack plus one block of costs.
    """
    first, last = band_limits(n, m, int(radius))
    widths = last - first + 1
    max_width = int(widths.max())
    steps = np.empty((n, max_width), dtype=np.uint8)
    offsets = np.arange(max_width)
    previous = np.zeros(0)
    for block_start in range(0, n, rows_per_block):
        rows = np.arange(block_start, min(n, block_start + rows_per_block))
        columns = np.minimum(first[rows, None] + offsets, m - 1)
        costs = np.asarray(pair_cost(rows, columns), dtype=np.float64)
        for r, i in enumerate(rows):
            width, lo = int(widths[i]), int(first[i])
            cost = costs[r, :width]
            prefix = np.cumsum(cost)
            if i == 0:
                current = prefix
                steps[0, :width] = _FROM_PREVIOUS_B
                steps[0, 0] = _DIAGONAL
            else:
                # Previous row's D over columns lo - 1 .. lo + width - 1, infinite outside its band.
                above = np.full(width + 1, np.inf)
                p_lo, p_hi = int(first[i - 1]), int(last[i - 1])
                start, stop = max(p_lo, lo - 1), min(p_hi, lo + width - 1)
                if start <= stop:
                    above[start - lo + 1 : stop - lo + 2] = previous[start - p_lo : stop - p_lo + 1]
                diagonal, straight_up = above[:-1], above[1:]
                from_a = straight_up < diagonal
                entry = np.where(from_a, straight_up, diagonal)
                candidate = entry - (prefix - cost)
                best = np.minimum.accumulate(candidate)
                current = prefix + best
                steps[i, :width] = np.where(
                    best < candidate, _FROM_PREVIOUS_B, np.where(from_a, _FROM_PREVIOUS_A, _DIAGONAL)
                )
            previous = current
    return WarpingPath(*_backtrack(steps, first, n, m), total_cost=float(previous[-1]), band_cells=int(widths.sum()))


def _backtrack(steps: np.ndarray, first: np.ndarray, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    path_a = np.empty(n + m, dtype=np.int64)
    path_b = np.empty(n + m, dtype=np.int64)
    i, j, length = n - 1, m - 1, 0
    while True:
        path_a[length], path_b[length] = i, j
        length += 1
        if i == 0 and j == 0:
            break
        step = steps[i, j - first[i]]
        if step == _DIAGONAL:
            i, j = i - 1, j - 1
        elif step == _FROM_PREVIOUS_A:
            i -= 1
        else:
            j -= 1
    return path_a[:length][::-1].copy(), path_b[:length][::-1].copy()


@dataclass(frozen=True)
class ShiftSearch:
    """Mean squared pose distance for every tried shift (see ``search_constant_shift``).

    shifts: (S,) int64 tried shifts in frames; mean_squared_distance: (S,) float64 (inf where too little overlap);
    best_shift: the shift with the smallest mean squared distance.
    """

    shifts: np.ndarray
    mean_squared_distance: np.ndarray
    best_shift: int


def search_constant_shift(
    xy_a: np.ndarray,
    weight_a: np.ndarray,
    xy_b: np.ndarray,
    weight_b: np.ndarray,
    max_shift: int | None = None,
    min_overlap: int | None = None,
) -> ShiftSearch:
    """Best constant shift between two pose sequences by weighted cross-correlation (FFT, O((n + m) log(n + m))).

    For every shift ``s`` the criterion is ``sum_i,k w_a[i,k] w_b[i+s,k] |p_a[i,k] - p_b[i+s,k]|^2`` divided by
    ``sum_i,k w_a[i,k] w_b[i+s,k]``: the confidence-weighted mean squared joint distance over the overlap. Expanding
    the square turns each sum into a cross-correlation, all computed with one batch of FFTs.

    Args:
        xy_a, xy_b: (n, K, 2) and (m, K, 2) normalised joint positions; entries with zero weight may hold anything.
        weight_a, weight_b: (n, K) and (m, K) non-negative joint weights (0 = excluded).
        max_shift: largest |shift| tried, in frames (default: as far as ``min_overlap`` allows).
        min_overlap: fewest overlapping frames a shift needs (default: half of the shorter sequence, at least 1).
    """
    n, m = len(xy_a), len(xy_b)
    if n == 0 or m == 0:
        raise ValueError("offset search needs two non-empty sequences")
    min_overlap = max(1, min(n, m) // 2) if min_overlap is None else max(1, int(min_overlap))
    xy_a = np.nan_to_num(np.asarray(xy_a, dtype=np.float64))
    xy_b = np.nan_to_num(np.asarray(xy_b, dtype=np.float64))
    w_a, w_b = np.asarray(weight_a, dtype=np.float64), np.asarray(weight_b, dtype=np.float64)
    squared_a, squared_b = (xy_a**2).sum(-1), (xy_b**2).sum(-1)
    # Pairs (left factor over a, right factor over b) whose correlations make numerator and denominator.
    left = np.concatenate([w_a * squared_a, w_a, w_a * xy_a[..., 0], w_a * xy_a[..., 1], w_a], axis=1)
    right = np.concatenate([w_b, w_b * squared_b, w_b * xy_b[..., 0], w_b * xy_b[..., 1], w_b], axis=1)
    size = 1 << int(np.ceil(np.log2(n + m)))
    spectrum = np.conj(np.fft.rfft(left, size, axis=0)) * np.fft.rfft(right, size, axis=0)
    correlation = np.fft.irfft(spectrum, size, axis=0)  # row s (mod size): sum_i left[i] * right[i + s]
    k = xy_a.shape[1]
    parts = correlation.reshape(size, 5, k).sum(axis=2)
    numerator = parts[:, 0] + parts[:, 1] - 2.0 * (parts[:, 2] + parts[:, 3])
    denominator = parts[:, 4]
    shifts = np.arange(-(n - 1), m)
    numerator, denominator = numerator[shifts % size], denominator[shifts % size]
    overlap = np.minimum(n, m - shifts) - np.maximum(0, -shifts)
    usable = (overlap >= min_overlap) & (denominator > 1e-9 * max(1.0, float(denominator.max())))
    if max_shift is not None:
        usable &= np.abs(shifts) <= max_shift
    if not usable.any():
        raise ValueError("no shift leaves enough overlapping frames with confident joints to compare")
    mean_squared = np.full(len(shifts), np.inf)
    mean_squared[usable] = np.maximum(numerator[usable] / denominator[usable], 0.0)
    best = int(shifts[np.argmin(mean_squared)])
    return ShiftSearch(shifts=shifts, mean_squared_distance=mean_squared, best_shift=best)


def pose_pair_cost(
    xy_a: np.ndarray, weight_a: np.ndarray, xy_b: np.ndarray, weight_b: np.ndarray, missing_cost: float = 1.0
) -> PairCost:
    """A ``PairCost`` for ``banded_dtw``: weighted mean joint distance between poses of ``a`` and poses of ``b``.

    xy_a (n, K, 2), weight_a (n, K), xy_b (m, K, 2), weight_b (m, K): normalised positions and joint weights
    (0 = excluded; positions there are ignored). A joint counts with the lower of its two weights; a pair with no
    joint in common costs ``missing_cost``.
    """
    k = xy_a.shape[1]
    # One (frames, 3K) float32 table per side, [x..., y..., weight...], so each block needs a single gather.
    table_a = np.concatenate([np.nan_to_num(xy_a[..., 0]), np.nan_to_num(xy_a[..., 1]), weight_a], axis=1)
    table_b = np.concatenate([np.nan_to_num(xy_b[..., 0]), np.nan_to_num(xy_b[..., 1]), weight_b], axis=1)
    table_a, table_b = table_a.astype(np.float32), table_b.astype(np.float32)
    ones = np.ones(k, dtype=np.float32)

    def cost(rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
        a = table_a[rows, None, :]
        b = table_b[columns]
        dx = np.subtract(a[..., :k], b[..., :k])
        dy = np.subtract(a[..., k : 2 * k], b[..., k : 2 * k])
        np.multiply(dx, dx, out=dx)
        np.multiply(dy, dy, out=dy)
        np.add(dx, dy, out=dx)
        distance = np.sqrt(dx, out=dx)
        weight = np.minimum(a[..., 2 * k :], b[..., 2 * k :])
        total = weight @ ones  # sums over the joints (matmul is much faster than a sum over a short last axis)
        weighted = np.einsum("rwk,rwk->rw", weight, distance)
        return np.where(total > 0, weighted / np.maximum(total, 1e-12), missing_cost)

    return cost


@dataclass(frozen=True)
class TimeMap:
    """Monotone map from times on one side to times on the other, built from aligned frame pairs.

    times_s: (U,) distinct times of the source side, increasing; other_times_s: (U,) mean time of the frames paired
    with each. Inside the aligned span the map interpolates; outside it keeps the time offset of the nearest end.
    """

    times_s: np.ndarray
    other_times_s: np.ndarray

    @classmethod
    def from_pairs(cls, times_s: np.ndarray, other_times_s: np.ndarray) -> TimeMap:
        unique, inverse = np.unique(np.asarray(times_s, dtype=np.float64), return_inverse=True)
        counts = np.bincount(inverse)
        return cls(unique, np.bincount(inverse, np.asarray(other_times_s, dtype=np.float64)) / counts)

    def __call__(self, times_s: np.ndarray | float) -> np.ndarray:
        t = np.asarray(times_s, dtype=np.float64)
        mapped = np.interp(t, self.times_s, self.other_times_s)
        mapped = np.where(t < self.times_s[0], t + (self.other_times_s[0] - self.times_s[0]), mapped)
        return np.where(t > self.times_s[-1], t + (self.other_times_s[-1] - self.times_s[-1]), mapped)

    def map_frames(self, frames, fps: float, other_fps: float, other_first: int, other_stop: int):
        """Frame index (int or array) at ``fps`` -> nearest frame at ``other_fps`` within [other_first, other_stop)."""
        other = np.floor(self(np.asarray(frames, dtype=np.float64) / fps) * other_fps + 0.5)
        result = np.clip(other, other_first, other_stop - 1).astype(np.int64)
        return int(result) if result.ndim == 0 else result


def align_rows(
    xy_a: np.ndarray, weight_a: np.ndarray, fps_a: float, xy_b: np.ndarray, weight_b: np.ndarray, fps_b: float,
    *, method: str = "dtw", offset_s: float | None = 0.0, band_s: float = 2.0, max_offset_s: float | None = None,
    missing_cost: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, float | None]:  # fmt: skip
    """Aligned pairs of rows of two pose sequences, ``a`` (the clock) at ``fps_a`` and ``b`` at ``fps_b``.

    xy_* (T, K, 2) normalised positions, weight_* (T, K) joint weights (0 = excluded). ``b`` is first resampled
    onto ``a``'s frame clock (nearest frame), so the two are aligned in seconds whatever their frame rates.

    method "dtw": ``banded_dtw`` with ``pose_pair_cost`` and a band of ``band_s`` seconds. method "offset": row i of
    ``a`` at time i / fps_a pairs with the ``b`` row nearest to that time + ``offset_s``; ``offset_s=None`` takes
    the best whole-frame shift of ``search_constant_shift`` (at most ``max_offset_s``). Returns (rows_a (P,),
    rows_b (P,), the offset used in seconds or None for DTW); ``ValueError`` if nothing overlaps.
    """
    clock = resample_indices(len(xy_b), fps_b, fps_a)
    if method == "dtw":
        cost = pose_pair_cost(xy_a, weight_a, xy_b[clock], weight_b[clock], missing_cost)
        path = banded_dtw(cost, len(xy_a), len(clock), radius=int(math.ceil(band_s * fps_a)))
        return path.path_a, clock[path.path_b], None
    if offset_s is None:
        max_shift = None if max_offset_s is None else int(round(max_offset_s * fps_a))
        search = search_constant_shift(xy_a, weight_a, xy_b[clock], weight_b[clock], max_shift=max_shift)
        offset_s = search.best_shift / fps_a
    rows_a = np.arange(len(xy_a))
    rows_b = np.floor((rows_a / fps_a + offset_s) * fps_b + 0.5).astype(np.int64)  # nearest frame, ties later
    inside = (rows_b >= 0) & (rows_b < len(xy_b))
    if not inside.any():
        raise ValueError(f"with an offset of {offset_s:g} s the two performances do not overlap in time")
    return rows_a[inside], rows_b[inside], offset_s
