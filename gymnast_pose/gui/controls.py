"""Transport (play, step, speed, scrubber) and alignment (automatic / manual offset, mirror, trim ranges) controls.

Both widgets read the ``Session`` and change it only through its methods (and the ``PlaybackController``); they
follow ``position_changed`` / ``settings_changed`` / ``comparison_changed`` with signals blocked, so a slider and the
position never ping-pong.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDoubleSpinBox,
        QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gymnast_pose.gui.playback import SPEEDS, PlaybackController, nearest_speed_index
from gymnast_pose.gui.qt_compat import signals_blocked
from gymnast_pose.gui.session import COACH, ROLES, STUDENT, Session


def format_time(seconds: float) -> str:
    minutes, rest = divmod(max(seconds, 0.0), 60.0)
    return f"{int(minutes)}:{rest:05.2f}"


class TransportBar(QWidget):
    """Play/pause, frame steps, speed and a scrubber over the clock video."""

    def __init__(self, session: Session, playback: PlaybackController, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.playback = playback

        def tool(text: str, tip: str, slot) -> QToolButton:
            button = QToolButton()
            button.setText(text)
            button.setToolTip(tip)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.clicked.connect(slot)
            return button

        self.back_button = tool("◀|", "One frame back (Left arrow)", lambda: playback.step(-1))
        self.play_button = tool("▶", "Play / pause (Space)", playback.toggle)
        self.play_button.setMinimumWidth(40)
        self.forward_button = tool("|▶", "One frame forward (Right arrow)", lambda: playback.step(1))
        self.speed_box = QComboBox()
        self.speed_box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for speed in SPEEDS:
            self.speed_box.addItem(f"{speed:g}×", speed)
        self.speed_box.setCurrentIndex(nearest_speed_index(playback.speed))
        self.speed_box.setToolTip("Playback speed ([ slower, ] faster)")
        self.speed_box.currentIndexChanged.connect(lambda i: playback.set_speed(self.speed_box.itemData(i)))
        self.scrubber = QSlider(Qt.Orientation.Horizontal)
        self.scrubber.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.scrubber.setToolTip("Drag to move through the coach's video; the student's video follows the alignment")
        self.scrubber.valueChanged.connect(self._on_scrubbed)
        self.time_label = QLabel("–")
        self.time_label.setMinimumWidth(230)
        self.time_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        for widget in (self.back_button, self.play_button, self.forward_button, self.speed_box):
            layout.addWidget(widget)
        layout.addWidget(self.scrubber, 1)
        layout.addWidget(self.time_label)

        playback.playing_changed.connect(lambda playing: self.play_button.setText("❚❚" if playing else "▶"))
        playback.speed_changed.connect(self._on_speed_changed)
        session.events.position_changed.connect(self._on_position_changed)
        session.events.slot_changed.connect(lambda role: self._refresh())
        self._refresh()

    def _refresh(self) -> None:
        n = self.session.num_positions
        with signals_blocked(self.scrubber):
            self.scrubber.setRange(0, max(n - 1, 0))
            self.scrubber.setValue(self.session.position)
        enabled = n > 0
        for widget in (self.back_button, self.play_button, self.forward_button, self.scrubber):
            widget.setEnabled(enabled)
        self._update_label()

    def _on_scrubbed(self, value: int) -> None:
        self.session.set_position(value)

    def _on_position_changed(self, position: int) -> None:
        if self.scrubber.value() != position:
            with signals_blocked(self.scrubber):
                self.scrubber.setValue(position)
        self._update_label()

    def _on_speed_changed(self, speed: float) -> None:
        with signals_blocked(self.speed_box):
            self.speed_box.setCurrentIndex(nearest_speed_index(speed))

    def _update_label(self) -> None:
        frames = self.session.frames()
        parts = []
        for role in ROLES:  # "coach 0:01.20 / 0:10.73   student 0:02.40": the total is the clock video's
            frame, info = frames[role], self.session.slot(role).info
            if frame is not None and info is not None:
                total = f" / {format_time(info.duration_s)}" if role == self.session.clock_role else ""
                parts.append(f"{role} {format_time(frame / info.fps)}{total}")
        self.time_label.setText("   ".join(parts) if parts else "–")


class AlignmentPanel(QGroupBox):
    """How the student's video is lined up with the coach's, and which part of each video is the skill."""

    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__("Alignment", parent)
        self.session = session
        self.score_label = QLabel("")
        self.score_label.setTextFormat(Qt.TextFormat.RichText)
        self.score_label.setWordWrap(True)
        self.auto_radio = QRadioButton("Automatic (time warping)")
        self.auto_radio.setToolTip("Match every moment of the coach's skill with the student's, even if the "
                                   "student is faster or slower (dynamic time warping)")
        self.offset_radio = QRadioButton("Fixed offset")
        self.offset_radio.setToolTip("The student's video runs at the same pace, shifted by a fixed time")
        group = QButtonGroup(self)
        group.addButton(self.auto_radio)
        group.addButton(self.offset_radio)
        self.auto_radio.toggled.connect(self._on_mode_toggled)
        self.offset_spin = QDoubleSpinBox()
        self.offset_spin.setRange(-600.0, 600.0)
        self.offset_spin.setDecimals(3)
        self.offset_spin.setSingleStep(0.04)
        self.offset_spin.setSuffix(" s")
        self.offset_spin.setKeyboardTracking(False)
        self.offset_spin.setToolTip("Student time minus coach time at the same moment (from the start of each range)")
        self.offset_spin.valueChanged.connect(lambda value: self.session.update_settings(offset_s=float(value)))
        self.nudge_back = QPushButton("−1 frame")
        self.nudge_back.setToolTip("Show the student one frame earlier relative to the coach")
        self.nudge_back.clicked.connect(lambda: self._nudge(-1))
        self.nudge_forward = QPushButton("+1 frame")
        self.nudge_forward.setToolTip("Show the student one frame later relative to the coach")
        self.nudge_forward.clicked.connect(lambda: self._nudge(1))
        self.use_found_button = QPushButton("Use offset found")
        self.use_found_button.setToolTip(
            "Switch to a fixed offset, starting from the one the automatic alignment found")
        self.use_found_button.clicked.connect(self._use_found_offset)
        self.mirror_box = QPushButton("Mirror student")
        self.mirror_box.setCheckable(True)
        self.mirror_box.setToolTip("The student performs the skill on the other side (or faces the other way): "
                                   "compare their left with the coach's right")
        self.mirror_box.toggled.connect(lambda on: self.session.update_settings(mirror=bool(on)))
        self.opposite_box = QPushButton("Filmed from the other side")
        self.opposite_box.setCheckable(True)
        self.opposite_box.setToolTip("The student's camera stood on the other side of the athlete (e.g. behind "
                                     "them when the coach was filmed from the front): flip the picture, keep "
                                     "the student's own left and right")
        self.opposite_box.toggled.connect(lambda on: self.session.update_settings(opposite_view=bool(on)))
        for button in (self.nudge_back, self.nudge_forward, self.use_found_button, self.mirror_box, self.opposite_box):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)

        offset_row = QHBoxLayout()
        offset_row.addWidget(self.offset_spin, 1)
        offset_row.addWidget(self.nudge_back)
        offset_row.addWidget(self.nudge_forward)
        layout = QVBoxLayout(self)
        layout.addWidget(self.score_label)
        layout.addWidget(self.auto_radio)
        layout.addWidget(self.offset_radio)
        layout.addLayout(offset_row)
        layout.addWidget(self.use_found_button)
        view_row = QHBoxLayout()
        view_row.addWidget(self.mirror_box)
        view_row.addWidget(self.opposite_box)
        layout.addLayout(view_row)
        self.mirror_hint = QLabel("")
        self.mirror_hint.setWordWrap(True)
        self.mirror_hint.setStyleSheet("color: #ffc850;")
        self.mirror_hint.setVisible(False)
        layout.addWidget(self.mirror_hint)
        self.hint = QLabel("Trim each video to the skill with <i>Start here</i> / <i>End here</i> under it; "
                           "scrub the student's video alone with its own slider and <i>Line up</i> to set the offset.")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #a0a0a0;")
        layout.addWidget(self.hint)
        layout.addStretch(1)

        session.events.settings_changed.connect(self.refresh)
        session.events.comparison_changed.connect(self.refresh)
        session.events.slot_changed.connect(lambda role: self.refresh())
        self.refresh()

    def refresh(self) -> None:
        s, session = self.session.settings, self.session
        with signals_blocked(self.auto_radio, self.offset_radio):
            self.auto_radio.setChecked(s.align == "dtw")
            self.offset_radio.setChecked(s.align == "offset")
        with signals_blocked(self.offset_spin):
            self.offset_spin.setValue(s.offset_s)
        with signals_blocked(self.mirror_box, self.opposite_box):
            self.mirror_box.setChecked(s.mirror)
            self.opposite_box.setChecked(s.opposite_view)
        both = session.coach.has_video and session.student.has_video
        manual = s.align == "offset"
        for widget in (self.offset_spin, self.nudge_back, self.nudge_forward):
            widget.setEnabled(both and manual)
        self.use_found_button.setEnabled(session.comparison is not None and not manual)
        for widget in (self.auto_radio, self.offset_radio, self.mirror_box, self.opposite_box):
            widget.setEnabled(both)
        suggestion = session.mirror_suggestion
        self.mirror_hint.setText(suggestion.message() if suggestion is not None else "")
        self.mirror_hint.setVisible(suggestion is not None)
        c = session.comparison
        if c is not None:
            how = ("time warping, student tempo ×" + f"{c.tempo_ratio:.2f}" if s.align == "dtw"
                   else f"offset {c.offset_s:+.3f} s")
            self.score_label.setText(f"<span style='font-size:15pt'><b>{c.score:.0f}</b> / 100</span><br>"
                                     f"{c.num_pairs} frame pairs, {how}")
        elif session.compare_error:
            self.score_label.setText(f"<span style='color:#ff7060'>{session.compare_error}</span>")
        elif both:
            self.score_label.setText("Comparing…" if session.ready_for_comparison else "Waiting for the analysis…")
        else:
            self.score_label.setText("Open the coach's and the student's videos.")

    def _on_mode_toggled(self, auto: bool) -> None:
        self.session.update_settings(align="dtw" if auto else "offset")

    def _nudge(self, frames: int) -> None:
        info = self.session.student.info
        if info is None:
            return
        offset_s = round(self.session.settings.offset_s + frames / info.fps, 4)
        self.session.update_settings(align="offset", offset_s=offset_s)

    def _use_found_offset(self) -> None:
        c = self.session.comparison
        if c is not None:
            self.session.update_settings(align="offset", offset_s=round(float(c.offset_s), 4))


__all__ = ["AlignmentPanel", "TransportBar", "format_time", "COACH", "STUDENT"]
