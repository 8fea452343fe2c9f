"""The GUI's one source of truth: both videos, their poses, the alignment, the current position.

Plain Python, no Qt (the napari habit): Qt widgets subscribe to the events of a :class:`Session` and change it only
through its methods; they never set each other directly. Everything numeric (poses, the comparison, the mapping
from a coach frame to a student frame) comes from the core (``gymnast_pose.sequence``, ``gymnast_pose.compare``).

Clock: one current position, ``Session.position``, a frame index on the *clock video*: the coach's video when one is
open, else the student's. The other video's frame follows through the alignment (``Comparison.student_frame_for``);
before a comparison exists it follows by time, with the manual offset measured from the starts of the ranges (the
same convention as ``CompareOptions.offset_s``).

Events (``session.events.<name>.connect(callback)``):

========================  ==================  ==============================================================
event                     arguments           when
========================  ==================  ==============================================================
``slot_changed``          role                a video, its status, progress, poses or athlete box changed
``settings_changed``      (none)              the alignment settings changed (a new comparison is needed)
``comparison_changed``    (none)              a new comparison (or None) was set
``position_changed``      position            the current position (a frame of the clock video) changed
========================  ==================  ==============================================================
"""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # session_file imports this module's types
    from gymnast_pose.gui.session_file import SessionFile

log = logging.getLogger(__name__)

COACH, STUDENT = "coach", "student"
ROLES: tuple[str, str] = (COACH, STUDENT)
ROLE_TITLES = {COACH: "Coach (reference)", STUDENT: "Student"}

FrameRange = tuple[int | None, int | None]


class Event:
    """A list of callbacks called in order by ``emit``; one failing callback is logged and does not stop the rest."""

    def __init__(self, name: str = ""):
        self.name = name
        self._callbacks: list[Callable[..., Any]] = []

    def connect(self, callback: Callable[..., Any]) -> Callable[..., Any]:
        if callback not in self._callbacks:
            self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable[..., Any] | None = None) -> None:
        """Remove ``callback`` (all callbacks if None); unknown callbacks are ignored."""
        if callback is None:
            self._callbacks.clear()
        elif callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, *args: Any) -> None:
        for callback in list(self._callbacks):
            try:
                callback(*args)
            except Exception:  # a broken view must not break the model or the other views
                log.exception("Error in a %s event handler %r", self.name, callback)


class SessionEvents:
    def __init__(self) -> None:
        self.slot_changed = Event("slot_changed")
        self.settings_changed = Event("settings_changed")
        self.comparison_changed = Event("comparison_changed")
        self.position_changed = Event("position_changed")

    def disconnect_all(self) -> None:
        for event in vars(self).values():
            event.disconnect()


class SlotStatus(enum.Enum):
    EMPTY = "empty"  # no video
    OPENING = "opening"  # counting frames
    ANALYSING = "analysing"  # video known, the pose network is running
    READY = "ready"  # video and poses
    FAILED = "failed"  # the last attempt failed (message says why); a previous video may still be shown
    CANCELLED = "cancelled"  # analysis cancelled; the video can be watched, no poses

    @property
    def busy(self) -> bool:
        return self in (SlotStatus.OPENING, SlotStatus.ANALYSING)


@dataclass(frozen=True)
class VideoInfo:
    """What the GUI needs to know about an opened video (from ``gymnast_pose.video.VideoSource``)."""

    path: Path
    fps: float
    num_frames: int
    size: tuple[int, int]  # (width, height), upright
    fingerprint: str = ""
    note: str | None = None  # e.g. the container claims more frames than decode

    @property
    def duration_s(self) -> float:
        return self.num_frames / self.fps


@dataclass(frozen=True)
class AthleteBox:
    """The athlete chosen by a click: a box x, y, w, h in video pixels of frame ``frame``."""

    frame: int
    x: float
    y: float
    w: float
    h: float

    def as_tuple(self) -> tuple[float, float, float, float]:
        return self.x, self.y, self.w, self.h


@dataclass
class VideoSlot:
    """One side (coach or student): its video, poses and the state of its analysis."""

    role: str
    path: Path | None = None
    info: VideoInfo | None = None
    poses: Any = None  # gymnast_pose.sequence.PoseSequence
    status: SlotStatus = SlotStatus.EMPTY
    progress: float | None = None  # 0..1, None = unknown
    message: str = ""
    box: AthleteBox | None = None

    @property
    def has_video(self) -> bool:
        return self.info is not None

    def pose_at(self, frame: int):
        """(K, 3) keypoints (x, y, score) at video frame ``frame``, or None if not analysed there."""
        poses = self.poses
        if poses is None:
            return None
        row = frame - poses.start_frame
        return poses.keypoints[row] if 0 <= row < poses.num_frames else None


