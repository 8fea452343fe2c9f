"""Benchmark: end-to-end video analysis against MediaPipe Pose, and peak memory as videos get longer.

Run: ``python benchmarks/bench_video.py [--video CLIP] [--max-seconds N] [--minutes 1 5] [--device cpu]``

1. Speed on a real 720p clip (default ``squat/ikramaliokz_squat.mp4``, 1280 x 720, 28.4 s; ``--max-seconds N``
   uses only its first N seconds, written as a trimmed copy to a temporary folder):
   * ours: ``gymnast_pose.analysis.analyze_video`` without the pose cache, i.e. counting the frames by decoding,
     decoding, tracking (cropping, the network, second looks, re-locating), gap filling and smoothing. The model is
     loaded and run once on frame 0 before the clock starts. frames/s = frames / wall time;
   * MediaPipe Pose (``model_training.mediapipe_anchor.run_mediapipe_frames``, tracking mode, model_complexity 1)
     on the same file in the same run, in its own venv: frames/s including decoding (the fair figure, start-up and
     model loading excluded) and of ``Pose.process`` alone. ``ratio`` = ours / MediaPipe;
   * agreement: median distance between our 12 limb joints and MediaPipe's, in MediaPipe torso lengths, on frames
     where both found the person (a sanity check that both follow the same athlete; not an accuracy).
2. Memory on long videos: 720p videos of ``--minutes`` each (default 1 and 5), made by looping the clip's frames
   (OpenCV, mp4v) into a temporary folder that is deleted afterwards. Each analysis runs in a fresh process that
   reports its resident set size after loading the model (baseline), sampled every 5 % of the frames, and its peak
   (``resource.getrusage``; psutil for the samples). Flat memory = the same peak for 1 and 5 minutes.

Every analysis of ours runs in a child process (``--child``) with ``torch.set_num_threads(--threads)``; MediaPipe
uses its own default threading. Writes ``benchmarks/results/video_<device>.json`` and prints tables; the 1-minute
load average before and after is recorded, since numbers measured while something else runs are not comparable.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_VIDEO = Path("/work/shared/data/videos/squat/ikramaliokz_squat.mp4")
if str(ROOT) not in sys.path:  # model_training is not an installed package
    sys.path.insert(0, str(ROOT))

from bench_inference import load_avg, write_report  # noqa: E402  (benchmarks/ is the script's own folder)

from gymnast_pose.commands.analyze import PRECISION_CHOICES  # noqa: E402  (no torch: --help stays fast)


# ----------------------------------------------------------------------------------------------- generated videos
def write_video(source: Path, out: Path, frames: int, size: tuple[int, int] | None = None) -> dict:
    """Write ``frames`` frames of ``source`` (upright, looped from the start when it ends) to ``out`` (mp4v).

    ``size``: (width, height) to resize to (default: the source's own). Returns frames, fps, size and seconds taken.
    """
    from gymnast_pose.video import VideoSource

    start = time.perf_counter()
    with VideoSource(source) as video:
        fps, size = float(video.fps), tuple(size or video.size)
        writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
        if not writer.isOpened():
            raise RuntimeError(f"OpenCV cannot write {out}")
        written = 0
        try:
            while written < frames:
                before = written
                for frame in video.frames():
                    image = frame.image if frame.image.shape[1::-1] == size else cv2.resize(frame.image, size)
                    writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
                    written += 1
                    if written >= frames:
                        break
                if written == before:
                    raise RuntimeError(f"{source} yields no frames")
        finally:
            writer.release()
    return {"frames": written, "fps": fps, "size": list(size), "seconds_to_write": time.perf_counter() - start}


def video_fps(path: Path) -> float:
    """The frame rate of ``path`` (as ``VideoSource`` reads it)."""
    from gymnast_pose.video import VideoSource

    with VideoSource(path) as video:
        return float(video.fps)


# ------------------------------------------------------------------------------------------ one analysis (child)
def child(args: argparse.Namespace) -> None:
    """Analyse ``args.child`` in this (fresh) process; write timing and memory figures to ``args.child_out``."""
    import resource

    import psutil
    import torch

    from gymnast_pose.analysis import AnalysisOptions, analyze_video
    from gymnast_pose.estimator import PoseEstimator
    from gymnast_pose.video import VideoSource

    process = psutil.Process()
    estimator = PoseEstimator.from_model(args.model, device=args.device, input_size=args.input_size,
                                         precision=args.precision)
    torch.set_num_threads(args.threads)
    with VideoSource(args.child) as video:
        estimator.locate(video.frame(0))  # warm-up: first network call
    baseline = process.memory_info().rss
    samples: list[tuple[int, float]] = []
    step = [1]

    def progress(done: int, total: int) -> None:
        step[0] = max(1, total // 20)
        if done % step[0] == 0 or done == total:
            samples.append((done, process.memory_info().rss / 2**20))

    crops_before = estimator.crops_run
    options = AnalysisOptions(device=args.device, model_path=args.model, input_size=args.input_size, use_cache=False,
                              precision=args.precision)
    start = time.perf_counter()
    poses = analyze_video(args.child, use_cache=False, progress=progress, options=options, estimator=estimator)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    found = ~np.isnan(poses.keypoints[..., 0]).all(axis=1)
    result = {"frames": poses.num_frames, "seconds": seconds, "frames_per_s": poses.num_frames / seconds,
              "crops_per_frame": (estimator.crops_run - crops_before) / max(poses.num_frames, 1),
              "found_fraction": float(found.mean()), "input_size": int(estimator.predictor.input_size),
              "frame_size": list(poses.frame_size) if poses.frame_size else None,
              "rss_after_model_mib": baseline / 2**20, "peak_rss_mib": peak / 2**20,
              "rss_samples_mib": samples, "threads": torch.get_num_threads(), "device": str(estimator.predictor.device),
              "arithmetic": estimator.predictor.arithmetic}
    if torch.cuda.is_available() and estimator.predictor.device.type == "cuda":
        result["peak_cuda_allocated_mib"] = torch.cuda.max_memory_allocated() / 2**20
    if args.keypoints_out:
        np.save(args.keypoints_out, poses.keypoints)
    Path(args.child_out).write_text(json.dumps(result))


def run_child(video: Path, args: argparse.Namespace, workdir: Path, keypoints: bool = False) -> dict:
    """Run :func:`child` on ``video`` in a new Python process; returns its figures (and ``keypoints`` if asked)."""
    out = workdir / "child.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(video), "--child-out", str(out),
           "--device", args.device, "--threads", str(args.threads), "--precision", args.precision]
    cmd += ["--model", args.model] if args.model else []
    cmd += ["--input-size", str(args.input_size)] if args.input_size else []
    cmd += ["--keypoints-out", str(workdir / "keypoints.npy")] if keypoints else []
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"analysis of {video} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    result = json.loads(out.read_text())
    if keypoints:
        result["keypoints"] = np.load(workdir / "keypoints.npy")
    return result


# ------------------------------------------------------------------------------------------------- the benchmark
def agreement(ours: np.ndarray, mediapipe: np.ndarray, mp_found: np.ndarray) -> dict:
    """Median limb-joint distance ours vs MediaPipe in MediaPipe torso lengths (l_shoulder to r_hip)."""
    torso = np.linalg.norm(mediapipe[:, 9] - mediapipe[:, 2], axis=1)
    dist = np.linalg.norm(ours[:, :12, :2] - mediapipe[:, :12], axis=2) / torso[:, None]
    both = mp_found & np.isfinite(ours[:, :12, 0]).any(axis=1) & (torso > 0)
    values = dist[both][np.isfinite(dist[both])]
    return {"frames_compared": int(both.sum()),
            "median_limb_distance_torso": float(np.median(values)) if len(values) else None,
            "fraction_within_0.2_torso": float((values <= 0.2).mean()) if len(values) else None}


def speed(clip: Path, args: argparse.Namespace, workdir: Path) -> dict:
    """Part 1: ours and MediaPipe on ``clip``."""
    from model_training.mediapipe_anchor import run_mediapipe_frames, venv_available

    ours = run_child(clip, args, workdir, keypoints=True)
    keypoints = ours.pop("keypoints")
    ours.pop("rss_samples_mib")
    report = {"ours": ours, "mediapipe": None}
    if not venv_available():
        report["mediapipe_skipped"] = "no .venv-mediapipe/: python -m model_training.mediapipe_anchor --setup"
        return report
    start = time.perf_counter()
    xy, found, inference_rate, stats = run_mediapipe_frames(clip, return_stats=True)
    report["mediapipe"] = {"frames": stats["count"], "frames_per_s": stats["per_s"],
                           "inference_frames_per_s": inference_rate, "found_fraction": float(found.mean()),
                           "wall_seconds_with_startup": time.perf_counter() - start, "model_complexity": 1}
    report["ratio_ours_to_mediapipe"] = ours["frames_per_s"] / stats["per_s"]
    report["ratio_ours_to_mediapipe_inference_only"] = ours["frames_per_s"] / inference_rate
    if len(xy) == len(keypoints):
        report["agreement"] = agreement(keypoints, xy, found)
    return report


def memory(source: Path, args: argparse.Namespace, workdir: Path) -> list[dict]:
    """Part 2: peak RSS of our analysis on generated 720p videos of ``args.minutes`` minutes."""
    rows = []
    for minutes in args.minutes:
        path = workdir / f"looped_{minutes:g}min.mp4"
        made = write_video(source, path, int(round(minutes * 60 * video_fps(source))), (1280, 720))
        try:
            result = run_child(path, args, workdir)
        finally:
            path.unlink(missing_ok=True)
        result.update(minutes=minutes, generated=made)
        rows.append(result)
        print(f"{minutes:7g} {result['frames']:7d} {result['frames_per_s']:7.1f} {result['rss_after_model_mib']:12.0f} "
              f"{result['peak_rss_mib']:9.0f} {result['peak_rss_mib'] - result['rss_after_model_mib']:9.0f}",
              flush=True)
    return rows


def print_speed(report: dict) -> None:
    """The readable table of part 1."""
    ours, mp = report["ours"], report["mediapipe"]
    width, height = report["clip_size"] or ("?", "?")
    print(f"\nclip: {report['clip']} ({report['clip_frames']} frames, {width}x{height})")
    print(f"{'method':<34} {'frames/s':>9} {'found':>6}")
    print(f"{'ours (analyze_video, end to end)':<34} {ours['frames_per_s']:9.1f} {ours['found_fraction']:6.1%}"
          f"   input {ours['input_size']} px, {ours['crops_per_frame']:.2f} crops/frame, {ours['threads']} threads, "
          f"{ours['arithmetic']}")
    if mp is None:
        print(f"mediapipe skipped: {report.get('mediapipe_skipped')}")
        return
    print(f"{'MediaPipe Pose (incl. decoding)':<34} {mp['frames_per_s']:9.1f} {mp['found_fraction']:6.1%}")
    print(f"{'MediaPipe Pose (process() alone)':<34} {mp['inference_frames_per_s']:9.1f}")
    print(f"ratio ours / MediaPipe: {report['ratio_ours_to_mediapipe']:.2f} "
          f"(vs process() alone {report['ratio_ours_to_mediapipe_inference_only']:.2f})")
    if "agreement" in report:
        a = report["agreement"]
        print(f"agreement on {a['frames_compared']} frames: median limb distance {a['median_limb_distance_torso']} "
              f"torso lengths, within 0.2 torso: {a['fraction_within_0.2_torso']}")


def parse_args(argv=None) -> argparse.Namespace:
    """The command line (``--child`` and its companions are internal: one analysis in a fresh process)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", default=str(DEFAULT_VIDEO), help="720p clip for the speed comparison")
    parser.add_argument("--max-seconds", type=float, default=None, help="use only the first N seconds of --video")
    parser.add_argument("--minutes", type=float, nargs="*", default=[1.0, 5.0],
                        help="lengths of the generated videos for the memory test (none: skip it)")
    parser.add_argument("--model", default=None, help="checkpoint (default: the bundled resources/gymnast_pose.pt)")
    parser.add_argument("--input-size", type=int, default=None, help="network input (default: the model's own)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, auto")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--precision", default="auto", choices=PRECISION_CHOICES,
                        help="the network's arithmetic (auto: as the app chooses on this machine)")
    parser.add_argument("--out", default=None, help="JSON file (default: benchmarks/results/video_<device>.json)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    parser.add_argument("--keypoints-out", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.child:
        child(args)
        return
    if args.model:
        args.model = str(Path(args.model).resolve())
    source = Path(args.video)
    report = {"benchmark": "video", "device": args.device, "threads": args.threads, "model": args.model or "bundled",
              "cpu_count": os.cpu_count(), "load_average_1min_before": load_avg(),
              "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    with tempfile.TemporaryDirectory(prefix="bench_video_") as tmp:
        workdir, clip = Path(tmp), source
        if args.max_seconds:
            clip = workdir / f"{source.stem}_first{args.max_seconds:g}s.mp4"
            write_video(source, clip, int(round(args.max_seconds * video_fps(source))))
        report["clip"] = str(source) + (f" (first {args.max_seconds:g} s, re-encoded mp4v)" if args.max_seconds else "")
        speed_report = speed(clip, args, workdir)
        report.update(clip_frames=speed_report["ours"]["frames"], clip_size=speed_report["ours"]["frame_size"],
                      **speed_report)
        print_speed(report)
        if args.minutes:
            print(f"\n{'minutes':>7} {'frames':>7} {'fps':>7} {'RSS model MiB':>12} {'peak MiB':>9} {'growth':>9}")
            report["memory"] = memory(source, args, workdir)
            peaks = [row["peak_rss_mib"] for row in report["memory"]]
            report["memory_summary"] = {"peak_rss_mib_by_minutes": {f"{m:g}": p for m, p in zip(args.minutes, peaks)},
                                        "peak_spread_mib": max(peaks) - min(peaks)}
            print(f"peak RSS spread across lengths: {max(peaks) - min(peaks):.0f} MiB")
    report["load_average_1min_after"] = load_avg()
    write_report(report, args.out, f"video_{args.device.split(':')[0]}.json")


if __name__ == "__main__":
    main()
