"""Benchmark: batched crop inference throughput of our pose network (``PosePredictor.predict_crops``).

Run: ``python benchmarks/bench_inference.py [--model resources/gymnast_pose.pt] [--device cpu] [--sizes 192 256]
[--batches 16 32 64] [--threads 2]``

For every input size S (the given sizes plus the model's own input size) and batch size B it times
``predict_crops`` on B crops (N, S, S, 3) uint8: normalisation, the network (batch-norm fused, channels-last;
``--precision`` auto: float16 on CUDA, bfloat16 on CPUs with AVX512-BF16/AMX, else float32), the codec's
probabilities and the decoding to keypoints, i.e. everything between a crop and its keypoints.
Cropping the frame is not included (``bench_video.py`` measures the whole pipeline). ``--support-window 1`` times the
video tracker's single-cell decoding (``EstimatorConfig.support_window``), the default the codec's own (5 x 5 blocks,
as for stills); ``--flip`` adds the mirrored run that stills use (twice the network's work); ``--no-refinement``
drops the network's refinement stage, as the video tracker does unless the checkpoint's
``inference.video_refinement`` asks for it (``export_model --video-refinement``).

* crops: real hold-out person crops from ``data_cache/lspet_holdout_176.npz`` resized to S when that store
  exists, otherwise random noise (the time does not depend on the content);
* ``--warmup`` untimed calls, then ``--repeats`` timed calls (``time.perf_counter``; on CUDA after
  ``torch.cuda.synchronize``); reported: median and best ms per batch, ms per crop and crops/s from the median;
* CPU threads: ``torch.set_num_threads(--threads)`` (default 2).

Writes ``benchmarks/results/inference_<device>.json`` (``--out`` to change) and prints a table. The machine's
1-minute load average is recorded before and after: numbers measured while something else runs are not comparable.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from gymnast_pose.inference import PosePredictor
from gymnast_pose.model import bundled_model_path

ROOT = Path(__file__).resolve().parents[1]
HOLDOUT_STORE = ROOT / "data_cache" / "lspet_holdout_176.npz"
RESULTS = Path(__file__).resolve().parent / "results"


def load_avg() -> float | None:
    """The 1-minute load average (None where the OS has none)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def write_report(report: dict, out: Path | None, default_name: str) -> Path:
    """Write a benchmark's JSON report (to ``out``, else ``results/<default_name>``) and print where, with the load
    average before and after the run, so a run disturbed by other work can be spotted."""
    out = Path(out) if out else RESULTS / default_name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"load average (1 min) {report['load_average_1min_before']} before, {report['load_average_1min_after']} "
          f"after; written to {out}")
    return out


def source_crops(count: int, seed: int = 0) -> tuple[np.ndarray, str]:
    """Up to ``count`` RGB crops (n, s, s, 3) uint8 from the hold-out crop store, else noise; and their origin."""
    if HOLDOUT_STORE.exists():
        with np.load(HOLDOUT_STORE) as z:
            data, offsets = z["data"], z["offsets"]
        n = min(count, len(offsets) - 1)
        crops = [cv2.cvtColor(cv2.imdecode(data[offsets[i]:offsets[i + 1]], cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
                 for i in range(n)]
        return np.stack(crops), f"hold-out crops ({HOLDOUT_STORE.name})"
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (count, 176, 176, 3), dtype=np.uint8), "random noise"


def crops_at(base: np.ndarray, size: int, batch: int) -> np.ndarray:
    """``batch`` crops resized to ``size`` x ``size`` (cycling through ``base``)."""
    out = np.empty((batch, size, size, 3), np.uint8)
    for i in range(batch):
        out[i] = cv2.resize(base[i % len(base)], (size, size), interpolation=cv2.INTER_LINEAR)
    return out


def time_calls(call, device: torch.device, warmup: int, repeats: int) -> list[float]:
    """Seconds of each of ``repeats`` calls after ``warmup`` untimed ones (CUDA synchronised)."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(warmup):
        call()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        sync()
        times.append(time.perf_counter() - start)
    return times


def run(args: argparse.Namespace) -> dict:
    """Every (size, batch) combination -> the report dict written to JSON."""
    model = str(args.model or bundled_model_path())
    probe = PosePredictor(model, device="cpu")
    sizes = sorted({*args.sizes, probe.input_size})
    base, origin = source_crops(max(args.batches))
    report = {"benchmark": "inference", "model": model, "model_input_size": probe.input_size, "device": args.device,
              "torch": torch.__version__, "threads": args.threads, "cpu": platform.processor() or platform.machine(),
              "cpu_count": os.cpu_count(), "crops": origin, "warmup": args.warmup, "repeats": args.repeats,
              "load_average_1min_before": load_avg(),
              "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "results": []}
    del probe
    for size in sizes:
        for batch in args.batches:
            predictor = PosePredictor(model, device=args.device, input_size=size, batch_size=batch,
                                      precision=args.precision, flip=args.flip, refinement=args.refinement)
            torch.set_num_threads(args.threads)
            crops = crops_at(base, size, batch)
            times = time_calls(lambda p=predictor, c=crops: p.predict_crops(c, window=args.support_window),
                               predictor.device, args.warmup, args.repeats)
            median = statistics.median(times)
            row = {"size": size, "batch": batch, "dtype": predictor.arithmetic, "flip": args.flip,
                   "refinement": predictor.refinement,
                   "support_window": args.support_window or getattr(predictor.codec, "support_window", None),
                   "ms_per_batch_median": 1e3 * median,
                   "ms_per_batch_best": 1e3 * min(times), "ms_per_crop": 1e3 * median / batch,
                   "crops_per_s": batch / median}
            report["results"].append(row)
            print(f"{size:5d} {batch:6d} {row['ms_per_batch_median']:10.1f} {row['ms_per_batch_best']:9.1f} "
                  f"{row['ms_per_crop']:8.2f} {row['crops_per_s']:8.1f}", flush=True)
    report["load_average_1min_after"] = load_avg()
    return report


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="checkpoint (default: the bundled resources/gymnast_pose.pt)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--sizes", type=int, nargs="+", default=[192, 256], help="input sizes (multiples of 32); "
                        "the model's own input size is always added")
    parser.add_argument("--batches", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--precision", default="auto", help="auto, fp32, bf16, fp16 or int8 (inference.uses_int8)")
    parser.add_argument("--support-window", type=int, default=None,
                        help="decoding block (1 = the video tracker's single cell; default: the codec's)")
    parser.add_argument("--flip", action="store_true", help="also run each crop mirrored, as stills do")
    parser.add_argument("--refinement", action=argparse.BooleanOptionalAction, default=True,
                        help="run the network's refinement stage, if it has one "
                        "(stills do; video only where the checkpoint says so)")
    parser.add_argument("--out", default=None, help="JSON file (default: benchmarks/results/inference_<device>.json)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"{'size':>5} {'batch':>6} {'ms/batch':>10} {'best ms':>9} {'ms/crop':>8} {'crops/s':>8}")
    report = run(args)
    write_report(report, args.out, f"inference_{args.device.split(':')[0]}.json")


if __name__ == "__main__":
    main()
