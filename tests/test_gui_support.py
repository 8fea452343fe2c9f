"""Shared fixtures and helpers of the GUI tests (``test_gui_*.py`` import them; this module holds no tests).

Offscreen Qt, a tiny random model (``GYMNAST_POSE_MODEL``) and a temporary pose cache for every window, settings in a
temporary INI file, and error boxes captured by the window's ``show_error`` hook. The random tiny model finds nobody,
so tests that need poses (and a comparison) replace the core's ``iter_analyze_video`` with ``fake_iter_analyze_video``:
the same generator protocol (progress items, then a ``PoseSequence``) with a synthetic moving stickman, still run by
the real controller on the real worker threads.
"""

from __future__ import annotations

import gc
import os
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before Qt creates the application

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from helpers_video import make_test_video  # noqa: E402
from model_fixtures import write_tiny_model  # noqa: E402
from PySide6.QtCore import QSettings, QThread  # noqa: E402

from gymnast_pose import analysis  # noqa: E402
from gymnast_pose.analysis import AnalysisProgress  # noqa: E402
from gymnast_pose.gui.main_window import MainWindow  # noqa: E402
from gymnast_pose.sequence import PoseSequence  # noqa: E402
from gymnast_pose.skeleton import JOINT_INDEX, K  # noqa: E402

FAKE_FRAME_S = 0.004  # seconds per frame of the fake analysis
# A standing figure in units of the frame height, x from the centre: joint name -> (x, y).
_FIGURE = {
    "head_top": (0.0, 0.10), "neck": (0.0, 0.25), "r_shoulder": (-0.08, 0.28), "l_shoulder": (0.08, 0.28),
    "r_elbow": (-0.10, 0.42), "l_elbow": (0.10, 0.42), "r_wrist": (-0.11, 0.55), "l_wrist": (0.11, 0.55),
    "r_hip": (-0.05, 0.55), "l_hip": (0.05, 0.55), "r_knee": (-0.06, 0.72), "l_knee": (0.06, 0.72),
    "r_ankle": (-0.06, 0.90), "l_ankle": (0.06, 0.90),
}  # fmt: skip


def synthetic_keypoints(num_frames: int, size: tuple[int, int], phase: float = 0.0) -> np.ndarray:
    """(T, K, 3) keypoints of a figure whose right arm swings up and down; ``phase`` shifts the swing."""
    width, height = size
    base = np.zeros((K, 2))
    for name, (x, y) in _FIGURE.items():
        base[JOINT_INDEX[name]] = (width / 2 + x * height, y * height)
    shoulder, elbow, wrist = (JOINT_INDEX[n] for n in ("r_shoulder", "r_elbow", "r_wrist"))
    out = np.zeros((num_frames, K, 3), np.float32)
    for t in range(num_frames):
        pose = base.copy()
        angle = np.pi / 2 + 1.2 * np.sin(2 * np.pi * t / max(num_frames, 1) + phase)
        for joint, length in ((elbow, 0.14), (wrist, 0.27)):
            pose[joint] = pose[shoulder] + length * height * np.array([-np.cos(angle), np.sin(angle)])
        out[t, :, :2] = pose
        out[t, :, 2] = 0.9
    return out


def fake_iter_analyze_video(path, options=None, cancel=None, estimator=None):
    """Stands in for ``gymnast_pose.analysis.iter_analyze_video`` (see the module docstring)."""
    from gymnast_pose.video import VideoSource

    with VideoSource(path) as video:
        n, fps, fingerprint, size = video.num_frames, float(video.fps), video.fingerprint, video.size
    for i in range(n):
        time.sleep(FAKE_FRAME_S)
        yield AnalysisProgress(i + 1, n)
    phase = 0.6 if "student" in Path(path).stem else 0.0
    return PoseSequence(synthetic_keypoints(n, size, phase), fps, source=str(path), fingerprint=fingerprint,
                        frame_size=size, model_hash="fake")


class ErrorLog(list):
    """The window's ``show_error`` hook: remembers (title, message) instead of showing a box."""

    def __call__(self, title: str, message: str) -> None:
        self.append((title, message))

    def text(self) -> str:
        return "\n".join(f"{title}: {message}" for title, message in self)


@pytest.fixture
def gui_env(tmp_path, monkeypatch):
    """A tiny model and an empty pose cache for this test only."""
    monkeypatch.setenv("GYMNAST_POSE_MODEL", str(write_tiny_model(tmp_path / "tiny_model.pt")))
    monkeypatch.setenv("GYMNAST_POSE_CACHE_DIR", str(tmp_path / "pose_cache"))
    return tmp_path


@pytest.fixture
def fake_analysis(monkeypatch):
    monkeypatch.setattr(analysis, "iter_analyze_video", fake_iter_analyze_video)


@pytest.fixture
def videos(tmp_path):
    """(coach, student) tiny videos: 160 x 120, 20 and 24 frames at 25 fps, each frame carrying its index."""
    coach = make_test_video(tmp_path / "coach.mp4", n_frames=20)
    student = make_test_video(tmp_path / "student.mp4", n_frames=24)
    return coach, student


@pytest.fixture
def make_window(qtbot, gui_env, tmp_path):
    """Factory of shown main windows with captured errors (``window.errors``); all closed at the end."""
    windows = []

    def make(settings_name: str = "settings.ini") -> MainWindow:
        settings = QSettings(str(tmp_path / settings_name), QSettings.Format.IniFormat)
        errors = ErrorLog()
        window = MainWindow(settings=settings, show_error=errors)
        window.errors = errors
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()


@pytest.fixture
def window(make_window):
    return make_window()


def wait_for_comparison(qtbot, window, timeout: int = 20_000) -> None:
    qtbot.waitUntil(lambda: window.session.comparison is not None, timeout=timeout)


def running_qthreads() -> list[QThread]:
    """Every QThread object alive in this process that is still running."""
    gc.collect()
    return [obj for obj in gc.get_objects() if issubclass(type(obj), QThread) and obj.isRunning()]
