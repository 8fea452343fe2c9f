"""A video frame with the athlete's stickman and, on the student's side, the coach's ghost.

``VideoView`` paints the current frame scaled to fit (aspect kept), then the overlays in screen pixels:

* the stickman of the pose shown in this video: bones between ``skeleton.EDGES``, joints coloured by the athlete's
  own side (``RIGHT_COLOUR`` orange, ``LEFT_COLOUR`` blue, centre white); a joint scored below the confidence
  threshold is drawn as a hollow ring and its bones dashed and faint, so the coach sees it is a guess;
* the ghost: the coach's skeleton normalised onto the student's body (the core's ``NormalisedPoses.to_pixels``),
  wide translucent bones, each joint coloured by its deviation in torso lengths (``deviation_colour``: green below
  0.1, yellow about 0.25, red from 0.5); joints that were not compared are grey.

Pick mode (choosing the athlete): press and drag draws a box, a plain click makes a box around the click; either way
``box_picked(x, y, w, h)`` is emitted in video pixels.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from gymnast_pose.skeleton import EDGES, JOINT_SIDE, K

RIGHT_COLOUR = QColor(255, 120, 40)
LEFT_COLOUR = QColor(50, 160, 255)
CENTRE_COLOUR = QColor(245, 245, 245)
SIDE_COLOURS = {"right": RIGHT_COLOUR, "left": LEFT_COLOUR, "centre": CENTRE_COLOUR}
NOT_COMPARED_COLOUR = QColor(170, 170, 170)
DEVIATION_STOPS = ((0.0, (40, 200, 80)), (0.1, (40, 200, 80)), (0.25, (250, 220, 40)), (0.5, (235, 40, 40)))
BACKGROUND = QColor(28, 28, 30)


def deviation_colour(distance: float) -> QColor:
    """Colour of a joint deviation in torso lengths: green (<= 0.1), yellow (0.25), red (>= 0.5); grey for NaN."""
    if distance is None or not math.isfinite(distance):
        return QColor(NOT_COMPARED_COLOUR)
    for (d0, c0), (d1, c1) in zip(DEVIATION_STOPS, DEVIATION_STOPS[1:]):
        if distance <= d1:
            t = 0.0 if d1 == d0 else (max(distance, d0) - d0) / (d1 - d0)
            return QColor(*(int(round(a + t * (b - a))) for a, b in zip(c0, c1)))
    return QColor(*DEVIATION_STOPS[-1][1])


def default_box_around(x: float, y: float, frame_size: tuple[int, int]) -> tuple[float, float, float, float]:
    """A person-sized box (x, y, w, h) centred on a click at (x, y), kept inside the frame."""
    width, height = frame_size
    h = 0.8 * height
    w = min(0.45 * height, float(width))
    left = min(max(x - w / 2, 0.0), max(width - w, 0.0))
    top = min(max(y - h / 2, 0.0), max(height - h, 0.0))
    return left, top, w, h


class VideoView(QWidget):
    """Paints one video frame and its overlays; see the module docstring."""

    box_picked = Signal(float, float, float, float)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(240, 160)
        self.setMouseTracking(False)
        self._array: np.ndarray | None = None  # keeps the buffer behind _image alive
        self._image: QImage | None = None
        self.frame_index: int | None = None
        self._pose: np.ndarray | None = None  # (K, 3)
        self._ghost: np.ndarray | None = None  # (K, 2)
        self._ghost_deviation: np.ndarray | None = None  # (K,)
        self.show_skeleton = True
        self.show_ghost = True
        self.show_low_confidence = True
        self.confidence_threshold = 0.3
        self.caption = ""
        self.placeholder = "No video"
        self._pick_mode = False
        self._drag_start: QPointF | None = None
        self._drag_now: QPointF | None = None
        self._box: tuple[float, float, float, float] | None = None  # shown in pick mode

    # ---- content ------------------------------------------------------------------------------------------
    def set_frame(self, index: int | None, image: np.ndarray | None) -> None:
        """Show ``image`` (H, W, 3) uint8 RGB as frame ``index``; None clears the view."""
        if image is None:
            self._array = self._image = None
        else:
            image = np.ascontiguousarray(image)
            h, w = image.shape[:2]
            self._array = image
            self._image = QImage(image.data, w, h, image.strides[0], QImage.Format.Format_RGB888)
        self.frame_index = index
        self.update()

    def clear(self) -> None:
        self.set_frame(None, None)
        self.set_pose(None)
        self.set_ghost(None)

    @property
    def frame_size(self) -> tuple[int, int] | None:
        return None if self._image is None else (self._image.width(), self._image.height())

    def set_pose(self, keypoints: np.ndarray | None) -> None:
        """The stickman: (K, 3) x, y in video pixels and score; NaN x, y = missing."""
        self._pose = None if keypoints is None else np.asarray(keypoints, dtype=np.float64)
        self.update()

    def set_ghost(self, xy: np.ndarray | None, deviation: np.ndarray | None = None) -> None:
        """The coach's ghost: (K, 2) video pixels (NaN = not shown) and (K,) deviation in torso lengths."""
        self._ghost = None if xy is None else np.asarray(xy, dtype=np.float64)
        self._ghost_deviation = None if deviation is None else np.asarray(deviation, dtype=np.float64)
        self.update()

    def set_caption(self, text: str) -> None:
        if text != self.caption:
            self.caption = text
            self.update()

    def set_placeholder(self, text: str) -> None:
        self.placeholder = text
        self.update()

    def set_overlay_options(self, *, skeleton: bool | None = None, ghost: bool | None = None,
                            low_confidence: bool | None = None, threshold: float | None = None) -> None:
        if skeleton is not None:
            self.show_skeleton = skeleton
        if ghost is not None:
            self.show_ghost = ghost
        if low_confidence is not None:
            self.show_low_confidence = low_confidence
        if threshold is not None:
            self.confidence_threshold = threshold
        self.update()

    # ---- athlete picking ----------------------------------------------------------------------------------
    def set_pick_mode(self, on: bool, box: tuple[float, float, float, float] | None = None) -> None:
        self._pick_mode = on
        self._box = box
        self._drag_start = self._drag_now = None
        self.setCursor(Qt.CursorShape.CrossCursor if on else Qt.CursorShape.ArrowCursor)
        self.update()

    @property
    def pick_mode(self) -> bool:
        return self._pick_mode

    def _transform(self) -> tuple[float, float, float]:
        """(scale, x offset, y offset) from video pixels to widget pixels."""
        if self._image is None:
            return 1.0, 0.0, 0.0
        w, h = self._image.width(), self._image.height()
        scale = min(self.width() / w, self.height() / h)
        return scale, (self.width() - w * scale) / 2, (self.height() - h * scale) / 2

    def to_video(self, point: QPointF) -> tuple[float, float]:
        scale, ox, oy = self._transform()
        return (point.x() - ox) / scale, (point.y() - oy) / scale

    def to_widget(self, x: float, y: float) -> QPointF:
        scale, ox, oy = self._transform()
        return QPointF(x * scale + ox, y * scale + oy)

    def mousePressEvent(self, event) -> None:
        if self._pick_mode and self._image is not None and event.button() == Qt.MouseButton.LeftButton:
            self._drag_start = self._drag_now = event.position()
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._drag_start is not None:
            self._drag_now = event.position()
            self.update()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._drag_start is None:
            super().mouseReleaseEvent(event)
            return
        start, end = self._drag_start, event.position()
        self._drag_start = self._drag_now = None
        (x0, y0), (x1, y1) = self.to_video(start), self.to_video(end)
        w_img, h_img = self.frame_size
        if abs(end.x() - start.x()) < 6 and abs(end.y() - start.y()) < 6:
            box = default_box_around(x1, y1, (w_img, h_img))
        else:
            left, right = sorted((min(max(x0, 0), w_img), min(max(x1, 0), w_img)))
            top, bottom = sorted((min(max(y0, 0), h_img), min(max(y1, 0), h_img)))
            box = (left, top, max(right - left, 1.0), max(bottom - top, 1.0))
        self._box = box
        self.update()
        self.box_picked.emit(*box)

    # ---- painting -----------------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), BACKGROUND)
        if self._image is None:
            painter.setPen(QColor(200, 200, 200))
            flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
            painter.drawText(self.rect().adjusted(20, 20, -20, -20), flags, self.placeholder)
            painter.end()
            return
        scale, ox, oy = self._transform()
        target = QRectF(ox, oy, self._image.width() * scale, self._image.height() * scale)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, scale < 1.0)
        painter.drawImage(target, self._image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        if self.show_ghost and self._ghost is not None:
            self._paint_ghost(painter, scale, ox, oy)
        if self.show_skeleton and self._pose is not None:
            self._paint_stickman(painter, scale, ox, oy)
        self._paint_box(painter)
        self._paint_caption(painter)
        painter.end()

    def _screen(self, xy: np.ndarray, scale: float, ox: float, oy: float) -> np.ndarray:
        return xy * scale + np.array([ox, oy])

    def _paint_stickman(self, painter: QPainter, scale: float, ox: float, oy: float) -> None:
        pose = self._pose
        points = self._screen(pose[:, :2], scale, ox, oy)
        found = np.isfinite(points).all(axis=1)
        confident = found & (pose[:, 2] >= self.confidence_threshold)
        visible = found if self.show_low_confidence else confident
        width = max(2.0, min(4.0, 2.0 + scale * 2))
        for a, b in EDGES:
            if not (visible[a] and visible[b]):
                continue
            sure = confident[a] and confident[b]
            side = JOINT_SIDE[a] if JOINT_SIDE[a] == JOINT_SIDE[b] else "centre"
            colour = QColor(SIDE_COLOURS[side])
            pen = QPen(colour if sure else _faded(colour, 130), width if sure else width * 0.75)
            pen.setCapStyle(Qt.PenCapStyle.RoundCap)
            if not sure:
                pen.setStyle(Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.drawLine(QPointF(*points[a]), QPointF(*points[b]))
        radius = width + 1.5
        for k in range(K):
            if not visible[k]:
                continue
            colour = SIDE_COLOURS[JOINT_SIDE[k]]
            centre = QPointF(*points[k])
            if confident[k]:
                painter.setPen(QPen(QColor(20, 20, 20), 1.2))
                painter.setBrush(colour)
                painter.drawEllipse(centre, radius, radius)
            else:  # a guess: hollow ring
                painter.setPen(QPen(_faded(colour, 170), 1.8))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawEllipse(centre, radius, radius)
        painter.setBrush(Qt.BrushStyle.NoBrush)

    def _paint_ghost(self, painter: QPainter, scale: float, ox: float, oy: float) -> None:
        points = self._screen(self._ghost, scale, ox, oy)
        found = np.isfinite(points).all(axis=1)
        deviation = self._ghost_deviation if self._ghost_deviation is not None else np.full(K, np.nan)
        colours = [deviation_colour(float(d)) for d in deviation]
        width = max(5.0, min(10.0, 4.0 + 6.0 * scale))
        for a, b in EDGES:
            if not (found[a] and found[b]):
                continue
            da, db = deviation[a], deviation[b]
            both = [d for d in (da, db) if math.isfinite(d)]
            colour = deviation_colour(max(both)) if both else QColor(NOT_COMPARED_COLOUR)
            pen = QPen(_faded(colour, 120), width)
            pen.setCapStyle(Qt.PenCapStyle.RoundCap)
            painter.setPen(pen)
            painter.drawLine(QPointF(*points[a]), QPointF(*points[b]))
        radius = width * 0.55
        painter.setPen(QPen(QColor(255, 255, 255, 170), 1.0))
        for k in range(K):
            if found[k]:
                painter.setBrush(_faded(colours[k], 200))
                painter.drawEllipse(QPointF(*points[k]), radius, radius)
        painter.setBrush(Qt.BrushStyle.NoBrush)

    def _paint_box(self, painter: QPainter) -> None:
        if not self._pick_mode:
            return
        if self._drag_start is not None and self._drag_now is not None:
            rect = QRectF(self._drag_start, self._drag_now).normalized()
        elif self._box is not None:
            x, y, w, h = self._box
            rect = QRectF(self.to_widget(x, y), self.to_widget(x + w, y + h))
        else:
            rect = None
        if rect is not None:
            pen = QPen(QColor(255, 235, 60), 2.0, Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.drawRect(rect)
        painter.setPen(QColor(255, 235, 60))
        painter.drawText(QRectF(8, self.height() - 28, self.width() - 16, 22), Qt.AlignmentFlag.AlignLeft,
                         "Click on the athlete (or drag a box around them)   Esc: cancel")

    def _paint_caption(self, painter: QPainter) -> None:
        if not self.caption:
            return
        metrics = painter.fontMetrics()
        rect = QRectF(6, 6, metrics.horizontalAdvance(self.caption) + 12, metrics.height() + 6)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 150))
        painter.drawRoundedRect(rect, 4, 4)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, self.caption)


def _faded(colour: QColor, alpha: int) -> QColor:
    faded = QColor(colour)
    faded.setAlpha(alpha)
    return faded
