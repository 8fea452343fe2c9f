"""The main window's menus, shortcuts, view toggles, recent files, drag and drop, model check, the ``gui`` command
and ``app.build_window``. Fixtures: ``test_gui_support``."""

from __future__ import annotations

import argparse

import pytest
from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDropEvent
from test_gui_support import ErrorLog, wait_for_comparison

from gymnast_pose.cli import UserError
from gymnast_pose.commands import gui as gui_command
from gymnast_pose.gui import app as gui_app
from gymnast_pose.gui import dialogs
from gymnast_pose.gui.session import COACH, ROLES, STUDENT, SlotStatus

pytest_plugins = ("test_gui_support",)  # its fixtures: window, make_window, videos, fake_analysis, gui_env


def test_keyboard_shortcuts_drive_playback(qtbot, window, videos, fake_analysis):
    window.open_video(COACH, videos[0])
    qtbot.waitUntil(lambda: window.session.num_positions == 20, timeout=10_000)
    window.activateWindow()
    keys = {act.shortcut().toString() for act in (window.acts.play, window.acts.step_back, window.acts.step_forward,
                                                   window.acts.slower, window.acts.faster)}
    assert keys == {"Space", "Left", "Right", "[", "]"}

    qtbot.keyClick(window, Qt.Key.Key_Right)
    qtbot.keyClick(window, Qt.Key.Key_Right)
    assert window.session.position == 2
    qtbot.keyClick(window, Qt.Key.Key_Left)
    assert window.session.position == 1
    speed = window.playback.speed
    qtbot.keyClick(window, Qt.Key.Key_BracketRight)
    assert window.playback.speed > speed
    qtbot.keyClick(window, Qt.Key.Key_BracketLeft)
    qtbot.keyClick(window, Qt.Key.Key_BracketLeft)
    assert window.playback.speed < speed
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert window.playback.playing
    qtbot.waitUntil(lambda: window.session.position > 1, timeout=5_000)  # it really plays
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert not window.playback.playing


def test_view_toggles_reach_both_views_and_are_remembered(qtbot, make_window):
    first = make_window()
    first.acts.show_ghost.setChecked(False)
    first.acts.show_low_confidence.setChecked(False)
    for role in ROLES:
        view = first.panels[role].view
        assert view.show_skeleton and not view.show_ghost and not view.show_low_confidence
    first.acts.show_skeleton.trigger()
    assert not any(first.panels[role].view.show_skeleton for role in ROLES)
    first.close()

    second = make_window()  # same settings file
    assert [act.isChecked() for act in second.acts.overlays] == [False, False, False]
    assert not second.panels[STUDENT].view.show_ghost


def test_recent_files_reopen_and_forget_missing_files(qtbot, window, videos, fake_analysis):
    window.open_video(STUDENT, videos[1])
    window.open_video(COACH, videos[0])
    entries = window.recent.entries()
    assert [(e.kind, e.path) for e in entries[:2]] == [(COACH, videos[0].resolve()), (STUDENT, videos[1].resolve())]
    wait_for_comparison(qtbot, window)

    window.fill_recent_menu()
    labels = [act.text() for act in window.acts.recent_menu.actions()]
    assert any("student.mp4" in label for label in labels) and "Clear the list" in labels

    videos[1].unlink()
    missing = next(e for e in entries if e.kind == STUDENT)
    window.open_recent(missing)
    assert "no longer exists" in window.errors.text()
    assert missing not in window.recent.entries()
    window.recent.clear()
    window.fill_recent_menu()
    assert [act.isEnabled() for act in window.acts.recent_menu.actions()] == [False]


def drop(window, paths) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)


def test_dropping_videos_on_the_window_opens_them(qtbot, window, videos, fake_analysis):
    drop(window, videos)
    wait_for_comparison(qtbot, window)
    assert window.session.coach.path == videos[0] and window.session.student.path == videos[1]

    drop(window, [videos[0]])  # one more file with both sides full: a new student attempt
    qtbot.waitUntil(lambda: window.session.comparison is not None, timeout=10_000)
    assert window.session.student.path == videos[0]


def test_a_corrupt_model_is_reported_at_start_and_when_analysing(qtbot, window, videos, tmp_path, monkeypatch):
    corrupt = tmp_path / "corrupt_model.pt"
    corrupt.write_bytes(b"not a checkpoint" * 100)
    monkeypatch.setenv("GYMNAST_POSE_MODEL", str(corrupt))
    window.check_model()
    qtbot.waitUntil(lambda: len(window.errors) == 1, timeout=20_000)
    title, message = window.errors[0]
    assert title == "The pose model cannot be loaded"
    assert "corrupt" in message and "GYMNAST_POSE_MODEL" in message
    assert window.model_label.text() == "No pose model"

    window.open_video(COACH, videos[0])  # videos still open; the analysis says why it cannot run
    qtbot.waitUntil(lambda: len(window.errors) == 2, timeout=20_000)
    assert "corrupt" in window.errors[1][1]
    assert window.session.coach.status is SlotStatus.FAILED and window.session.coach.has_video