@dataclass(frozen=True)
class AlignmentSettings:
    """The user's alignment choices; ``compare_options()`` freezes them for ``compare_sequences``.

    align: "dtw" (automatic) or "offset" (manual). offset_s: student time minus coach time, seconds, measured from
    the range starts. mirror: the student performs on the other side. opposite_view: the student was filmed from
    the other side of the athlete (flip the picture, keep their left and right). coach_range, student_range: video
    frames [start, stop) of the skill, None = whole video (either end may be None).
    """

    align: str = "dtw"
    offset_s: float = 0.0
    mirror: bool = False
    opposite_view: bool = False
    coach_range: FrameRange | None = None
    student_range: FrameRange | None = None
    confidence_threshold: float = 0.3

    def range_of(self, role: str) -> FrameRange | None:
        return self.coach_range if role == COACH else self.student_range

    def with_range(self, role: str, frame_range: FrameRange | None) -> AlignmentSettings:
        if frame_range is not None and frame_range == (None, None):
            frame_range = None
        return replace(self, **{f"{role}_range": frame_range})

    def compare_options(self):
        from gymnast_pose.compare import CompareOptions

        return CompareOptions(align=self.align, offset_s=self.offset_s, mirror=self.mirror,
                              opposite_view=self.opposite_view,
                              coach_range=self.coach_range, student_range=self.student_range,
                              confidence_threshold=self.confidence_threshold)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> AlignmentSettings:
        def frame_range(value):
            if value is None:
                return None
            start, stop = value
            return (None if start is None else int(start), None if stop is None else int(stop))

        defaults = cls()
        align = str(data.get("align", defaults.align))
        if align not in ("dtw", "offset"):
            raise SessionFileError(f"unknown alignment {align!r} (expected 'dtw' or 'offset')")
        return cls(align=align, offset_s=float(data.get("offset_s", 0.0) or 0.0),
                   mirror=bool(data.get("mirror", False)), opposite_view=bool(data.get("opposite_view", False)),
                   coach_range=frame_range(data.get("coach_range")),
                   student_range=frame_range(data.get("student_range")),
                   confidence_threshold=float(data.get("confidence_threshold", defaults.confidence_threshold)))


class SessionFileError(ValueError):
    """A session file that cannot be read or written; the message is for the user."""


