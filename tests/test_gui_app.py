"""The main window end to end, offscreen, on generated videos: open, analyse, compare, seek, export, errors,
cancel, close, and the session file round trip. Fixtures: ``test_gui_support``."""

from __future__ import annotations

import csv

import pytest
from helpers_video import make_non_video_file, make_test_video, read_index
from PySide6.QtCore import Qt
from test_gui_support import running_qthreads, wait_for_comparison

from gymnast_pose.gui import dialogs
from gymnast_pose.gui.session import COACH, ROLES, STUDENT, SlotStatus

pytest_plugins = ("test_gui_support",)  # its fixtures: window, make_window, videos, fake_analysis, gui_env


def open_both(qtbot, window, videos) -> None:
    window.open_video(COACH, videos[0])
    window.open_video(STUDENT, videos[1])
    wait_for_comparison(qtbot, window)


def shown_frame(panel) -> int | None:
    """The index drawn into the picture the view shows (None: no picture)."""
    array = panel.view._array
    return None if array is None else read_index(array)


def test_opening_two_videos_analyses_both_and_compares(qtbot, window, videos, fake_analysis):
    assert not any(act.isEnabled() for act in window.acts.exports)  # nothing to export yet
    open_both(qtbot, window, videos)

    coach, student = window.session.coach, window.session.student
    assert coach.status is SlotStatus.READY and student.status is SlotStatus.READY
    assert coach.poses.num_frames == 20 and student.poses.num_frames == 24
    comparison = window.session.comparison
    assert comparison.num_pairs > 0
    assert all(act.isEnabled() for act in window.acts.exports)
    assert len(window.timeline.distance_curve.getData()[0]) == comparison.num_pairs
    assert "/ 100" in window.alignment.score_label.text()
    assert "coach.mp4" in window.windowTitle() and "student.mp4" in window.windowTitle()
    assert not window.errors
    for role in ROLES:  # the progress bars are gone once the analysis is done
        assert not window.panels[role].progress.isVisible()
        assert not window.panels[role].cancel_button.isVisible()


def test_seeking_moves_both_views_and_the_playhead(qtbot, window, videos, fake_analysis):
    open_both(qtbot, window, videos)
    session, timeline = window.session, window.timeline
    coach_panel, student_panel = window.panels[COACH], window.panels[STUDENT]

    def shows(position: int) -> bool:
        frames = session.frames()
        return (shown_frame(coach_panel) == frames[COACH] == position
                and shown_frame(student_panel) == frames[STUDENT])

    session.set_position(9)
    qtbot.waitUntil(lambda: shows(9), timeout=5_000)
    assert timeline.playhead_s == pytest.approx(9 / 25)
    assert coach_panel.view._pose is not None and student_panel.view._ghost is not None

    window.transport.scrubber.setValue(15)  # the scrubber, as a user drags it
    assert session.position == 15
    qtbot.waitUntil(lambda: shows(15), timeout=5_000)
    assert timeline.playhead_s == pytest.approx(15 / 25)

    timeline.seek_requested.emit(0.2)  # a click on a timeline at 0.2 s
    qtbot.waitUntil(lambda: shows(5), timeout=5_000)
    assert window.transport.scrubber.value() == 5

    window.acts.step_forward.trigger()  # Right arrow
    qtbot.waitUntil(lambda: shows(6), timeout=5_000)


def test_export_writes_the_reports_and_explains_unwritable_paths(qtbot, window, videos, fake_analysis, tmp_path,
                                                                monkeypatch):
    open_both(qtbot, window, videos)
    targets = iter([tmp_path / "pairs", tmp_path / "summary.csv", tmp_path / "timelines.png",
                    tmp_path / "no_such_folder" / "pairs.csv"])
    monkeypatch.setattr(dialogs, "get_save_path", lambda *args: next(targets))

    window.acts.export_report.trigger()
    with open(tmp_path / "pairs.csv", newline="") as f:  # the missing suffix was added
        rows = list(csv.reader(f))
    assert rows[0][:3] == ["coach_frame", "coach_time_s", "student_frame"]
    assert len(rows) == 1 + window.session.comparison.num_pairs
    window.acts.export_summary.trigger()
    assert (tmp_path / "summary.csv").read_text().startswith("item,unit,mean")
    window.acts.export_png.trigger()
    assert (tmp_path / "timelines.png").read_bytes()[:4] == b"\x89PNG"
    assert not window.errors

    window.acts.export_report.trigger()
    assert len(window.errors) == 1
    title, message = window.errors[0]
    assert "Could not export the report" in title and "does not exist" in message
    assert "does not exist" in window.statusBar().currentMessage()


