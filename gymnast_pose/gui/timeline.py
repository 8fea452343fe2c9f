"""Timelines of a comparison (pyqtgraph): pose distance, a joints x time deviation heat map, and angle curves.

All three plots share the x axis: time on the clock video (the coach's) in seconds, X-linked, with one playhead line
each that follows the session's position. A click or a drag anywhere on a plot, or dragging a playhead, emits
``seek_requested(time_s)``; the plots never move the position themselves.

The numbers are the core's ``Comparison`` arrays as they are (``pose_distance``, ``joint_distance``,
``coach_angles_deg`` / ``student_angles_deg``, shown within one turn by ``angles_for_display``), indexed by aligned
pair; for the heat map, every coach frame shows its last pair (dynamic time warping may pair one coach frame with
several student frames). The heat map uses the same colours as the ghost (``video_view.DEVIATION_STOPS``).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QComboBox, QGraphicsItem, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from gymnast_pose.angles import ANGLE_NAMES
from gymnast_pose.gui.video_view import DEVIATION_STOPS
from gymnast_pose.skeleton import JOINT_INDEX

# Heat map rows from head to feet, left above right.
HEATMAP_JOINTS: tuple[str, ...] = (
    "head_top", "neck", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist",
    "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle",
)  # fmt: skip
HEATMAP_MAX = DEVIATION_STOPS[-1][0]  # torso lengths shown as full red
PLAYHEAD_PEN = pg.mkPen((255, 225, 60), width=2)
COACH_PEN = pg.mkPen((210, 210, 210), width=2)
STUDENT_PEN = pg.mkPen((255, 150, 50), width=2)
SIDE_WORDS = {"r": "right", "l": "left"}


def pretty_name(name: str) -> str:
    """A joint or angle name for a coach: ``r_knee`` -> "right knee", ``head_top`` -> "head top"."""
    side, _, rest = name.partition("_")
    return f"{SIDE_WORDS[side]} {rest.replace('_', ' ')}" if side in SIDE_WORDS and rest else name.replace("_", " ")


ANGLE_LABELS = {name: pretty_name(name) for name in ANGLE_NAMES}
AXIS_WIDTH = 100  # left axes of the X-linked plots share one width, so their time axes line up


def angles_for_display(coach: np.ndarray, student: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                         np.ndarray]:
    """Two (P,) angle series in degrees, both put in [-180, 180) or both in [0, 360), whichever the curves cross
    the wrap point of less often (a handstand's trunk near 180 degrees stays in one piece in [0, 360)); and for
    each, (P,) bools "join this point to the next" that are False across a wrap, so no line spans the plot.

    Unlike unwrapping, the values stay in one fixed turn: noisy poses cannot make a curve drift to -1000 degrees.
    """
    def in_range(values: np.ndarray, low: float) -> np.ndarray:
        return (np.asarray(values, dtype=np.float64) - low) % 360.0 + low

    def wraps(values: np.ndarray) -> int:
        return int(np.count_nonzero(np.abs(np.diff(values)) > 180.0))

    def joins(values: np.ndarray) -> np.ndarray:
        finite = np.isfinite(values)
        step_ok = np.abs(np.diff(values)) <= 180.0
        return np.append(finite[:-1] & finite[1:] & step_ok, False)

    low = min((-180.0, 0.0), key=lambda lo: wraps(in_range(coach, lo)) + wraps(in_range(student, lo)))
    coach, student = in_range(coach, low), in_range(student, low)
    return coach, student, joins(coach), joins(student)


def deviation_colormap() -> pg.ColorMap:
    positions = [d / HEATMAP_MAX for d, _ in DEVIATION_STOPS]
    return pg.ColorMap(positions, [c for _, c in DEVIATION_STOPS])


class _SeekViewBox(pg.ViewBox):
    """A ViewBox where the left mouse button seeks (click or drag) instead of panning."""

    def __init__(self, seek, **kwargs):
        super().__init__(**kwargs)
        self._seek = seek
        self.setMouseEnabled(x=False, y=False)
        self.setMenuEnabled(False)

    def mouseClickEvent(self, ev) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self._seek(self.mapSceneToView(ev.scenePos()).x())
        else:
            super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev, axis=None) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self._seek(self.mapSceneToView(ev.scenePos()).x())
        else:
            ev.ignore()

    def wheelEvent(self, ev, axis=None) -> None:
        ev.ignore()


class TimelineWidget(QWidget):
    """Three X-linked plots with one playhead; see the module docstring."""

    seek_requested = Signal(float)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._comparison = None
        self._duration_s = 1.0
        self._seeking = False
        self.angle_box = QComboBox()
        for name in ANGLE_NAMES:
            self.angle_box.addItem(ANGLE_LABELS[name], name)
        self.angle_box.setCurrentIndex(ANGLE_NAMES.index("r_knee"))
        self.angle_box.setToolTip("Joint angle plotted in the bottom timeline, coach vs student")
        self.angle_box.currentIndexChanged.connect(self._update_angles)
        self.summary = QLabel("")
        self.summary.setTextFormat(Qt.TextFormat.RichText)

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground((24, 24, 26))
        self.graphics.ci.setSpacing(2)
        self.titles: dict[pg.PlotItem, pg.TextItem] = {}  # each plot's title, drawn inside it
        self.distance_plot = self._make_plot(0, "Pose distance, student vs coach (torso lengths; lower is closer)")
        self.heatmap_plot = self._make_plot(1, "How far each joint is off (torso lengths; dark: not compared)")
        self.angle_plot = self._make_plot(2, "")
        self.angle_plot.setLabel("bottom", "time in the coach's video (s)")
        for plot in (self.heatmap_plot, self.angle_plot):
            plot.setXLink(self.distance_plot)
        self.graphics.ci.layout.setRowStretchFactor(0, 2)
        self.graphics.ci.layout.setRowStretchFactor(1, 5)  # 14 joint rows need the height to stay readable
        self.graphics.ci.layout.setRowStretchFactor(2, 2)

        self.distance_curve = self.distance_plot.plot([], [], pen=pg.mkPen((120, 200, 255), width=2), connect="finite")
        self.mean_line = pg.InfiniteLine(angle=0, pen=pg.mkPen((120, 200, 255), width=1, style=Qt.PenStyle.DashLine))
        self.mean_line.setVisible(False)
        self.distance_plot.addItem(self.mean_line)
        self.span = pg.LinearRegionItem(movable=False, brush=pg.mkBrush(255, 255, 255, 18),
                                        pen=pg.mkPen(None))
        self.span.setVisible(False)
        self.distance_plot.addItem(self.span)
        self.hint = pg.TextItem("Open and analyse both videos to see where the student deviates",
                                color=(190, 190, 190), anchor=(0.5, 0.5))
        self.distance_plot.addItem(self.hint)

        self.heatmap = pg.ImageItem(axisOrder="row-major")
        self.heatmap.setColorMap(deviation_colormap())
        self.heatmap.setLevels((0.0, HEATMAP_MAX))
        self.heatmap_plot.addItem(self.heatmap)
        self.heatmap_plot.invertY(True)
        axis = self.heatmap_plot.getAxis("left")
        small = QFont()
        small.setPointSizeF(8.0)
        axis.setTickFont(small)
        axis.setTicks([[(i, pretty_name(name)) for i, name in enumerate(HEATMAP_JOINTS)]])
        self.heatmap_plot.setYRange(-0.5, len(HEATMAP_JOINTS) - 0.5, padding=0)
        self.colorbar = pg.ColorBarItem(values=(0, HEATMAP_MAX), colorMap=deviation_colormap(), interactive=False,
                                        width=12, label="torso lengths")
        self.colorbar.setImageItem(self.heatmap)
        self.graphics.addItem(self.colorbar, row=1, col=1)

        legend = self.angle_plot.addLegend(offset=(-10, 5), labelTextColor=(220, 220, 220))  # before the curves,
        legend.setBrush(pg.mkBrush(0, 0, 0, 120))  # which it lists as they are added
        self.coach_curve = self.angle_plot.plot([], [], pen=COACH_PEN, name="coach", connect="finite")
        self.student_curve = self.angle_plot.plot([], [], pen=STUDENT_PEN, name="student", connect="finite")

        self.playheads = []
        for plot in (self.distance_plot, self.heatmap_plot, self.angle_plot):
            line = pg.InfiniteLine(pos=0, angle=90, movable=True, pen=PLAYHEAD_PEN,
                                   hoverPen=pg.mkPen((255, 255, 160), width=3))
            line.setZValue(100)
            line.sigDragged.connect(self._on_playhead_dragged)
            plot.addItem(line)
            self.playheads.append(line)

        top = QHBoxLayout()
        top.setContentsMargins(4, 0, 4, 0)
        top.addWidget(self.summary, 1)
        top.addWidget(QLabel("Angle:"))
        top.addWidget(self.angle_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.graphics, 1)
        self.set_duration(1.0)
        self._update_angles()

    def _make_plot(self, row: int, title: str) -> pg.PlotItem:
        plot = self.graphics.addPlot(row=row, col=0, viewBox=_SeekViewBox(self._seek))
        label = pg.TextItem(title, color=(225, 225, 225), fill=pg.mkBrush(24, 24, 26, 190), anchor=(0, 0))
        label.setParentItem(plot.getViewBox())  # in the plot's own pixels: stays in its top-left corner
        label.setPos(2, 1)
        label.setZValue(200)
        self.titles[plot] = label
        plot.showGrid(x=True, y=True, alpha=0.15)
        if row < 2:  # the plots share the time axis: only the bottom one prints its numbers
            plot.getAxis("bottom").setStyle(showValues=False)
            plot.getAxis("bottom").setHeight(4)
        plot.hideButtons()
        plot.getAxis("left").setWidth(AXIS_WIDTH)
        plot.getAxis("left").enableAutoSIPrefix(False)  # no "m torso lengths" or "k deg"
        for name in ("left", "bottom"):  # the axes draw the grid over the plot: cache them, or every playhead
            plot.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)  # move redraws them
        return plot

    def _set_title(self, plot: pg.PlotItem, text: str) -> None:
        self.titles[plot].setText(text)

    # ---- data -----------------------------------------------------------------------------------------------
    def set_duration(self, duration_s: float) -> None:
        """The x range: the whole clock video, so the playhead stays visible outside the compared span."""
        self._duration_s = max(float(duration_s), 1e-3)
        self.distance_plot.setXRange(0.0, self._duration_s, padding=0.01)
        self.hint.setPos(self._duration_s / 2, 0.5)

    def set_comparison(self, comparison) -> None:
        self._comparison = comparison
        c = comparison
        self.hint.setVisible(c is None)
        self.mean_line.setVisible(c is not None)
        self.span.setVisible(c is not None)
        if c is None:
            self.distance_curve.setData([], [])
            self.heatmap.clear()
            self.coach_curve.setData([], [])
            self.student_curve.setData([], [])
            self.summary.setText("")
            self.distance_plot.setYRange(0, 1)
            self.hint.setPos(self._duration_s / 2, 0.5)
            return
        times = c.coach_times_s
        self.distance_curve.setData(times, c.pose_distance)
        self.mean_line.setValue(c.mean_distance)
        self.span.setRegion((float(times[0]), float(times[-1])))
        top = float(np.nanmax(c.pose_distance)) if np.isfinite(c.pose_distance).any() else 1.0
        self.distance_plot.setYRange(0.0, max(top * 1.1, 0.1), padding=0)
        self._update_heatmap()
        self._update_angles()
        worst = ", ".join(pretty_name(s.name) for s in c.worst_joints(3) if s.compared_pairs)
        self.summary.setText(f"<b>Score {c.score:.0f} / 100</b> &nbsp; mean distance {c.mean_distance:.2f} torso "
                             f"lengths &nbsp; largest deviations: {worst or 'none'}")

    def _update_heatmap(self) -> None:
        c = self._comparison
        first, last = int(c.coach_frames[0]), int(c.coach_frames[-1])
        frames = np.arange(first, last + 1)
        pair = np.searchsorted(c.coach_frames, frames, side="right") - 1
        has_pair = c.coach_frames[pair] == frames
        rows = [JOINT_INDEX[name] for name in HEATMAP_JOINTS]
        values = c.joint_distance[pair][:, rows].T.astype(np.float32)  # (joints, frames)
        values[:, ~has_pair] = np.nan
        self.heatmap.setImage(values, autoLevels=False, levels=(0.0, HEATMAP_MAX))
        fps = c.coach_fps
        self.heatmap.setRect(QRectF((first - 0.5) / fps, -0.5, len(frames) / fps, len(HEATMAP_JOINTS)))

    def _update_angles(self) -> None:
        name = self.angle_box.currentData()
        self._set_title(self.angle_plot, f"{ANGLE_LABELS[name].capitalize()} angle (degrees), coach and student")
        c = self._comparison
        if c is None:
            return
        a = ANGLE_NAMES.index(name)
        coach, student, coach_joins, student_joins = angles_for_display(c.coach_angles_deg[:, a],
                                                                         c.student_angles_deg[:, a])
        self.coach_curve.setData(c.coach_times_s, coach, connect=coach_joins)
        self.student_curve.setData(c.coach_times_s, student, connect=student_joins)
        values = np.concatenate([coach[np.isfinite(coach)], student[np.isfinite(student)]])
        if len(values):
            lo, hi = float(values.min()), float(values.max())
            self.angle_plot.setYRange(lo - 5, hi + 5, padding=0)

    @property
    def angle_name(self) -> str:
        return self.angle_box.currentData()

    def set_angle(self, name: str) -> None:
        self.angle_box.setCurrentIndex(ANGLE_NAMES.index(name))

    # ---- playhead and seeking -------------------------------------------------------------------------------
    def set_playhead(self, time_s: float) -> None:
        for line in self.playheads:
            if line.value() != time_s:
                line.blockSignals(True)
                line.setValue(time_s)
                line.blockSignals(False)

    @property
    def playhead_s(self) -> float:
        return float(self.playheads[0].value())

    def _seek(self, time_s: float) -> None:
        self.seek_requested.emit(min(max(float(time_s), 0.0), self._duration_s))

    def _on_playhead_dragged(self, line) -> None:
        self._seek(line.value())

    def export_png(self, path) -> bool:
        """Save the timelines (with the summary line) as a PNG image; False if it could not be written."""
        return self.grab().save(str(path), "PNG")
