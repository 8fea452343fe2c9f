"""``gymnast-pose analyze VIDEO [-o poses.json] [--render overlay.mp4]``: the athlete's pose in every frame.

Runs ``analysis.iter_analyze_video`` (tracking, gap filling, One-Euro smoothing, the pose cache) with a progress bar
on stderr, saves the poses (.json, .csv or .npz, by the suffix of ``-o``; see ``PoseSequence``), optionally renders
the video with the stickman (``render.render_overlay_video``), and prints a short summary on stdout.

Every output path is checked for writability *before* the long analysis, so a typo costs seconds, not minutes.
Also home of the small helpers the ``pose`` command shares: ``check_writable``, ``check_device``, ``ProgressBar``
(``compare`` uses it too), ``quiet_opencv``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
import tempfile
import time
from pathlib import Path

from gymnast_pose.cli import UserError

POSE_SUFFIXES = (".json", ".csv", ".npz")
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi")
DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
PRECISION_CHOICES = ("auto", "fp32", "bf16", "fp16", "int8")  # inference.PRECISIONS, kept here so --help needs no torch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "Without -o nothing is written: the video is analysed (and cached) and the summary is printed.\n"
        "JSON output: {\"video\", \"fps\", \"joints\": [14 LSP names], \"frames\": [{\"index\", \"time_s\",\n"
        "\"keypoints\": [[x, y, score] or null, x 14]}]}, one entry per decoded frame, x and y in pixels of the\n"
        "upright video frame (origin top-left), null for a joint not found; also \"frame_size\", \"fingerprint\",\n"
        "\"model_hash\", \"format\" and \"version\". Results are cached per video, model and settings.")
    parser.add_argument("video", type=Path, help="the video to analyse")
    parser.add_argument("-o", "--output", type=Path, metavar="POSES",
                        help="save the poses: poses.json, poses.csv or poses.npz (format by suffix)")
    parser.add_argument("--render", type=Path, metavar="OVERLAY.mp4", help="also write the video with the stickman")
    parser.add_argument("--device", default="auto", metavar="auto|cpu|cuda|mps",
                        help="where the network runs (default auto: CUDA, then MPS, then CPU)")
    parser.add_argument("--box", metavar="x,y,w,h@frame",
                        help="a box around the athlete in video pixels on one frame (default frame 0), when the "
                             "most prominent person is not the one to follow")
    parser.add_argument("--model", type=Path, metavar="PATH",
                        help="model checkpoint (default: the bundled model, or $GYMNAST_POSE_MODEL)")
    parser.add_argument("--no-cache", action="store_true", help="analyse again even if the result is cached")
    parser.add_argument("--no-smooth", action="store_true", help="keep the raw per-frame network output")
    parser.add_argument("--flip", action="store_true",
                        help="also run every crop mirrored and average: about twice as slow, a little more accurate")
    add_precision_argument(parser)


def add_precision_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--precision", default="auto", choices=PRECISION_CHOICES,
                        help="the network's arithmetic (default auto: fp16 on CUDA, bf16 on CPUs with AVX512-BF16 "
                             "or AMX, else fp32; int8: about 1.7x fp32's speed on x86 CPUs without bf16, a less steady "
                             "skeleton)")


# ---- helpers shared with the pose command ----------------------------------------------------------------------
def check_device(device: str) -> str:
    """``device`` if it is auto, cpu, mps, cuda or cuda:N; else a ``UserError``."""
    if not DEVICE_PATTERN.fullmatch(device):
        raise UserError(f"unknown device {device!r}: use auto, cpu, cuda (or cuda:N) or mps")
    return device


def check_writable(path: Path, what: str, suffixes: tuple[str, ...]) -> Path:
    """Check that ``path`` (with one of ``suffixes``) can be created, by creating and removing a temporary file
    next to it; a ``UserError`` naming ``what`` if not. Nothing existing is touched."""
    if path.is_dir():
        raise UserError(f"the {what} {path} is a folder; give a file name")
    if path.suffix.lower() not in suffixes:
        raise UserError(f"the {what} {path} must end in {', '.join(suffixes)}")
    folder = path.parent
    if not folder.is_dir():
        raise UserError(f"cannot write the {what} {path}: the folder {folder} does not exist")
    if path.exists() and not os.access(path, os.W_OK):
        raise UserError(f"cannot write the {what} {path}: no permission to replace the existing file")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".gymnast_pose_write_test_"):
            pass
    except OSError as exc:
        raise UserError(f"cannot write the {what} {path}: {exc.strerror or exc}") from None
    return path


class ProgressBar:
    """Progress on stderr: on a terminal one line redrawn with ``\\r`` at most ``rate`` times a second; in a log
    file or a pipe (``stream.isatty()`` false) one plain line per ``step`` of the total, so logs stay readable."""

    def __init__(self, label: str, stream=None, width: int = 28, rate: float = 10.0, step: float = 0.1):
        self.label, self.stream, self.width = label, stream or sys.stderr, width
        self.interval = 1.0 / rate
        self.step = step
        isatty = getattr(self.stream, "isatty", None)
        self.interactive = bool(isatty and isatty())
        self._origin: tuple[float, int] | None = None
        self._last_draw = -1.0
        self._last_step = -1
        self._open = False

    def update(self, done: int, total: int, note: str = "") -> None:
        now = time.monotonic()
        if self._origin is None:  # timed from the first item, so loading the model does not slow the estimate
            self._origin = (now, done)
        final = total > 0 and done >= total
        fraction = min(1.0, done / total) if total > 0 else 0.0
        if self.interactive:
            if not final and self._last_draw >= 0 and now - self._last_draw < self.interval:
                return
            self._last_draw = now
        else:
            step = int(fraction / self.step + 1e-9)
            if step == self._last_step or total <= 0:
                return
            self._last_step = step
        filled = int(round(self.width * fraction))
        elapsed = now - self._origin[0]
        rate = (done - self._origin[1]) / elapsed if elapsed > 0 else 0.0
        # no time left is guessed before 5 % are done
        eta = f"  {_clock((total - done) / rate)} left" if rate > 0 and 0.05 <= fraction < 1.0 else ""
        text = (f"{self.label}: [{'#' * filled}{'.' * (self.width - filled)}] {100 * fraction:5.1f} %  "
                f"{done}/{total}{'  ' + note if note else ''}{eta}")
        self.stream.write(f"\r{text}   " if self.interactive else text + "\n")
        self.stream.flush()
        self._open = self.interactive

    def close(self) -> None:
        """End the bar's line (also after an interruption), so the next message starts on a fresh line."""
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False