def test_a_corrupt_video_shows_an_error_and_the_app_stays_usable(qtbot, window, videos, tmp_path, monkeypatch,
                                                                fake_analysis):
    broken = make_non_video_file(tmp_path / "broken.mp4")
    monkeypatch.setattr(dialogs, "get_open_path", lambda *args: broken)
    window.acts.open_coach.trigger()
    qtbot.waitUntil(lambda: len(window.errors) == 1, timeout=10_000)

    title, message = window.errors[0]
    assert "broken.mp4" in title and message
    panel = window.panels[COACH]
    assert window.session.coach.status is SlotStatus.FAILED
    assert panel.open_button.isEnabled() and window.acts.open_coach.isEnabled()
    assert not panel.cancel_button.isVisible() and not panel.progress.isVisible()
    assert not window.controller.is_analysing(COACH)

    open_both(qtbot, window, videos)  # a good video afterwards works as usual
    assert window.session.coach.status is SlotStatus.READY


def long_video(tmp_path):
    return make_test_video(tmp_path / "long.mp4", n_frames=150)


def test_cancel_stops_a_running_analysis(qtbot, window, tmp_path):
    window.open_video(COACH, long_video(tmp_path))  # the real pipeline with the tiny model
    slot, panel = window.session.coach, window.panels[COACH]
    qtbot.waitUntil(lambda: slot.status is SlotStatus.ANALYSING and (slot.progress or 0) > 0, timeout=20_000)
    assert panel.cancel_button.isVisible()

    qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    assert slot.status is SlotStatus.CANCELLED and slot.poses is None
    qtbot.waitUntil(lambda: not window.controller.runner.tasks, timeout=10_000)
    assert not panel.cancel_button.isVisible() and panel.open_button.isEnabled()
    assert window.session.coach.has_video  # the video can still be watched
    assert not window.errors


def test_closing_during_analysis_leaves_no_thread_running(qtbot, window, tmp_path, videos):
    window.open_video(COACH, long_video(tmp_path))
    window.open_video(STUDENT, videos[1])
    slot = window.session.coach
    qtbot.waitUntil(lambda: slot.status is SlotStatus.ANALYSING and (slot.progress or 0) > 0, timeout=20_000)
    assert running_qthreads()  # the analysis and the frame loaders (and proof that the check sees them)

    window.close()
    assert not window.controller.runner.tasks
    assert all(panel.loader is None for panel in window.panels.values())
    assert running_qthreads() == []


def test_a_saved_session_reopens_both_videos(qtbot, make_window, videos, fake_analysis, tmp_path, monkeypatch):
    first = make_window()
    open_both(qtbot, first, videos)
    first.session.update_settings(mirror=True, opposite_view=True)
    first.session.set_position(7)
    session_path = tmp_path / "lesson.json"
    monkeypatch.setattr(dialogs, "get_save_path", lambda *args: session_path)
    first.acts.save_session.trigger()
    assert session_path.is_file() and not first.errors

    second = make_window("other_settings.ini")
    monkeypatch.setattr(dialogs, "get_open_path", lambda *args: session_path)
    second.acts.open_session.trigger()
    wait_for_comparison(qtbot, second)
    for role in ROLES:
        assert second.session.slot(role).path == first.session.slot(role).path
        assert second.session.slot(role).status is SlotStatus.READY
    assert second.session.settings == first.session.settings
    assert second.session.position == 7
    assert second.session.comparison.options.mirror and second.session.comparison.options.opposite_view
    assert second.alignment.opposite_box.isChecked()
    assert not second.errors


def test_the_alignment_panel_says_when_the_other_mirror_setting_matches_better(qtbot, window, videos, fake_analysis):
    open_both(qtbot, window, videos)
    hint = window.alignment.mirror_hint
    assert window.session.mirror_suggestion is None and hint.isHidden()
    window.session.update_settings(mirror=True)  # the fake athletes swing the same (right) arm: mirroring is wrong
    qtbot.waitUntil(lambda: window.session.comparison is not None and window.session.comparison.options.mirror,
                    timeout=20_000)
    suggestion = window.session.mirror_suggestion
    assert suggestion is not None and suggestion.mirror is False
    assert not hint.isHidden() and "Turn off Mirror student" in hint.text()
    window.session.update_settings(mirror=False)
    qtbot.waitUntil(lambda: window.session.comparison is not None and not window.session.comparison.options.mirror,
                    timeout=20_000)
    assert window.session.mirror_suggestion is None and hint.isHidden()


def test_the_other_side_button_flips_the_student_view(qtbot, window, videos, fake_analysis):
    open_both(qtbot, window, videos)
    button = window.alignment.opposite_box
    assert button.isEnabled() and not button.isChecked()
    button.click()
    assert window.session.settings.opposite_view
    qtbot.waitUntil(lambda: window.session.comparison is not None
                    and window.session.comparison.options.opposite_view, timeout=20_000)
    assert window.session.comparison.student.opposite_view and not window.session.comparison.student.mirrored
