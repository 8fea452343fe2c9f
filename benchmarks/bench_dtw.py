"""Benchmark: banded dynamic time warping on two 10-minute, 60-fps pose sequences (36,000 frames each).

Run: ``python benchmarks/bench_dtw.py [--minutes 10] [--fps 60] [--bands 1 2 5]``

For each band radius it reports, for ``alignment.banded_dtw`` with the real pose cost
(``alignment.pose_pair_cost``) and for the whole ``compare.compare_sequences``:
  - wall time (``time.perf_counter``, best of two runs without tracing);
  - peak memory allocated during the call (``tracemalloc``, which numpy reports its arrays to), in a second run;
  - the number of band cells, to show memory grows with the band and not with n * m.
The synthetic student is the coach's smooth random movement, 0.5 s later, with a slow tempo wobble of up to
+-0.8 s (period 60 s) and 1 px of noise: a 2 s band can follow it, a 1 s band cannot everywhere.
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc

import numpy as np

from gymnast_pose.alignment import banded_dtw, pose_pair_cost
from gymnast_pose.compare import CompareOptions, compare_sequences, normalise_poses
from gymnast_pose.sequence import PoseSequence
from gymnast_pose.skeleton import K


def smooth_movement(times_s: np.ndarray, seed: int = 0) -> np.ndarray:
    """Keypoints (T, K, 3): a standing figure whose joints sway with random low-frequency sinusoids."""
    rng = np.random.default_rng(seed)
    rest = np.array([[0, 170], [0, 90], [-8, 0], [8, 0], [0, 90], [0, 170], [-30, 0], [-25, -50], [-20, -100],
                     [20, -100], [25, -50], [30, 0], [0, -110], [0, -150]], dtype=np.float64)  # fmt: skip
    keypoints = np.ones((len(times_s), K, 3))
    keypoints[..., :2] = 640.0 + rest
    for _ in range(6):
        frequency = rng.uniform(0.05, 0.8)
        amplitude = rng.uniform(5.0, 30.0, size=(K, 2))
        phase = rng.uniform(0, 2 * np.pi, size=(K, 2))
        keypoints[..., :2] += amplitude * np.sin(2 * np.pi * frequency * times_s[:, None, None] + phase)
    return keypoints.astype(np.float32)


def make_pair(minutes: float, fps: float) -> tuple[PoseSequence, PoseSequence]:
    frames = int(minutes * 60 * fps)
    times = np.arange(frames) / fps
    coach = PoseSequence(smooth_movement(times), fps)
    student_kp = smooth_movement(times - 0.5 - 0.8 * np.sin(2 * np.pi * times / 60.0))
    student_kp[..., :2] += np.random.default_rng(1).normal(0.0, 1.0, student_kp[..., :2].shape).astype(np.float32)
    return coach, PoseSequence(student_kp, fps)


def measure(call) -> tuple[float, float, object]:
    """(best of two untraced wall times in seconds, peak MiB allocated during a traced call, result)."""
    seconds = np.inf
    for _ in range(2):
        gc.collect()
        start = time.perf_counter()
        result = call()
        seconds = min(seconds, time.perf_counter() - start)
        del result
    gc.collect()
    tracemalloc.start()
    result = call()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, peak / 2**20, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--fps", type=float, default=60.0)
    parser.add_argument("--bands", type=float, nargs="+", default=[1.0, 2.0, 5.0], help="band radii, seconds")
    args = parser.parse_args()
    coach, student = make_pair(args.minutes, args.fps)
    n, m = coach.num_frames, student.num_frames
    print(
        f"{n} x {m} frames ({args.minutes:g} min at {args.fps:g} fps); a full cost matrix would need "
        f"{n * m * 8 / 2**30:.1f} GiB in float64"
    )
    a = normalise_poses(coach.keypoints, coach.fps)
    b = normalise_poses(student.keypoints, student.fps)
    cost = pose_pair_cost(a.xy, a.weight, b.xy, b.weight)
    print(
        f"{'band':>6} {'cells':>12} {'dtw s':>7} {'dtw MiB':>8} {'compare s':>10} {'compare MiB':>12} "
        f"{'median offset s':>16} {'tempo':>6}"
    )
    for band_s in args.bands:
        radius = int(np.ceil(band_s * args.fps))
        dtw_s, dtw_mib, path = measure(lambda radius=radius: banded_dtw(cost, n, m, radius))
        options = CompareOptions(band_s=band_s)
        compare_s, compare_mib, result = measure(lambda options=options: compare_sequences(coach, student, options))
        print(
            f"{band_s:5g}s {path.band_cells:12,d} {dtw_s:7.2f} {dtw_mib:8.1f} {compare_s:10.2f} "
            f"{compare_mib:12.1f} {result.offset_s:16.2f} {result.tempo_ratio:6.3f}"
        )


if __name__ == "__main__":
    main()