class Session:
    """Both videos, their poses, the alignment settings and comparison, and the current position."""

    def __init__(self) -> None:
        self.events = SessionEvents()
        self.slots: dict[str, VideoSlot] = {role: VideoSlot(role) for role in ROLES}
        self.settings = AlignmentSettings()
        self.comparison = None  # gymnast_pose.compare.Comparison
        self.compare_error: str = ""
        self.mirror_suggestion = None  # gymnast_pose.mirror_check.MirrorSuggestion: mirroring would match better
        self.position = 0

    # ---- slots ----------------------------------------------------------------------------------------------
    def slot(self, role: str) -> VideoSlot:
        return self.slots[role]

    @property
    def coach(self) -> VideoSlot:
        return self.slots[COACH]

    @property
    def student(self) -> VideoSlot:
        return self.slots[STUDENT]

    def update_slot(self, role: str, **changes: Any) -> VideoSlot:
        """Change fields of one slot (``VideoSlot`` attribute names) and emit ``slot_changed(role)``."""
        slot = self.slots[role]
        clock_before = self.clock_role
        for name, value in changes.items():
            if not hasattr(slot, name):
                raise AttributeError(f"VideoSlot has no field {name!r}")
            setattr(slot, name, value)
        if "poses" in changes or "info" in changes:
            self._set_comparison(None, "")
        self.events.slot_changed.emit(role)
        if "info" in changes:
            if self.clock_role != clock_before:
                self.position = 0
            self.set_position(self.position, force=True)
        return slot

    def clear_slot(self, role: str) -> None:
        self.slots[role] = VideoSlot(role)
        self.settings = self.settings.with_range(role, None)
        self._set_comparison(None, "")
        self.events.slot_changed.emit(role)
        self.events.settings_changed.emit()
        self.set_position(self.position, force=True)

    @property
    def busy(self) -> bool:
        return any(slot.status.busy for slot in self.slots.values())

    @property
    def ready_for_comparison(self) -> bool:
        return all(slot.poses is not None for slot in self.slots.values())

    # ---- alignment --------------------------------------------------------------------------------------------
    def set_settings(self, settings: AlignmentSettings) -> None:
        if settings == self.settings:
            return
        self.settings = settings
        self.events.settings_changed.emit()
        self.set_position(self.position, force=True)  # the other video's frame may have moved

    def update_settings(self, **changes: Any) -> None:
        self.set_settings(replace(self.settings, **changes))

    def set_comparison(self, comparison, error: str = "", mirror_suggestion=None) -> None:
        self._set_comparison(comparison, error, mirror_suggestion)
        self.set_position(self.position, force=True)

    def _set_comparison(self, comparison, error: str, mirror_suggestion=None) -> None:
        if comparison is None and self.comparison is None and error == self.compare_error:
            return
        self.comparison, self.compare_error = comparison, error
        self.mirror_suggestion = mirror_suggestion if comparison is not None else None
        self.events.comparison_changed.emit()

    # ---- clock and position -------------------------------------------------------------------------------------
    @property
    def clock_role(self) -> str | None:
        """The video whose frames the position counts: the coach's if open, else the student's, else None."""
        for role in ROLES:
            if self.slots[role].has_video:
                return role
        return None

    @property
    def clock_info(self) -> VideoInfo | None:
        role = self.clock_role
        return None if role is None else self.slots[role].info

    @property
    def num_positions(self) -> int:
        info = self.clock_info
        return 0 if info is None else info.num_frames

    @property
    def clock_fps(self) -> float:
        info = self.clock_info
        return 25.0 if info is None else info.fps

    def set_position(self, position: int, force: bool = False) -> None:
        """Move to frame ``position`` of the clock video (clamped); emits ``position_changed`` if it changed."""
        n = self.num_positions
        position = 0 if n == 0 else min(max(int(position), 0), n - 1)
        if position == self.position and not force:
            return
        self.position = position
        self.events.position_changed.emit(position)

    def play_range(self) -> tuple[int, int]:
        """Frames [start, stop) of the clock video that playback loops over: its range, else the whole video."""
        n = self.num_positions
        role = self.clock_role
        frame_range = self.settings.range_of(role) if role else None
        start, stop = frame_range if frame_range else (None, None)
        start = 0 if start is None else min(max(start, 0), max(n - 1, 0))
        stop = n if stop is None else min(max(stop, start + 1), n)
        return start, stop

    def frames(self, position: int | None = None) -> dict[str, int | None]:
        """Frame of each video shown at ``position`` (default: the current one); None where no video."""
        position = self.position if position is None else position
        clock = self.clock_role
        result: dict[str, int | None] = {role: None for role in ROLES}
        if clock is None:
            return result
        result[clock] = position
        if clock == COACH and self.student.has_video:
            result[STUDENT] = self.student_frame_for(position)
        return result

    def student_frame_for(self, coach_frame: int) -> int:
        """The student's frame shown with ``coach_frame``: through the comparison, else by the offset in time."""
        info = self.student.info
        if self.comparison is not None:
            return int(self.comparison.student_frame_for(int(coach_frame)))
        coach_info = self.coach.info
        coach_start, student_start = self._range_starts()
        offset = self.settings.offset_s if self.settings.align == "offset" else 0.0
        time_s = (coach_frame - coach_start) / coach_info.fps + offset + student_start / info.fps
        frame = math.floor(time_s * info.fps + 0.5)
        return min(max(frame, 0), info.num_frames - 1)

    def coach_frame_for(self, student_frame: int) -> int:
        """Inverse of ``student_frame_for`` (used when the user seeks on the student's side)."""
        if self.comparison is not None:
            return int(self.comparison.coach_frame_for(int(student_frame)))
        coach_info, info = self.coach.info, self.student.info
        coach_start, student_start = self._range_starts()
        offset = self.settings.offset_s if self.settings.align == "offset" else 0.0
        time_s = (student_frame - student_start) / info.fps - offset + coach_start / coach_info.fps
        frame = math.floor(time_s * coach_info.fps + 0.5)
        return min(max(frame, 0), coach_info.num_frames - 1)

    def _range_starts(self) -> tuple[int, int]:
        return ((self.settings.coach_range or (None, None))[0] or 0,
                (self.settings.student_range or (None, None))[0] or 0)

    def offset_lining_up(self, coach_frame: int, student_frame: int) -> float:
        """The fixed offset (``AlignmentSettings.offset_s``) that shows ``student_frame`` with ``coach_frame``."""
        coach_start, student_start = self._range_starts()
        return ((student_frame - student_start) / self.student.info.fps
                - (coach_frame - coach_start) / self.coach.info.fps)

    def position_of_time(self, clock_time_s: float) -> int:
        return int(math.floor(clock_time_s * self.clock_fps + 0.5))

    # ---- files --------------------------------------------------------------------------------------------------
    def to_file(self) -> SessionFile:
        from gymnast_pose.gui.session_file import SessionFile

        return SessionFile(self.coach.path, self.student.path, self.coach.box, self.student.box, self.settings,
                           self.position)
