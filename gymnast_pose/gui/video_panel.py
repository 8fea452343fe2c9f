"""One side of the comparison: a header (who, which file, analysis progress with Cancel, athlete picking) above a
``VideoView``. The panel follows the session: it asks its ``FrameLoader`` for the frame of the current position and,
when the frame arrives, draws that frame's stickman (and, on the student's side, the coach's ghost).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from gymnast_pose.gui.frame_loader import FrameLoader
from gymnast_pose.gui.overlays import ghost_at
from gymnast_pose.gui.qt_compat import signals_blocked
from gymnast_pose.gui.session import COACH, ROLE_TITLES, STUDENT, AthleteBox, Session, SlotStatus
from gymnast_pose.gui.video_view import LEFT_COLOUR, RIGHT_COLOUR, VideoView

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv")


def dropped_paths(mime) -> list[Path]:
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()] if mime.hasUrls() else []


class FileDropTarget:
    """Mixin for a QWidget that accepts local files dropped on it and passes them to ``files_dropped(paths)``
    (call ``setAcceptDrops(True)`` too)."""

    def files_dropped(self, paths: list[Path]) -> None:
        raise NotImplementedError

    def dragEnterEvent(self, event) -> None:
        if dropped_paths(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = dropped_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.files_dropped(paths)


class VideoPanel(FileDropTarget, QWidget):
    open_requested = Signal(str)  # role
    file_dropped = Signal(str, object)  # role, Path
    cancel_requested = Signal(str)  # role
    athlete_picked = Signal(str, object)  # role, AthleteBox

    def __init__(self, session: Session, role: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.role = role
        self.loader: FrameLoader | None = None
        self._loader_path: Path | None = None
        self._requested: dict[int, int | None] = {}  # requested frame -> coach frame it goes with (for the ghost)
        self.shown_frames = 0  # frames painted since opening (benchmarks)
        self.setAcceptDrops(True)

        self.title = QLabel(f"<b>{ROLE_TITLES[role]}</b>")
        self.file_label = QLabel("no video")
        self.file_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.file_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.open_button = QPushButton("Open…")
        self.open_button.setToolTip(f"Open the {role}'s video (or drop a video file here)")
        self.open_button.clicked.connect(lambda: self.open_requested.emit(self.role))
        self.pick_button = QPushButton("Pick athlete")
        self.pick_button.setCheckable(True)
        self.pick_button.setToolTip("Several people in view? Click on the athlete to follow, and the video is "
                                    "analysed again for them")
        self.pick_button.toggled.connect(self._on_pick_toggled)
        self.progress = QProgressBar()
        self.progress.setMaximumHeight(16)
        self.progress.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop analysing this video")
        self.cancel_button.clicked.connect(lambda: self.cancel_requested.emit(self.role))
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.legend = QLabel(
            f"<span style='color:{RIGHT_COLOUR.name()}'>●</span> right &nbsp;"
            f"<span style='color:{LEFT_COLOUR.name()}'>●</span> left &nbsp;○ unsure"
            + ("&nbsp; ghost = coach: <span style='color:#28c850'>■</span> close "
               "<span style='color:#fadc28'>■</span> off <span style='color:#eb2828'>■</span> far"
               if role == STUDENT else ""))
        self.legend.setToolTip("Stickman: the athlete's own right and left sides; a hollow ring and a dashed bone "
                               "are joints the network is unsure of." + (
                                   " The ghost is the coach's pose drawn on the student's body (same hip "
                                   "position and torso length), coloured by how far each joint is off." if
                                   role == STUDENT else ""))

        self.view = VideoView()
        self.view.set_placeholder(f"{ROLE_TITLES[role]}\n\nDrop a video here or click Open…")
        self.view.box_picked.connect(self._on_box_picked)
        self._detached: int | None = None  # frame shown while scrubbing this video alone

        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.slider.setToolTip(f"Scrub the {role}'s video alone" + (
            " (the coach's video stays where it is; use Line up to keep this pairing)" if role == STUDENT else ""))
        self.slider.valueChanged.connect(self._on_slider)
        self.range_label = QLabel("")
        self.start_button = QPushButton("Start here")
        self.start_button.setToolTip(f"The skill starts at this frame of the {role}'s video")
        self.start_button.clicked.connect(lambda: self._set_range_end(0))
        self.end_button = QPushButton("End here")
        self.end_button.setToolTip(f"The skill ends at this frame of the {role}'s video")
        self.end_button.clicked.connect(lambda: self._set_range_end(1))
        self.whole_button = QPushButton("Whole")
        self.whole_button.setToolTip(f"Compare the whole of the {role}'s video")
        self.whole_button.clicked.connect(
            lambda: session.set_settings(session.settings.with_range(role, None)))
        self.line_up_button = QPushButton("Line up")
        self.line_up_button.setToolTip("Show this student frame with the coach's current frame from now on "
                                       "(switches to a fixed offset)")
        self.line_up_button.clicked.connect(self._line_up)
        self.line_up_button.setVisible(role == STUDENT)
        self._footer_buttons = (self.start_button, self.end_button, self.whole_button, self.line_up_button)

        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        header.addWidget(self.title)
        header.addWidget(self.file_label, 1)
        header.addWidget(self.pick_button)
        header.addWidget(self.open_button)
        busy = QHBoxLayout()
        busy.setContentsMargins(0, 0, 0, 0)
        busy.addWidget(self.progress, 1)
        busy.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(3)
        layout.addLayout(header)
        layout.addLayout(busy)
        layout.addWidget(self.status)
        layout.addWidget(self.view, 1)
        footer = QHBoxLayout()
        footer.setContentsMargins(0, 0, 0, 0)
        footer.addWidget(self.slider, 1)
        for button in self._footer_buttons:
            footer.addWidget(button)
        layout.addLayout(footer)
        under = QHBoxLayout()
        under.setContentsMargins(0, 0, 0, 0)
        under.addWidget(self.range_label, 1)
        under.addWidget(self.legend)
        layout.addLayout(under)
        for button in (self.open_button, self.pick_button, self.cancel_button, *self._footer_buttons):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)

        session.events.slot_changed.connect(self._on_slot_changed)
        session.events.position_changed.connect(self._on_position_changed)
        session.events.comparison_changed.connect(self._redraw_overlays)
        session.events.settings_changed.connect(self._update_footer)
        self._on_slot_changed(role)

    # ---- session events -------------------------------------------------------------------------------------
    def _on_slot_changed(self, role: str) -> None:
        if role != self.role:
            return
        slot = self.session.slot(role)
        self.file_label.setText(slot.path.name if slot.path else "no video")
        self.file_label.setToolTip(str(slot.path) if slot.path else "")
        busy = slot.status.busy
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.cancel_button.setEnabled(busy)
        if busy:
            if slot.progress is None:  # not a busy animation: the style would hide the text (and look full)
                self.progress.setRange(0, 1000)
                self.progress.setValue(0)
                self.progress.setFormat(slot.message)
            else:
                self.progress.setRange(0, 1000)
                self.progress.setValue(int(round(slot.progress * 1000)))
                self.progress.setFormat(f"{slot.message} %p%")
        failed = slot.status is SlotStatus.FAILED
        self.status.setVisible(failed or slot.status is SlotStatus.CANCELLED or bool(slot.info and slot.info.note))
        text = slot.message if not busy else ""
        if slot.info and slot.info.note and not failed:
            text = (text + " · " if text else "") + slot.info.note
        self.status.setText(text)
        self.status.setStyleSheet("color: #ff7060;" if failed else "color: #c0c0c0;")
        self.pick_button.setEnabled(slot.info is not None)
        if slot.info is None and self.pick_button.isChecked():
            self.pick_button.setChecked(False)
        self._sync_loader(slot.path if slot.info is not None else None)
        self._update_footer()
        if slot.info is None and not busy:
            self.view.clear()
            self.view.set_placeholder(slot.message if failed else
                                      f"{ROLE_TITLES[role]}\n\nDrop a video here or click Open…")
        self._redraw_overlays()

    def _sync_loader(self, path: Path | None) -> None:
        if path == self._loader_path:
            if path is not None and self.view.frame_index is None:
                self._request_current()
            return
        self.stop_loader()
        self._loader_path = path
        if path is None:
            return
        self.loader = FrameLoader(path)
        self.loader.frame_ready.connect(self._on_frame_ready)
        self.loader.failed.connect(self._on_frame_failed)
        self.loader.start()
        self._request_current()

    def stop_loader(self) -> None:
        if self.loader is not None:
            self.loader.frame_ready.disconnect(self._on_frame_ready)
            self.loader.failed.disconnect(self._on_frame_failed)
            self.loader.stop()
            self.loader = None
        self._loader_path = None
        self._requested.clear()

    def _on_position_changed(self, position: int) -> None:
        self._detached = None
        self._request_current()

    @property
    def current_frame(self) -> int | None:
        """The frame this panel shows (or is about to show): its own scrub position, else the session's."""
        return self._detached if self._detached is not None else self.session.frames()[self.role]

    def _request_current(self) -> None:
        index = self.current_frame
        if index is not None and self.slider.value() != index:
            with signals_blocked(self.slider):
                self.slider.setValue(index)
        if self.loader is None or index is None:
            return
        self._requested = {index: self.session.frames()[COACH] if self._detached is None else None}
        if index != self.view.frame_index:
            nxt = index + 1 if index + 1 < self.session.slot(self.role).info.num_frames else None
            self.loader.request(index, prefetch=nxt)
        else:
            self._redraw_overlays()

    def _on_slider(self, value: int) -> None:
        if self.role == self.session.clock_role:
            self.session.set_position(value)
        else:
            self._detached = value
            self._request_current()

    # ---- trimming and lining up -------------------------------------------------------------------------------
    def _update_footer(self) -> None:
        slot, settings = self.session.slot(self.role), self.session.settings
        info = slot.info
        for widget in (self.slider, self.start_button, self.end_button, self.whole_button):
            widget.setEnabled(info is not None)
        self.line_up_button.setEnabled(info is not None and self.session.coach.has_video)
        if info is None:
            self.range_label.setText("")
            return
        with signals_blocked(self.slider):
            self.slider.setRange(0, info.num_frames - 1)
        start, stop = settings.range_of(self.role) or (None, None)
        if start is None and stop is None:
            self.range_label.setText(f"Skill: whole video ({info.duration_s:.2f} s)")
        else:
            first = 0 if start is None else start
            last = info.num_frames - 1 if stop is None else stop - 1
            self.range_label.setText(f"Skill: frames {first}–{last} ({first / info.fps:.2f}–{last / info.fps:.2f} s)")

    def _set_range_end(self, end: int) -> None:
        frame = self.current_frame
        if frame is None:
            return
        start, stop = self.session.settings.range_of(self.role) or (None, None)
        if end == 0:
            start = frame
            stop = None if stop is not None and stop <= start else stop
        else:
            stop = frame + 1
            start = None if start is not None and start >= stop else start
        self.session.set_settings(self.session.settings.with_range(self.role, (start, stop)))

    def _line_up(self) -> None:
        frame = self.current_frame
        coach_frame = self.session.frames()[COACH]
        if frame is None or coach_frame is None:
            return
        offset = self.session.offset_lining_up(coach_frame, frame)
        self.session.update_settings(align="offset", offset_s=round(offset, 4))

    def _on_frame_ready(self, index: int, image) -> None:
        self.view.set_frame(index, image)
        self.shown_frames += 1
        self._redraw_overlays()

    def _on_frame_failed(self, index: int, message: str) -> None:
        self.status.setVisible(True)
        self.status.setText(message)

    def _redraw_overlays(self) -> None:
        index = self.view.frame_index
        slot = self.session.slot(self.role)
        if index is None or slot.info is None:
            self.view.set_pose(None)
            self.view.set_ghost(None)
            return
        fps = slot.info.fps
        self.view.set_caption(f"frame {index} · {index / fps:.2f} s")
        self.view.set_pose(slot.pose_at(index))
        comparison = self.session.comparison
        ghost = None
        if self.role == STUDENT and comparison is not None:
            coach_frame = self._requested.get(index)
            if coach_frame is None:
                coach_frame = self.session.coach_frame_for(index)
            ghost = ghost_at(comparison, coach_frame, index)
        self.view.set_ghost(*(ghost if ghost is not None else (None, None)))

    # ---- athlete picking ------------------------------------------------------------------------------------
    def _on_pick_toggled(self, on: bool) -> None:
        slot = self.session.slot(self.role)
        box = slot.box.as_tuple() if slot.box is not None and slot.box.frame == self.view.frame_index else None
        self.view.set_pick_mode(on, box)
        if on:
            self.view.setFocus()

    def _on_box_picked(self, x: float, y: float, w: float, h: float) -> None:
        frame = self.view.frame_index or 0
        self.pick_button.setChecked(False)
        self.athlete_picked.emit(self.role, AthleteBox(frame, x, y, w, h))

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Escape and self.pick_button.isChecked():
            self.pick_button.setChecked(False)
            return
        super().keyPressEvent(event)

    # ---- drag and drop --------------------------------------------------------------------------------------
    def files_dropped(self, paths: list[Path]) -> None:
        self.file_dropped.emit(self.role, paths[0])