def _clock(seconds: float) -> str:
    seconds = int(round(max(0.0, seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}"


def quiet_opencv() -> None:
    """Keep OpenCV's and FFmpeg's own messages (e.g. "moov atom not found" on a damaged file) off the terminal: we
    report those problems ourselves, in one line. FFmpeg reads its setting when OpenCV first opens a video."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    import cv2

    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is not None:
        logging.setLogLevel(logging.LOG_LEVEL_ERROR)


def same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


# ---- the command ------------------------------------------------------------------------------------------------
def _options(args: argparse.Namespace):
    from gymnast_pose.analysis import AnalysisOptions
    from gymnast_pose.track_types import parse_box

    box, box_frame = None, 0
    if args.box is not None:
        try:
            seed = parse_box(args.box)
        except ValueError as exc:
            raise UserError(f"--box: {exc}") from None
        box, box_frame = (seed.x, seed.y, seed.w, seed.h), seed.frame
    return AnalysisOptions(box=box, box_frame=box_frame, device=check_device(args.device),
                           model_path=str(args.model) if args.model else None, smooth=not args.no_smooth,
                           flip=args.flip, precision=args.precision, use_cache=not args.no_cache)


def _check_paths(args: argparse.Namespace) -> None:
    video = args.video
    if not video.exists():
        raise UserError(f"video file not found: {video}")
    if not video.is_file():
        raise UserError(f"{video} is not a video file")
    outputs = [(p, what, suffixes) for p, what, suffixes in
               ((args.output, "pose file", POSE_SUFFIXES), (args.render, "overlay video", VIDEO_SUFFIXES))
               if p is not None]
    for path, what, suffixes in outputs:
        if same_file(path, video):
            raise UserError(f"the {what} {path} is the video being analysed; choose another file name")
        check_writable(path, what, suffixes)
    if args.output is not None and args.render is not None and same_file(args.output, args.render):
        raise UserError("-o and --render name the same file")


def found_fraction(poses, person_threshold: float | None = None) -> float:
    """Fraction of frames in which the athlete was found: mean joint score at least the estimator's
    ``person_threshold`` (the criterion the tracker itself uses)."""
    if person_threshold is None:
        from gymnast_pose.estimator import EstimatorConfig

        person_threshold = EstimatorConfig().person_threshold
    if poses.num_frames == 0:
        return 0.0
    return float((poses.scores.mean(axis=1) >= person_threshold).mean())


def _load_estimator(options, args: argparse.Namespace):
    from gymnast_pose.analysis import load_estimator
    from gymnast_pose.model import ModelFileError

    try:
        return load_estimator(options)
    except ModelFileError as exc:
        hint = "" if args.model or os.environ.get("GYMNAST_POSE_MODEL") else \
            " (give a model with --model PATH or the GYMNAST_POSE_MODEL environment variable)"
        raise UserError(f"{exc}{hint}") from None


def run(args: argparse.Namespace) -> int:
    options = _options(args)
    quiet_opencv()
    _check_paths(args)
    from gymnast_pose.analysis import iter_analyze_video
    from gymnast_pose.render import RenderError, render_overlay_video
    from gymnast_pose.sequence import PoseSequenceError
    from gymnast_pose.video import VideoError

    started = time.monotonic()
    bar = ProgressBar(f"analysing {args.video.name}")
    cached = False
    try:
        estimator = _load_estimator(options, args)
        job = iter_analyze_video(args.video, options, estimator=estimator)
        while True:
            try:
                step = next(job)
            except StopIteration as stop:
                poses = stop.value
                break
            cached = cached or step.cached
            bar.update(step.done, step.total, "(from cache)" if step.cached else "frames")
        bar.close()
        poses = dataclasses.replace(poses, source=str(args.video))  # a cache hit remembers the first path
        analysed_s = time.monotonic() - started
        if args.output is not None:
            poses.save(args.output)
        if args.render is not None:
            bar = ProgressBar(f"rendering {args.render.name}")
            render_overlay_video(args.video, poses, args.render, progress=bar.update)
            bar.close()
    except (VideoError, PoseSequenceError, RenderError) as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(f"{exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}") from None
    finally:
        bar.close()
    print(summary(args, poses, analysed_s, time.monotonic() - started, cached))
    return 0


def summary(args: argparse.Namespace, poses, analysed_s: float, total_s: float, cached: bool) -> str:
    """A few lines for the user: what was analysed, how well, how long it took, where the files are."""
    found = found_fraction(poses)
    width, height = poses.frame_size
    how = "loaded from the cache" if cached else f"analysed in {analysed_s:.1f} s"
    lines = [
        f"{args.video}: {poses.num_frames} frames, {poses.fps:.2f} fps, {width}x{height} ({how}; "
        f"{total_s:.1f} s in all)",
        f"Athlete found in {100 * found:.0f} % of frames ({int(round(found * poses.num_frames))}/{poses.num_frames})",
    ]
    if args.output is not None:
        lines.append(f"Poses: {args.output}")
    if args.render is not None:
        lines.append(f"Overlay video: {args.render}")
    if args.output is None and args.render is None:
        lines.append("Nothing written (give -o poses.json to save the poses, --render overlay.mp4 for a video)")
    return "\n".join(lines)
