"""How much each smoothing choice removes noise, and what it costs on real movement, on tracks with a known truth.

Synthetic joint tracks (14 joints x 2 coordinates, in torso lengths) follow five movements: ``still``; ``swing1``
(1 Hz, half a torso); ``swing3`` (3 Hz, 0.8 torso: a fast arm or leg swing); ``step`` (a jump of one torso length
between two frames); ``flip`` (three torso lengths in 0.4 s). Each is observed with the noise the network shows on
real clips: Gaussian (sigma 0.05 torso) plus 3 % of samples thrown 0.5 torso away (a joint that lands on another
limb). For every filter the table gives the RMS error against the truth (torso lengths; lower is better) at 30 and
60 fps, averaged over three noise seeds, and the delay it adds to the 1 Hz swing (milliseconds; a causal filter
trails the movement). The app's default is ``smooth_track`` with its default parameters.

    python benchmarks/smoothing_tradeoff.py [--json results/smoothing_tradeoff.json]

Jitter on the real clips' stillest second, raw and with the app's smoothing, is in ``real_clips.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from gymnast_pose.smoothing import one_euro_smooth, smooth_track

MOVEMENTS = ("still", "swing1", "swing3", "step", "flip")
FILTERS = {
    "raw network output": lambda x, fps: x,
    "One-Euro causal (1 Hz, beta 10, d 1 Hz; before 2026-11-25)": lambda x, fps: one_euro_smooth(x, fps, 1.0, 10.0),
    "One-Euro zero-phase, no median": lambda x, fps: smooth_track(x, fps, median_s=0.0),
    "median 0.07 s + One-Euro zero-phase (app default)": lambda x, fps: smooth_track(x, fps),
    "median 0.07 s + zero-phase, d_cutoff 1 Hz": lambda x, fps: smooth_track(x, fps, d_cutoff=1.0),
    "median 0.07 s + zero-phase, min_cutoff 0.5 Hz, beta 4": lambda x, fps: smooth_track(x, fps, 0.5, 4.0),
}


def truth_track(movement: str, fps: float, seconds: float = 6.0) -> np.ndarray:
    """(T, 14, 2) true positions in torso lengths: every joint moves the same way along x, y stays 0."""
    t = np.arange(int(seconds * fps)) / fps
    x = {"still": 0 * t, "swing1": 0.5 * np.sin(2 * np.pi * t), "swing3": 0.8 * np.sin(2 * np.pi * 3 * t),
         "step": (t > seconds / 2).astype(float), "flip": 3.0 * np.clip((t - 2.0) / 0.4, 0.0, 1.0)}[movement]
    track = np.zeros((len(t), 14, 2))
    track[..., 0] = x[:, None]
    return track


def observe(truth: np.ndarray, seed: int, sigma: float = 0.05, outlier_rate: float = 0.03) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noisy = truth + rng.normal(0.0, sigma, truth.shape)
    outliers = rng.random(truth.shape[:2]) < outlier_rate
    noisy[outliers] += rng.normal(0.0, 0.5, (int(outliers.sum()), 2))
    return noisy


def delay_ms(filtered: np.ndarray, truth: np.ndarray, fps: float) -> float:
    """First-order delay: filtered(t) ~ truth(t - d) ~ truth(t) - d v(t), solved for d by least squares."""
    velocity = np.gradient(truth, axis=0) * fps
    return 1000.0 * float(-np.sum((filtered - truth) * velocity) / np.sum(velocity**2))


def measure(seeds: int = 3) -> dict:
    results = {}
    for name, apply in FILTERS.items():
        row = {}
        for fps in (30.0, 60.0):
            for movement in MOVEMENTS:
                truth = truth_track(movement, fps)
                errors = [np.sqrt(np.mean((apply(observe(truth, s), fps) - truth) ** 2)) for s in range(seeds)]
                row[f"rms_{movement}@{fps:g}"] = round(float(np.mean(errors)), 4)
            swing = truth_track("swing1", fps)
            inner = slice(int(fps), -int(fps))
            row[f"delay_ms_swing1@{fps:g}"] = round(delay_ms(apply(swing, fps)[inner], swing[inner], fps), 1)
        results[name] = row
    return results


def markdown(results: dict) -> str:
    lines = []
    for fps in ("30", "60"):
        lines += [f"\n{fps} fps: RMS error (torso lengths) and delay on the 1 Hz swing without noise\n",
                  "| filter | " + " | ".join(MOVEMENTS) + " | delay (ms) |", "|---|" + "---|" * (len(MOVEMENTS) + 1)]
        for name, row in results.items():
            delay = row[f"delay_ms_swing1@{fps}"]
            cells = [f"{row[f'rms_{m}@{fps}']:.3f}" for m in MOVEMENTS] + [f"{0.0 if abs(delay) < 0.5 else delay:.0f}"]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = p.parse_args(argv)
    results = measure()
    print(markdown(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
