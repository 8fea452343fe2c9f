"""Benchmark: does the tracker keep the athlete of the platform clip when a passer-by walks under his flip?

``exercise/platform_exercise.mp4`` (1768 x 994, 230 frames): the athlete stands on a platform, flips off it from
about frame 129 while a woman walks past below, lands around frame 190 and runs out at the right edge. No ground
truth exists; where he is was read off the contact sheet by eye, as three checks on the median x of the analysed
joints (frame pixels): frames 150-169 right of x = 800 (in the air, the woman is left of 700), frames 185-199 right
of 900 (landing near x = 1150; the woman is at the left edge) and frames 215-229 right of 1200 (running out).

The outcome depends on small differences in the network's output (see benchmarks/README.md, "Real clips"), so
the clip is analysed in several arithmetics and input sizes, each a slightly different network output, and the
script reports how many of those runs pass all three checks. Figures of 2026-12-03: 3 of 9 with the default
tracker, 1 of 9 with the identity check off (``--max-speed 0 --max-jump 1e9``).

    python benchmarks/platform_identity.py --out benchmarks/results/platform_identity.json
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT.parent / "shared" / "data" / "videos" / "exercise" / "platform_exercise.mp4"
CHECKS = ((150, 170, 800.0), (185, 200, 900.0), (215, 230, 1200.0))  # frames [start, stop), x right of this


def median_x(keypoints: np.ndarray) -> np.ndarray:
    """(T,) median x of each frame's joints (NaN where none): keypoints (T, K, 3)."""
    x = keypoints[..., 0]
    out = np.full(len(x), np.nan)
    has = np.isfinite(x).any(axis=1)
    out[has] = np.nanmedian(x[has], axis=1)
    return out


def checks_passed(keypoints: np.ndarray) -> list[bool]:
    """One bool per entry of ``CHECKS``: the mean median-x over its frames lies right of its bound."""
    x = median_x(keypoints)
    return [bool(np.nanmean(x[a:b]) > bound) if np.isfinite(x[a:b]).any() else False for a, b, bound in CHECKS]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--video", type=Path, default=CLIP)
    p.add_argument("--precisions", nargs="+", default=["bf16", "fp32", "int8"])
    p.add_argument("--sizes", nargs="+", type=int, default=[256, 224, 288])
    p.add_argument("--max-jump", type=float, default=None, help="EstimatorConfig.max_jump (default: the tracker's)")
    p.add_argument("--max-speed", type=float, default=None, help="EstimatorConfig.max_speed (default: the tracker's)")
    p.add_argument("--out", type=Path, default=None, help="JSON file for the results")
    args = p.parse_args(argv)
    if not args.video.is_file():
        print(f"no clip at {args.video}: nothing to do")
        return 0
    from gymnast_pose.analysis import AnalysisOptions, analyze_video
    from gymnast_pose.estimator import EstimatorConfig
    from gymnast_pose.inference import cpu_has_fast_bfloat16
    from gymnast_pose.quantized import int8_supported

    overrides = {k: v for k, v in (("max_jump", args.max_jump), ("max_speed", args.max_speed)) if v is not None}
    config = replace(EstimatorConfig(), **overrides)
    runs = []
    for size in args.sizes:
        for precision in args.precisions:
            if (precision == "bf16" and not cpu_has_fast_bfloat16()) or (precision == "int8" and not int8_supported()):
                continue  # slow or unavailable here: not a fair perturbation
            options = AnalysisOptions(precision=precision, input_size=size, estimator=config, use_cache=False,
                                      smooth=False)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                poses = analyze_video(args.video, options=options)
            passed = checks_passed(poses.keypoints)
            runs.append({"input_size": size, "precision": precision, "checks": passed, "kept": all(passed)})
            print(f"{size} px {precision:5s} checks {sum(passed)}/{len(passed)}{'  kept' if all(passed) else ''}",
                  flush=True)
    kept = sum(r["kept"] for r in runs)
    print(f"athlete kept to the end in {kept} of {len(runs)} runs")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"video": str(args.video), "config": overrides or "default", "runs": runs,
                                        "kept": kept, "total": len(runs)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
