"""The main window: wiring only. The coach's and the student's ``VideoPanel`` side by side, the ``TransportBar`` under
them, the ``TimelineWidget`` and the ``AlignmentPanel`` at the bottom; menus, toolbar and shortcuts come from
``actions.WindowActions``. Everything the window shows follows the ``Session``; the slow work runs in the
``SessionController``; the numbers, files and reports come from the core (``compare``, ``report``, ``session``).

Hooks for tests and scripts: ``show_error(title, message)`` (default: a non-modal message box; pass
``show_error=`` to capture instead), the file dialogs in ``gui.dialogs`` (monkeypatch ``get_open_path`` /
``get_save_path``), and ``QSettings`` passed in (``settings=``) so a test never touches the user's settings.
Closing the window cancels every analysis and waits for the worker and frame threads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox, QSplitter, QVBoxLayout, QWidget

from gymnast_pose.gui import dialogs
from gymnast_pose.gui.actions import WindowActions, shortcuts_html
from gymnast_pose.gui.controller import SessionController, model_job
from gymnast_pose.gui.controls import AlignmentPanel, TransportBar
from gymnast_pose.gui.playback import PlaybackController
from gymnast_pose.gui.session import COACH, ROLE_TITLES, ROLES, STUDENT, Session, SessionFileError
from gymnast_pose.gui.session_file import SessionFile
from gymnast_pose.gui.timeline import TimelineWidget
from gymnast_pose.gui.video_panel import FileDropTarget, VideoPanel

log = logging.getLogger(__name__)
APP_TITLE = "gymnast_pose"
SESSION_SUFFIX = ".json"


class MainWindow(FileDropTarget, QMainWindow):
    """Two videos, their timelines and the alignment; see the module docstring."""

    def __init__(self, session: Session | None = None, settings: QSettings | None = None,
                 show_error: Callable[[str, str], object] | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(APP_TITLE)
        self.session = session or Session()
        self.settings = settings if settings is not None else QSettings()
        self.recent = dialogs.RecentFiles(self.settings)
        self._error_hook = show_error
        self.last_message_box: QMessageBox | None = None
        self._shut_down = False
        self._duration_s: float | None = None

        self.controller = SessionController(self.session, parent=self)
        self.playback = PlaybackController(self.session, self)
        self.panels = {role: VideoPanel(self.session, role) for role in ROLES}
        self.transport = TransportBar(self.session, self.playback)
        self.alignment = AlignmentPanel(self.session)
        self.timeline = TimelineWidget()
        self.timeline.graphics.setAcceptDrops(False)  # a video dropped on the plots goes to the window
        self.acts = WindowActions(self)
        self.model_label = QLabel("")
        self.statusBar().addPermanentWidget(self.model_label)
        self._build_layout()
        self._connect()
        self._restore_settings()
        self.setAcceptDrops(True)
        self._on_slot_changed(COACH)
        self._on_comparison_changed()

    # ---- construction -------------------------------------------------------------------------------------------
    def _build_layout(self) -> None:
        self.video_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.video_splitter.setObjectName("video_splitter")
        for role in ROLES:
            self.video_splitter.addWidget(self.panels[role])
        self.video_splitter.setChildrenCollapsible(False)

        self.bottom_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.bottom_splitter.setObjectName("bottom_splitter")
        self.bottom_splitter.addWidget(self.timeline)
        self.bottom_splitter.addWidget(self.alignment)
        self.bottom_splitter.setStretchFactor(0, 1)
        self.bottom_splitter.setStretchFactor(1, 0)
        self.alignment.setMinimumWidth(250)
        self.bottom_splitter.setSizes([1000, 300])
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.setSpacing(2)
        lower_layout.addWidget(self.transport)
        lower_layout.addWidget(self.bottom_splitter, 1)

        self.main_splitter = QSplitter(Qt.Orientation.Vertical)
        self.main_splitter.setObjectName("main_splitter")
        self.main_splitter.addWidget(self.video_splitter)
        self.main_splitter.addWidget(lower)
        self.main_splitter.setStretchFactor(0, 1)
        self.main_splitter.setStretchFactor(1, 1)
        self.main_splitter.setSizes([520, 480])
        self.main_splitter.setChildrenCollapsible(False)
        self.main_splitter.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # start with the keys on the window
        self.setCentralWidget(self.main_splitter)
        self.main_splitter.setFocus()

    def _connect(self) -> None:
        self.controller.error_occurred.connect(self.show_error)
        self.controller.status_message.connect(self.show_status)
        for panel in self.panels.values():
            panel.open_requested.connect(self.ask_open_video)
            panel.file_dropped.connect(self.open_video)
            panel.cancel_requested.connect(self.cancel_analysis)
            panel.athlete_picked.connect(self.controller.reanalyse)
        self.timeline.seek_requested.connect(self._on_seek_requested)
        events = self.session.events
        events.slot_changed.connect(self._on_slot_changed)
        events.comparison_changed.connect(self._on_comparison_changed)
        events.position_changed.connect(self._on_position_changed)
        events.settings_changed.connect(self._on_settings_changed)

    def _restore_settings(self) -> None:
        for act, key in zip(self.acts.overlays, ("skeleton", "ghost", "low_confidence")):
            act.blockSignals(True)
            act.setChecked(str(self.settings.value(f"view/{key}", "true")).lower() == "true")
            act.blockSignals(False)
        self.apply_overlay_options()
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 900)
        for splitter in (self.main_splitter, self.video_splitter, self.bottom_splitter):
            state = self.settings.value(f"window/{splitter.objectName()}")
            if state is not None:
                splitter.restoreState(state)

    # ---- messages ------------------------------------------------------------------------------------------------
    def show_error(self, title: str, message: str) -> None:
        """Tell the user something failed; the app stays usable (non-modal box, or the ``show_error`` hook)."""
        log.info("%s: %s", title, message)
        self.statusBar().showMessage(f"{title}: {message}", 15_000)
        if self._error_hook is not None:
            self._error_hook(title, message)
            return
        self.last_message_box = dialogs.show_message(self, title, message)

    def show_status(self, message: str, msecs: int = 8_000) -> None:
        self.statusBar().showMessage(message, msecs)

    def show_shortcuts(self) -> QMessageBox:
        self.last_message_box = dialogs.show_message(self, "Keyboard shortcuts", shortcuts_html(),
                                                     QMessageBox.Icon.Information)
        return self.last_message_box

    def show_about(self) -> QMessageBox:
        text = ("<b>gymnast_pose</b><p>Open the coach's reference video and a student's video: the app finds the "
                "athlete's joints in every frame, lines the two performances up in time and shows where the "
                "student deviates.</p>")
        self.last_message_box = dialogs.show_message(self, "About gymnast_pose", text, QMessageBox.Icon.Information)
        return self.last_message_box

    # ---- opening ------------------------------------------------------------------------------------------------
    def _start_dir(self) -> str:
        return str(self.settings.value("last_dir", "") or Path.home())

    def ask_open_video(self, role: str) -> None:
        path = dialogs.get_open_path(self, f"Open the {ROLE_TITLES[role].lower()} video", self._start_dir(),
                                     dialogs.VIDEO_FILTER)
        if path is not None:
            self.open_video(role, path)

    def open_video(self, role: str, path) -> None:
        """Open ``path`` on the ``role`` side and analyse it (a session file dropped there opens the session)."""
        path = Path(path)
        if path.suffix.lower() == SESSION_SUFFIX:
            self.open_session(path)
            return
        self.settings.setValue("last_dir", str(path.parent))
        self.recent.add(role, path)
        self.controller.open_video(role, path)
        self.show_status(f"Opening {path.name} as the {ROLE_TITLES[role].lower()} video…")

    def open_paths(self, paths: list[Path]) -> None:
        """Open dropped or command-line files: a session, or videos (two: coach then student; one: a free side)."""
        paths = [Path(p) for p in paths]
        sessions = [p for p in paths if p.suffix.lower() == SESSION_SUFFIX]
        if sessions:
            self.open_session(sessions[0])
        elif len(paths) >= 2:
            self.open_video(COACH, paths[0])
            self.open_video(STUDENT, paths[1])
        elif paths:
            self.open_video(COACH if self.session.coach.path is None else STUDENT, paths[0])

    def cancel_analysis(self, role: str) -> None:
        self.controller.cancel(role)
        self.show_status(f"{ROLE_TITLES[role]}: analysis cancelled")

    def ask_open_session(self) -> None:
        path = dialogs.get_open_path(self, "Open a session", self._start_dir(), dialogs.SESSION_FILTER)
        if path is not None:
            self.open_session(path)

    def open_session(self, path) -> bool:
        path = Path(path)
        try:
            session_file = SessionFile.load(path)
        except SessionFileError as exc:
            self.show_error("Could not open the session", str(exc))
            return False
        self.settings.setValue("last_dir", str(path.parent))
        self.recent.add(dialogs.SESSION_KIND, path)
        self.controller.load_session_file(session_file)
        self.show_status(f"Session {path.name} opened")
        return True

    def fill_recent_menu(self) -> None:
        menu = self.acts.recent_menu
        menu.clear()
        entries = self.recent.entries()
        if not entries:
            menu.addAction("(no recent files)").setEnabled(False)
            return
        for entry in entries:
            menu.addAction(entry.label).triggered.connect(lambda _checked=False, e=entry: self.open_recent(e))
        menu.addSeparator()
        menu.addAction("Clear the list").triggered.connect(lambda _checked=False: self.recent.clear())

    def open_recent(self, entry: dialogs.RecentEntry) -> None:
        if not entry.path.is_file():
            self.recent.remove(entry)
            self.show_error("File not found", f"{entry.path} no longer exists; it was removed from the recent files.")
        elif entry.kind == dialogs.SESSION_KIND:
            self.open_session(entry.path)
        elif entry.kind in ROLES:
            self.open_video(entry.kind, entry.path)

    # ---- saving and exporting -------------------------------------------------------------------------------------
    def _suggested(self, ending: str) -> str:
        names = [slot.path.stem for slot in self.session.slots.values() if slot.path is not None]
        folder = self.settings.value("export_dir", "") or self._start_dir()
        return str(Path(folder) / ("_vs_".join(names) + ending if names else "gymnast_pose" + ending))

    def ask_save_session(self) -> None:
        path = dialogs.get_save_path(self, "Save the session", self._suggested(SESSION_SUFFIX),
                                     dialogs.SESSION_FILTER)
        if path is not None:
            self.save_session(path)

    def save_session(self, path) -> bool:
        path = dialogs.with_suffix(Path(path), SESSION_SUFFIX)
        problem = dialogs.writable_problem(path)
        try:
            if problem:
                raise SessionFileError(f"Cannot write the session file {path}: {problem}")
            self.session.to_file().save(path)
        except SessionFileError as exc:
            self.show_error("Could not save the session", str(exc))
            return False
        self.recent.add(dialogs.SESSION_KIND, path)
        self.show_status(f"Session saved to {path}")
        return True

    def export_report(self) -> None:
        self.ask_export("report")

    def export_summary(self) -> None:
        self.ask_export("summary")

    def export_png(self) -> None:
        self.ask_export("png")

    def ask_export(self, kind: str) -> None:
        what, suffix, ending = dialogs.EXPORTS[kind]
        if self.session.comparison is None:
            self.show_status("Nothing to export yet: open and analyse both videos first")
            return
        file_filter = dialogs.PNG_FILTER if suffix == ".png" else dialogs.CSV_FILTER
        path = dialogs.get_save_path(self, f"Export the {what}", self._suggested(ending), file_filter)
        if path is not None:
            self.write_export(kind, path)

    def write_export(self, kind: str, path) -> bool:
        """Write the ``kind`` export ("report", "summary" or "png") of the current comparison to ``path``."""
        what = dialogs.EXPORTS[kind][0]
        path, problem = dialogs.write_export(kind, self.session.comparison, self.timeline, path)
        if problem is not None:
            self.show_error(f"Could not export the {what}", problem)
            return False
        self.settings.setValue("export_dir", str(path.parent))
        self.show_status(f"The {what} was written to {path}")
        return True

    # ---- view ---------------------------------------------------------------------------------------------------
    def apply_overlay_options(self, *_args) -> None:
        skeleton, ghost, low = (act.isChecked() for act in self.acts.overlays)
        for panel in self.panels.values():
            panel.view.set_overlay_options(skeleton=skeleton, ghost=ghost, low_confidence=low,
                                           threshold=self.session.settings.confidence_threshold)
        for key, value in zip(("skeleton", "ghost", "low_confidence"), (skeleton, ghost, low)):
            self.settings.setValue(f"view/{key}", "true" if value else "false")

    # ---- session events -----------------------------------------------------------------------------------------
    def _on_slot_changed(self, role: str) -> None:
        names = [f"{slot.path.name}" for slot in self.session.slots.values() if slot.path is not None]
        self.setWindowTitle(f"{APP_TITLE} — " + "  vs  ".join(names) if names else APP_TITLE)
        info = self.session.clock_info
        duration = info.duration_s if info is not None else 1.0
        if duration != self._duration_s:
            self._duration_s = duration
            self.timeline.set_duration(duration)
            self.timeline.set_playhead(self.session.position / self.session.clock_fps)
        has_video = self.session.num_positions > 0
        for act in (self.acts.play, self.acts.step_back, self.acts.step_forward):
            act.setEnabled(has_video)
        if not has_video:
            self.playback.pause()
        self.acts.save_session.setEnabled(any(s.path is not None for s in self.session.slots.values()))

    def _on_comparison_changed(self) -> None:
        comparison = self.session.comparison
        self.timeline.set_comparison(comparison)
        for act in self.acts.exports:
            act.setEnabled(comparison is not None)
        if comparison is not None:
            self.show_status(f"Comparison ready: score {comparison.score:.0f} / 100 over "
                             f"{comparison.num_pairs} frame pairs")

    def _on_position_changed(self, position: int) -> None:
        self.timeline.set_playhead(position / self.session.clock_fps)

    def _on_settings_changed(self) -> None:
        threshold = self.session.settings.confidence_threshold
        for panel in self.panels.values():
            panel.view.set_overlay_options(threshold=threshold)

    def _on_seek_requested(self, time_s: float) -> None:
        self.session.set_position(self.session.position_of_time(time_s))

    # ---- model check --------------------------------------------------------------------------------------------
    def check_model(self):
        """Load the pose model on a worker now, so a missing or damaged model file is reported at start."""

        def on_result(result) -> None:
            path, runs_on = result
            self.model_label.setText(f"Pose model: {Path(path).name}" + (f" ({runs_on})" if runs_on else ""))
            self.model_label.setToolTip(str(path))

        def on_error(exc) -> None:
            self.model_label.setText("No pose model")
            self.model_label.setStyleSheet("color: #ff7060;")
            self.show_error("The pose model cannot be loaded",
                            f"{exc}\n\nVideos can still be opened and watched, but not analysed. Reinstall "
                            "gymnast_pose, or set the GYMNAST_POSE_MODEL environment variable to a model file (.pt).")

        return self.controller.runner.start(model_job, name="check-model", on_result=on_result, on_error=on_error)

    # ---- drag and drop, closing ---------------------------------------------------------------------------------
    def files_dropped(self, paths: list[Path]) -> None:
        self.open_paths(paths)

    def shutdown(self) -> None:
        """Stop playback, cancel every analysis and wait for all worker and frame threads (idempotent)."""
        if self._shut_down:
            return
        self._shut_down = True
        self.playback.pause()
        self.controller.shutdown()
        for panel in self.panels.values():
            panel.stop_loader()

    def closeEvent(self, event) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        for splitter in (self.main_splitter, self.video_splitter, self.bottom_splitter):
            self.settings.setValue(f"window/{splitter.objectName()}", splitter.saveState())
        self.settings.sync()
        self.shutdown()
        super().closeEvent(event)
