"""Benchmark: does the GUI thread stay responsive while the pose network analyses two videos?

Run: ``python benchmarks/bench_gui_responsiveness.py [--model PATH] [--frames 150] [--size 320x240] [--fps 25]
[--no-play] [--coach VIDEO --student VIDEO] [--cold] [--verbose] [--playback-s 10]``

Opens the real ``MainWindow`` (offscreen unless a display is set), opens two videos (generated ones by default: a
moving block on grey, so the network really searches every frame) with an empty pose cache, starts playback (frames
decoded and painted while the analysis runs, as when a coach watches), and ticks a ``QTimer`` every 10 ms on the GUI
thread (the app analyses one video at a time; the other waits its turn). It reports the largest gap between two
ticks, and percentiles, from the start of the analyses until the comparison is done (or failed). Target: largest gap
< 100 ms. The model: ``--model``, else ``GYMNAST_POSE_MODEL``, else the bundled model, else a tiny random one
(writes it to a temporary folder). Like the app at start, the model is loaded before the videos are opened;
``--cold`` leaves that to the first analysis (loading a checkpoint holds the GIL for up to a few hundred ms once per
process).

``--playback-s N`` then measures playback of the analysed pair: it plays from the first frame for N seconds (at the
clock video's frame rate, stickmen drawn, the comparison's playhead moving) and reports the frames each panel
painted per second against the video's frame rate (target: it holds the frame rate, e.g. with ``--size 1280x720
--fps 30``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

TICK_MS = 10


def write_video(path: Path, frames: int, size: tuple[int, int], seed: int, fps: float = 25.0) -> Path:
    width, height = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    rng = np.random.default_rng(seed)
    for i in range(frames):
        image = np.full((height, width, 3), 110, np.uint8)
        side = height // 3
        x = int((i * 3 + seed * 17) % (width - side))
        image[height // 3: height // 3 + side, x: x + side] = rng.integers(0, 255, 3)
        writer.write(image)
    writer.release()
    return path


def tiny_model(path: Path) -> Path:
    from gymnast_pose.codec import PixelClassCodec
    from gymnast_pose.model import PoseNet, PoseNetConfig, save_checkpoint
    from gymnast_pose.skeleton import K

    config = PoseNetConfig(out_channels=K + 1, stem_channels=8, stage_channels=(8, 16, 16, 32),
                           stage_blocks=(1, 1, 1, 1), decoder_channels=16)
    save_checkpoint(path, PoseNet(config), PixelClassCodec(64, 4), training={"note": "benchmark"})
    return path


def choose_model(given: str | None, folder: Path) -> str:
    if given:
        return given
    if os.environ.get("GYMNAST_POSE_MODEL"):
        return os.environ["GYMNAST_POSE_MODEL"]
    from gymnast_pose.model import bundled_model_path

    bundled = bundled_model_path()
    return str(bundled) if bundled.is_file() else str(tiny_model(folder / "tiny.pt"))


def measure(args: argparse.Namespace, folder: Path) -> dict:
    from PySide6.QtCore import QEventLoop, QSettings, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from gymnast_pose.gui.main_window import MainWindow
    from gymnast_pose.gui.session import COACH, STUDENT

    _app = QApplication.instance() or QApplication(sys.argv[:1])  # noqa: F841 - needed alive
    errors: list[tuple[str, str]] = []
    window = MainWindow(settings=QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat),
                        show_error=lambda title, message: errors.append((title, message)))
    window.resize(1400, 900)
    window.show()
    settle = QEventLoop()  # let the first paint of the window happen before measuring
    QTimer.singleShot(500, settle.quit)
    settle.exec()
    load_s = None
    if args.preload:  # as the app does at start (``check_model``): the model is loaded before videos are opened
        load_started = time.perf_counter()
        task = window.check_model()
        task.finished.connect(settle.quit)
        settle.exec()
        load_s = time.perf_counter() - load_started
    if args.coach and args.student:
        coach, student = Path(args.coach), Path(args.student)
    else:
        size = tuple(int(v) for v in args.size.lower().split("x"))
        coach = write_video(folder / "coach.mp4", args.frames, size, 1, args.fps)
        student = write_video(folder / "student.mp4", args.frames, size, 2, args.fps)

    gaps: list[float] = []
    slow: list[str] = []  # when the long gaps happened, and what the analyses were doing
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gap = (now - last[0]) * 1000.0
        gaps.append(gap)
        last[0] = now
        if gap > 50.0 and len(gaps) > 1:
            state = ", ".join(f"{slot.role} {slot.status.value} {100 * (slot.progress or 0):.0f}%"
                              for slot in session.slots.values())
            slow.append(f"  {gap:6.1f} ms at {now - started:5.2f} s ({state})")

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.timeout.connect(tick)
    session, controller = window.session, window.controller
    started = time.perf_counter()
    window.open_video(COACH, coach)
    window.open_video(STUDENT, student)
    last[0] = time.perf_counter()
    timer.start(TICK_MS)
    loop = QEventLoop()

    def check() -> None:  # every 50 ms: start playing once a video is open; stop when everything is done
        if args.play and session.num_positions and not window.playback.playing:
            window.playback.play()
        done = not session.busy and not controller.comparing
        finished = done and (session.comparison is not None or session.compare_error or errors)
        if finished or time.perf_counter() > started + args.timeout:
            loop.quit()

    watcher = QTimer()
    watcher.timeout.connect(check)
    watcher.start(50)
    loop.exec()
    watcher.stop()
    elapsed = time.perf_counter() - started
    timer.stop()
    playback = measure_playback(window, args.playback_s) if args.playback_s > 0 else None
    window.close()
    values = np.array(gaps[1:] or [0.0])
    return {"ticks": len(values), "max_gap_ms": float(values.max()), "p99_ms": float(np.percentile(values, 99)),
            "p50_ms": float(np.percentile(values, 50)), "seconds": elapsed,
            "frames_shown": sum(p.shown_frames for p in window.panels.values()),
            "compared": session.comparison is not None, "compare_error": session.compare_error,
            "errors": errors, "slow": slow, "started": started, "load_s": load_s, "playback": playback}


def measure_playback(window, seconds: float) -> dict:
    """Play the analysed pair from its first frame for ``seconds``; frames painted per second by each panel."""
    from PySide6.QtCore import QEventLoop, QTimer

    window.playback.pause()
    window.playback.loop = True
    window.session.set_position(0)
    settle = QEventLoop()
    QTimer.singleShot(300, settle.quit)
    settle.exec()
    before = {role: panel.shown_frames for role, panel in window.panels.items()}
    started = time.perf_counter()
    window.playback.play()
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()
    elapsed = time.perf_counter() - started
    window.playback.pause()
    shown = {role: (panel.shown_frames - before[role]) / elapsed for role, panel in window.panels.items()}
    return {"seconds": elapsed, "clock_fps": window.session.clock_fps, "panel_fps": shown}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="pose model file (default: see the module docstring)")
    parser.add_argument("--frames", type=int, default=150, help="frames per generated video")
    parser.add_argument("--size", default="320x240", help="size of the generated videos, WIDTHxHEIGHT")
    parser.add_argument("--fps", type=float, default=25.0, help="frame rate of the generated videos")
    parser.add_argument("--playback-s", type=float, default=0.0,
                        help="after the analysis, measure playback of the pair for this many seconds")
    parser.add_argument("--coach", help="use this video instead of a generated one (with --student)")
    parser.add_argument("--student", help="use this video instead of a generated one (with --coach)")
    parser.add_argument("--no-play", dest="play", action="store_false", help="do not play during the analysis")
    parser.add_argument("--cold", dest="preload", action="store_false",
                        help="do not load the model before opening the videos (the app loads it at start)")
    parser.add_argument("--verbose", action="store_true", help="list every gap over 50 ms")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_gui_") as tmp:
        folder = Path(tmp)
        os.environ["GYMNAST_POSE_CACHE_DIR"] = str(folder / "cache")  # always analyse, never read the cache
        os.environ["GYMNAST_POSE_MODEL"] = choose_model(args.model, folder)
        result = measure(args, folder)
    loaded = "loaded by the first analysis" if result["load_s"] is None else f"loaded first in {result['load_s']:.1f} s"
    print(f"model: {os.environ['GYMNAST_POSE_MODEL']} ({loaded})")
    print(f"analysis + comparison: {result['seconds']:.1f} s, {result['ticks']} ticks of {TICK_MS} ms, "
          f"{result['frames_shown']} video frames painted meanwhile")
    print(f"GUI thread gap between ticks: max {result['max_gap_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
          f"median {result['p50_ms']:.1f} ms  (target: max < 100 ms)")
    if args.verbose:
        print(f"gaps over 50 ms (times from the start, perf_counter {result['started']:.3f}):", *result["slow"],
              sep="\n")
    print(f"comparison: {'done' if result['compared'] else 'none'} {result['compare_error']}".rstrip())
    if result["playback"]:
        pb = result["playback"]
        rates = ", ".join(f"{role} {fps:.1f}" for role, fps in pb["panel_fps"].items())
        print(f"playback for {pb['seconds']:.1f} s at the clock's {pb['clock_fps']:.2f} fps: frames painted per "
              f"second: {rates}")
    for title, message in result["errors"]:
        print(f"error: {title}: {message}")


if __name__ == "__main__":
    main()
