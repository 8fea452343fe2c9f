"""Screenshots of the real app for the docs: ``python docs/make_screenshots.py`` (one command, re-runnable).

Runs the desktop app on a virtual X display (re-runs itself under ``xvfb-run`` when there is no display; install
it with ``apt-get install -y xvfb libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0``; without it
Qt's offscreen platform is used), opens a coach and a student clip,
waits until both are analysed and compared, then:

* ``main_window.png``: the whole window at the moment of the largest pose distance, with the timeline showing the
  joint angle that differs most;
* ``timelines.png``: the timelines alone (the app's own "Export timelines PNG");
* ``analysing.png``: the window while the network runs (only when the poses were not cached yet).

The screenshots in ``docs/screenshots`` were made with ``python docs/make_screenshots.py`` (squat pair, default
threshold): ``main_window.png`` and ``timelines.png`` with the bundled model of 2026-12-07 (hold-out PCK@0.2
0.619 on still images, see resources/MODEL_CARD.md; videos use it with its refinement stage) on 2026-12-07,
``analysing.png`` with the model of 2026-12-04 on 2026-12-05; the main window shows the moment of the largest pose
distance, i.e. where the model or the athlete differs most.

The pose model is ``--model``, else ``$GYMNAST_POSE_MODEL``, else the bundled one (``--threshold`` lowers the
joint confidence threshold for a weak model still in training). Poses are cached as in the app,
so a second run with the same model takes seconds; on a CPU the first can take minutes. The window uses
temporary settings (the user's recent files and layout are not touched).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CLIPS = Path("/work/shared/data/videos")
PAIRS = {  # name: (coach, student)
    "squat": (CLIPS / "squat" / "yuyoujiang_squat.mp4", CLIPS / "squat" / "ikramaliokz_squat.mp4"),
    "handstand": (CLIPS / "gymnastics" / "gym-coach_handstand.mp4",
                  CLIPS / "gymnastics" / "myoxyn_wall_handstand.mp4"),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Screenshots of the gymnast_pose app for the docs.")
    parser.add_argument("--pair", choices=sorted(PAIRS), default="squat",
                        help="which shared clips to open (default squat: 322 + 851 frames; handstand: 210 + 292)")
    parser.add_argument("--coach", type=Path, help="the coach's clip (instead of the pair's)")
    parser.add_argument("--student", type=Path, help="the student's clip (instead of the pair's)")
    parser.add_argument("--model", help="pose model file (default: $GYMNAST_POSE_MODEL, else the bundled one)")
    parser.add_argument("--out", type=Path, default=HERE / "screenshots", help="folder for the PNG files")
    parser.add_argument("--size", default="1600x1000", help="window size, WIDTHxHEIGHT")
    parser.add_argument("--threshold", type=float, default=None,
                        help="joint confidence threshold of the comparison (default: the app's); a weak model "
                             "in training may need a lower one to compare at all")
    parser.add_argument("--timeout", type=float, default=3600.0, help="give up after this many seconds")
    parser.add_argument("--no-xvfb", action="store_true", help="do not re-run under xvfb-run")
    args = parser.parse_args(argv)
    args.coach = args.coach or PAIRS[args.pair][0]
    args.student = args.student or PAIRS[args.pair][1]
    return args


def rerun_under_xvfb(args: argparse.Namespace) -> int | None:
    """Run this script again under ``xvfb-run`` when there is no display; None when not needed or not possible."""
    if args.no_xvfb or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    if shutil.which("xvfb-run") is None:
        print("xvfb-run not found (apt-get install -y xvfb): using Qt's offscreen platform", file=sys.stderr)
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        return None
    width, height = (int(v) for v in args.size.lower().split("x"))
    screen = f"-screen 0 {width + 200}x{height + 200}x24"
    command = ["xvfb-run", "-a", "-s", screen, sys.executable, str(Path(__file__).resolve()), *sys.argv[1:],
               "--no-xvfb"]
    code = subprocess.call(command)
    if code in (-6, 134):  # Qt aborted: its xcb platform lacks system libraries; the offscreen one needs none
        print("Qt could not use the X display (missing xcb libraries?): trying the offscreen platform",
              file=sys.stderr)
        code = subprocess.call(command[4:], env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    return code


class Shooter:
    """Drives a ``MainWindow`` through the steps in the module docstring."""

    def __init__(self, args: argparse.Namespace, settings_folder: Path):
        from PySide6.QtCore import QSettings

        from gymnast_pose.gui.app import ensure_application
        from gymnast_pose.gui.main_window import MainWindow

        self.args = args
        self.app = ensure_application()
        self.errors: list[tuple[str, str]] = []
        settings = QSettings(str(settings_folder / "settings.ini"), QSettings.Format.IniFormat)
        self.window = MainWindow(settings=settings, show_error=lambda t, m: self.errors.append((t, m)))
        width, height = (int(v) for v in args.size.lower().split("x"))
        self.window.resize(width, height)
        self.window.show()
        self.started = time.monotonic()

    def wait(self, condition, seconds: float, what: str) -> None:
        """Run the event loop until ``condition()`` (RuntimeError after ``seconds`` or on an error box)."""
        from PySide6.QtCore import QEventLoop, QTimer

        loop = QEventLoop()
        deadline = time.monotonic() + seconds
        last_report = [time.monotonic()]

        def check() -> None:
            if condition() or self.errors or time.monotonic() > deadline:
                loop.quit()
            elif time.monotonic() - last_report[0] > 15:
                last_report[0] = time.monotonic()
                print(f"  {what}… {self.describe()}", flush=True)

        timer = QTimer()
        timer.timeout.connect(check)
        timer.start(50)
        loop.exec()
        timer.stop()
        if self.errors:
            raise RuntimeError("; ".join(f"{t}: {m}" for t, m in self.errors))
        if not condition():
            raise RuntimeError(f"timed out: {what}")

    def describe(self) -> str:
        parts = []
        for slot in self.window.session.slots.values():
            progress = "" if slot.progress is None else f" {100 * slot.progress:.0f}%"
            parts.append(f"{slot.role}: {slot.status.value}{progress}")
        return ", ".join(parts) + f" ({time.monotonic() - self.started:.0f} s)"

    def settle(self, msecs: int = 400) -> None:
        from PySide6.QtCore import QEventLoop, QTimer

        loop = QEventLoop()
        QTimer.singleShot(msecs, loop.quit)
        loop.exec()

    def save(self, widget, name: str) -> Path:
        path = self.args.out / name
        if not widget.grab().save(str(path), "PNG"):
            raise RuntimeError(f"could not write {path}")
        print(f"wrote {path}")
        return path

    def frames_shown(self) -> bool:
        frames = self.window.session.frames()
        return all(self.window.panels[role].view.frame_index == frame for role, frame in frames.items())

    def run(self) -> list[Path]:
        from gymnast_pose.gui.session import COACH, STUDENT

        args, window, session = self.args, self.window, self.window.session
        args.out.mkdir(parents=True, exist_ok=True)
        self.settle()
        if args.threshold is not None:
            session.update_settings(confidence_threshold=float(args.threshold))
        window.check_model()
        window.open_video(COACH, args.coach)
        window.open_video(STUDENT, args.student)
        written = []
        self.wait(lambda: all(s.has_video for s in session.slots.values()), 120, "opening the videos")

        def running() -> bool:  # the network is at work (not a cache hit): progress between 5 and 95 %
            return any(s.status.busy and s.progress is not None and 0.05 < s.progress < 0.95
                       for s in session.slots.values())

        if any(s.status.busy for s in session.slots.values()):  # show the progress bars once they have moved
            self.wait(lambda: running() or not session.busy, args.timeout, "analysing")
            if running():
                session.set_position(session.num_positions // 3)
                self.wait(self.frames_shown, 60, "showing the frames")
                self.settle()
                written.append(self.save(window, "analysing.png"))
        self.wait(lambda: session.comparison is not None or bool(session.compare_error), args.timeout,
                  "analysing and comparing")
        comparison = session.comparison
        if comparison is None:
            raise RuntimeError(f"no comparison: {session.compare_error}")
        self.show_largest_deviation(comparison)
        self.wait(self.frames_shown, 60, "showing the frames")
        self.settle(800)
        written.append(self.save(window, "main_window.png"))
        path = args.out / "timelines.png"
        if not window.timeline.export_png(path):
            raise RuntimeError(f"could not write {path}")
        print(f"wrote {path}")
        written.append(path)
        return written

    def show_largest_deviation(self, comparison) -> None:
        import numpy as np

        distance = np.asarray(comparison.pose_distance, dtype=float)
        pair = int(np.nanargmax(distance)) if np.isfinite(distance).any() else 0
        angles = [s for s in comparison.angles if s.compared_pairs and math.isfinite(s.mean)]
        if angles:
            self.window.timeline.set_angle(max(angles, key=lambda s: s.mean).name)
        self.window.session.set_position(int(comparison.coach_frames[pair]))
        print(f"largest pose distance {distance[pair]:.2f} torso lengths at coach frame "
              f"{int(comparison.coach_frames[pair])}; score {comparison.score:.0f}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    code = rerun_under_xvfb(args)
    if code is not None:
        return code
    if args.model:
        os.environ["GYMNAST_POSE_MODEL"] = str(Path(args.model).resolve())
    for clip in (args.coach, args.student):
        if not clip.is_file():
            print(f"error: {clip} does not exist", file=sys.stderr)
            return 2
    with tempfile.TemporaryDirectory(prefix="gymnast_pose_shots_") as folder:
        shooter = Shooter(args, Path(folder))
        try:
            shooter.run()
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        finally:
            shooter.window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
