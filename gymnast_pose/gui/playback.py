"""Playback that keeps wall-clock time: on every timer tick, compute which frame should be on screen *now*.

:class:`PlaybackClock` is the arithmetic (no Qt): anchored at (frame, monotonic time), the frame due at time ``t`` is
``anchor_frame + floor((t - anchor_time) * fps * speed)``. When painting or decoding lags, the next tick simply jumps
to the frame that is due, so playback skips frames rather than drifting behind the real time. Changing the speed,
seeking or looping re-anchors the clock.

:class:`PlaybackController` drives the :class:`~gymnast_pose.gui.session.Session` position from a ``QTimer``
(precise, ticking at twice the frame rate) and a monotonic ``QElapsedTimer``; it plays the clock video's range
(the coach's trimmed skill, or the whole video) and loops over it.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QElapsedTimer, QObject, Qt, QTimer, Signal

from gymnast_pose.gui.session import Session

SPEEDS: tuple[float, ...] = (0.1, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)


class PlaybackClock:
    """Which frame is due at a given time; see the module docstring."""

    def __init__(self, fps: float = 25.0, speed: float = 1.0):
        self.fps = float(fps)
        self.speed = float(speed)
        self.anchor_frame = 0
        self.anchor_time_s = 0.0

    def anchor(self, frame: int, now_s: float) -> None:
        self.anchor_frame, self.anchor_time_s = int(frame), float(now_s)

    def frame_at(self, now_s: float) -> int:
        elapsed = max(0.0, now_s - self.anchor_time_s)
        return self.anchor_frame + int(math.floor(elapsed * self.fps * self.speed + 1e-9))

    def time_to_next_frame_s(self, now_s: float) -> float:
        """Seconds from ``now_s`` until the next frame is due."""
        rate = self.fps * self.speed
        elapsed = max(0.0, now_s - self.anchor_time_s) * rate
        return (math.floor(elapsed + 1e-9) + 1 - elapsed) / rate


def nearest_speed_index(speed: float) -> int:
    return min(range(len(SPEEDS)), key=lambda i: abs(SPEEDS[i] - speed))


class PlaybackController(QObject):
    """Play/pause, frame steps and speed, on the session's clock video."""

    playing_changed = Signal(bool)
    speed_changed = Signal(float)

    def __init__(self, session: Session, parent: QObject | None = None):
        super().__init__(parent)
        self.session = session
        self.clock = PlaybackClock()
        self.loop = True
        self._elapsed = QElapsedTimer()
        self._elapsed.start()
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._on_tick)
        self._moving = False  # True while this controller itself moves the position
        self.ticks = 0
        session.events.position_changed.connect(self._on_position_changed)

    # ---- state ------------------------------------------------------------------------------------------
    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    @property
    def speed(self) -> float:
        return self.clock.speed

    def now_s(self) -> float:
        return self._elapsed.nsecsElapsed() * 1e-9

    # ---- commands ---------------------------------------------------------------------------------------
    def play(self) -> None:
        if self.playing or self.session.num_positions == 0:
            return
        start, stop = self.session.play_range()
        if not start <= self.session.position < stop - 1:
            self._move_to(start)  # at (or past) the end of the range: start over
        self.clock.fps = self.session.clock_fps
        self.clock.anchor(self.session.position, self.now_s())
        self._timer.start(self._interval_ms())
        self.playing_changed.emit(True)

    def pause(self) -> None:
        if self.playing:
            self._timer.stop()
            self.playing_changed.emit(False)

    def toggle(self) -> None:
        self.pause() if self.playing else self.play()

    def step(self, frames: int) -> None:
        """Pause and move ``frames`` frames (negative: back)."""
        self.pause()
        self.session.set_position(self.session.position + frames)

    def set_speed(self, speed: float) -> None:
        speed = min(max(float(speed), SPEEDS[0]), SPEEDS[-1])
        if speed == self.clock.speed:
            return
        self.clock.speed = speed
        if self.playing:
            self.clock.anchor(self.session.position, self.now_s())
            self._timer.setInterval(self._interval_ms())
        self.speed_changed.emit(speed)

    def faster(self) -> None:
        self.set_speed(SPEEDS[min(nearest_speed_index(self.speed) + 1, len(SPEEDS) - 1)])

    def slower(self) -> None:
        self.set_speed(SPEEDS[max(nearest_speed_index(self.speed) - 1, 0)])

    # ---- internals --------------------------------------------------------------------------------------
    def _interval_ms(self) -> int:
        frame_ms = 1000.0 / (self.session.clock_fps * self.clock.speed)
        return max(4, min(50, int(frame_ms / 2)))

    def _move_to(self, frame: int) -> None:
        self._moving = True
        try:
            self.session.set_position(frame)
        finally:
            self._moving = False

    def _on_tick(self) -> None:
        self.ticks += 1
        start, stop = self.session.play_range()
        now = self.now_s()
        due = self.clock.frame_at(now)
        if due >= stop:
            if not self.loop:
                self._move_to(stop - 1)
                self.pause()
                return
            due = start + (due - start) % (stop - start)
            self.clock.anchor(due, now)
        elif due < start:
            due = start
            self.clock.anchor(due, now)
        if due != self.session.position:
            self._move_to(due)

    def _on_position_changed(self, position: int) -> None:
        if self.playing and not self._moving:  # the user seeked while playing: continue from there
            self.clock.anchor(position, self.now_s())