def test_help_shows_the_shortcuts_without_blocking(qtbot, window):
    box = window.show_shortcuts()
    assert box.isVisible() and not box.isModal()
    assert "Space" in box.text() and "Play / pause" in box.text()
    box.close()


def test_the_gui_command_passes_its_files_to_the_app(videos, monkeypatch, tmp_path):
    parser = argparse.ArgumentParser()
    gui_command.add_arguments(parser)
    calls = []
    monkeypatch.setattr(gui_app, "main", lambda coach=None, student=None: calls.append((coach, student)) or 0)

    assert gui_command.run(parser.parse_args([str(videos[0]), str(videos[1])])) == 0
    assert gui_command.run(parser.parse_args([])) == 0
    session_file = tmp_path / "lesson.json"
    session_file.write_text("{}")
    assert gui_command.run(parser.parse_args([str(session_file)])) == 0
    assert calls == [tuple(videos), (None, None), (session_file, None)]
    with pytest.raises(UserError, match="does not exist"):
        gui_command.run(parser.parse_args([str(tmp_path / "missing.mp4")]))


def test_build_window_opens_the_given_videos(qtbot, videos, fake_analysis, gui_env, tmp_path):
    errors = ErrorLog()
    settings = QSettings(str(tmp_path / "app.ini"), QSettings.Format.IniFormat)
    window = gui_app.build_window(*videos, settings=settings, show_error=errors)
    qtbot.addWidget(window)
    try:
        wait_for_comparison(qtbot, window)
        qtbot.waitUntil(lambda: window.model_label.text().startswith("Pose model: tiny_model.pt ("), timeout=20_000)
        assert window.model_label.text().endswith(("(CPU, bfloat16)", "(CPU, float32)", "(CUDA, float16)"))
        assert not errors
    finally:
        window.close()


def test_unwritable_session_path_is_explained(window, tmp_path, monkeypatch, videos, fake_analysis):
    window.open_video(COACH, videos[0])
    monkeypatch.setattr(dialogs, "get_save_path", lambda *args: tmp_path / "nowhere" / "lesson")
    window.acts.save_session.trigger()
    assert window.errors and "does not exist" in window.errors[0][1]


def test_the_qt_binding_keeps_none_alive(qtbot):
    """PySide6 6.12 on Python < 3.12 drops a reference to None per Qt call: the app aborted after seconds of
    playback. pyproject.toml excludes it; this fails loudly if an environment has it anyway."""
    import sys

    from PySide6.QtWidgets import QSlider

    from gymnast_pose.gui.qt_compat import binding_loses_none_references, signals_blocked

    assert not binding_loses_none_references(), "this PySide6 build breaks the app: install PySide6-Essentials<6.12"
    slider = QSlider()
    qtbot.addWidget(slider)
    before = sys.getrefcount(None)
    for _ in range(2000):
        with signals_blocked(slider):
            slider.setValue(1)
    assert sys.getrefcount(None) >= before - 50
    assert not slider.signalsBlocked()


def test_angle_curves_stay_within_one_turn():
    """Noisy angles near the wrap point must not drift (unwrapping them reached -1000 degrees on real clips); a
    handstand's angles near 180 degrees are shown in [0, 360) so their curve stays in one piece."""
    import numpy as np

    from gymnast_pose.gui.timeline import angles_for_display

    rng = np.random.default_rng(0)
    noisy = rng.uniform(-180, 180, 500)
    coach, student, coach_joins, _ = angles_for_display(noisy, noisy[::-1].copy())
    assert np.nanmax(np.abs(coach)) <= 360 and np.nanmax(np.abs(student)) <= 360
    assert not coach_joins[np.flatnonzero(np.abs(np.diff(coach)) > 180)].any()  # no line across a wrap

    handstand = np.array([179.0, -179.0, 178.0, np.nan, -177.0, 176.0])
    coach, student, coach_joins, student_joins = angles_for_display(handstand, handstand)
    assert np.allclose(coach[[0, 1, 2, 4, 5]], [179, 181, 178, 183, 176])
    assert coach_joins.tolist() == [True, True, False, False, True, False]
