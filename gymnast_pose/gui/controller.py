"""Runs the core's slow work for the session on worker threads and writes the results into the ``Session``.

* ``open_video(role, path)``: one task opens the video (``VideoSource``: frame count by decoding, fps, size), reports
  it at once (the frames can be watched while the network runs), then runs ``analysis.iter_analyze_video`` and
  reports its progress; cached poses come back at once. ``reanalyse(role, box)`` does the same with the athlete
  chosen by a box; ``cancel(role)`` stops it. The network runs for one video at a time (``ANALYSIS_TURN``; the
  other reports ``WaitingForTurn``), and progress reaches the session at most every ``PROGRESS_INTERVAL_S``: both
  keep the GUI thread responsive (measured by ``benchmarks/bench_gui_responsiveness.py``). ``model_job`` loads the
  model ahead (the app does it at start; ``MODEL_LOCK`` keeps an analysis from loading it a second time).
* Whenever both poses exist and the alignment settings change, ``compare_sequences`` runs on a worker too; a newer
  request supersedes an older one (the older result is dropped).
* Errors are turned into one sentence for the coach and emitted as ``error_occurred(title, message)``; the window
  shows them. The controller owns no numbers: everything comes from the core.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, fields
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from gymnast_pose.gui.session import (
    COACH,
    ROLE_TITLES,
    ROLES,
    STUDENT,
    AthleteBox,
    Session,
    SlotStatus,
    VideoInfo,
)
from gymnast_pose.gui.session_file import SessionFile
from gymnast_pose.gui.workers import CancelToken, Task, TaskRunner

log = logging.getLogger(__name__)
COMPARE_DELAY_MS = 60  # settings changes closer together than this start one comparison
PROGRESS_INTERVAL_S = 0.1  # analysis progress reaches the session (and repaints the bars) at most 10 times a second


@dataclass(frozen=True)
class VideoOpened:
    """First item reported by an analysis task: the video is open and its frames can be shown."""

    info: VideoInfo


def open_video_info(path: Path) -> VideoInfo:
    """Open ``path`` with the core's ``VideoSource`` and describe it (counts frames by decoding: slow-ish)."""
    from gymnast_pose.video import VideoSource

    with VideoSource(path) as source:
        return VideoInfo(path=Path(path), fps=float(source.fps), num_frames=int(source.num_frames),
                         size=tuple(source.size), fingerprint=source.fingerprint, note=source.frame_count_note)


def analysis_options(box: AthleteBox | None):
    """The core's ``AnalysisOptions`` with the athlete box (if any)."""
    from gymnast_pose.analysis import AnalysisOptions

    if box is None:
        return AnalysisOptions()
    names = {f.name for f in fields(AnalysisOptions)}
    extra = {"box_frame": int(box.frame)} if "box_frame" in names else {}
    return AnalysisOptions(box=box.as_tuple(), **extra)


# One analysis at a time: on a CPU they share the cores anyway (so the first result comes twice as soon), and two
# Python-heavy worker threads would make the GUI thread wait for the GIL twice as often (a less responsive window).
ANALYSIS_TURN = threading.Semaphore(1)
MODEL_LOCK = threading.Lock()
TURN_POLL_S = 0.05


@dataclass(frozen=True)
class WaitingForTurn:
    """Reported by an analysis task whose video is open but which waits for another analysis to finish."""


def analysis_job(path: Path, box: AthleteBox | None):
    """A worker job: ``VideoOpened``, maybe ``WaitingForTurn``, then the core's ``AnalysisProgress`` items; returns
    the ``PoseSequence``."""

    def job(token: CancelToken):
        info = open_video_info(path)
        yield VideoOpened(info)
        from gymnast_pose.analysis import iter_analyze_video

        waiting = False
        while not ANALYSIS_TURN.acquire(timeout=TURN_POLL_S):
            token.raise_if_cancelled()
            if not waiting:
                waiting = True
                yield WaitingForTurn()
        try:  # closing the generator (Cancel) raises GeneratorExit in here: the turn is always given back
            token.raise_if_cancelled()
            options = analysis_options(box)
            load_model(options)  # waits if the start-up check is loading it right now
            poses = yield from iter_analyze_video(path, options)
        finally:
            ANALYSIS_TURN.release()
        return poses

    return job


def load_model(options):
    """Load (or find already loaded) the estimator for ``options`` and return it; one load at a time, so that the
    start-up check and a first analysis never load the same model twice."""
    from gymnast_pose.analysis import load_estimator

    with MODEL_LOCK:
        return load_estimator(options)


def model_job(token: CancelToken):
    """A worker job: load the pose model now (the app does it at start); returns the model's path and where and
    how it runs, e.g. "CPU, bfloat16"."""
    from gymnast_pose.analysis import AnalysisOptions
    from gymnast_pose.model import bundled_model_path

    predictor = getattr(load_model(AnalysisOptions()), "predictor", None)
    device = getattr(getattr(predictor, "device", None), "type", "")
    dtype = str(getattr(predictor, "dtype", "")).replace("torch.", "")
    return bundled_model_path(), ", ".join(v for v in (device.upper(), dtype) if v)


def progress_fraction(item) -> float | None:
    """0..1 from an ``AnalysisProgress`` (whatever its exact fields), None when unknown."""
    for name in ("fraction", "progress"):
        value = getattr(item, name, None)
        if isinstance(value, (int, float)):
            return float(value)
    done = next((getattr(item, n) for n in ("done", "frames_done", "frame", "current") if hasattr(item, n)), None)
    total = next((getattr(item, n) for n in ("total", "frames_total", "num_frames") if hasattr(item, n)), None)
    if isinstance(done, (int, float)) and isinstance(total, (int, float)) and total > 0:
        return min(max(float(done) / float(total), 0.0), 1.0)
    return None


def user_message(exc: BaseException) -> str:
    """One sentence for the coach; the core's own errors already are one."""
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, (ValueError, OSError, RuntimeError)):
        return text
    return f"{type(exc).__name__}: {text}"


class SessionController(QObject):
    error_occurred = Signal(str, str)  # title, message
    status_message = Signal(str)

    def __init__(self, session: Session, runner: TaskRunner | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.session = session
        self.runner = runner or TaskRunner(self)
        self._analysis: dict[str, Task | None] = {role: None for role in ROLES}
        self._compare_generation = 0
        self._compare_task: Task | None = None
        self._pending_position: tuple[str, int] | None = None  # (clock role, position) of a session file
        self._progress_shown: dict[str, float] = {}  # role -> monotonic time of the last progress shown
        self._compare_timer = QTimer(self)
        self._compare_timer.setSingleShot(True)
        self._compare_timer.setInterval(COMPARE_DELAY_MS)
        self._compare_timer.timeout.connect(self.compare_now)
        session.events.settings_changed.connect(self._schedule_compare)

    # ---- videos and analysis --------------------------------------------------------------------------------
    def open_video(self, role: str, path: str | Path, box: AthleteBox | None = None) -> Task:
        """Open and analyse ``path`` as the ``role`` video (replacing any video there)."""
        path = Path(path)
        self.cancel(role)
        if self.session.slot(role).path != path:
            self.session.clear_slot(role)
        self.session.update_slot(role, path=path, box=box, status=SlotStatus.OPENING, progress=None,
                                 message=f"Opening {path.name}…", poses=None)
        return self._start_analysis(role, path, box)

    def reanalyse(self, role: str, box: AthleteBox | None) -> Task | None:
        """Analyse the ``role`` video again, following the athlete in ``box`` (None: the automatic choice)."""
        slot = self.session.slot(role)
        if slot.path is None:
            return None
        self.cancel(role)
        self.session.update_slot(role, box=box, status=SlotStatus.ANALYSING, progress=0.0, poses=None,
                                 message="Analysing the chosen athlete…" if box else "Analysing…")
        return self._start_analysis(role, slot.path, box)

    def _start_analysis(self, role: str, path: Path, box: AthleteBox | None) -> Task:
        task_ref: dict[str, Task] = {}

        def current() -> bool:  # ignore reports from a task that was replaced
            return self._analysis.get(role) is task_ref.get("task")

        task = self.runner.start(
            analysis_job(path, box), name=f"analyse-{role}",
            on_progress=lambda item: current() and self._on_analysis_progress(role, item),
            on_result=lambda poses: current() and self._on_analysis_result(role, poses),
            on_error=lambda exc: current() and self._on_analysis_error(role, exc),
            on_cancelled=lambda: current() and self._on_analysis_cancelled(role),
            on_finished=lambda: current() and self._analysis.__setitem__(role, None),
        )
        task_ref["task"] = task
        self._analysis[role] = task
        return task

    def cancel(self, role: str) -> None:
        task = self._analysis.get(role)
        if task is not None:
            task.cancel()
            self._analysis[role] = None
            slot = self.session.slot(role)
            if slot.status.busy:
                status = SlotStatus.CANCELLED if slot.info is not None else SlotStatus.EMPTY
                self.session.update_slot(role, status=status, progress=None,
                                         message="Analysis cancelled" if slot.info else "",
                                         path=slot.path if slot.info else None)

    def is_analysing(self, role: str) -> bool:
        return self._analysis.get(role) is not None

    def _on_analysis_progress(self, role: str, item) -> None:
        if isinstance(item, VideoOpened):
            note = f" ({item.info.note})" if item.info.note else ""
            self.session.update_slot(role, info=item.info, status=SlotStatus.ANALYSING, progress=0.0,
                                     message=f"Analysing poses…{note}")
            # the saved position counts frames of the session's clock video: wait for that one (if the other
            # opens first, it is the clock only until the coach's video arrives)
            if self._pending_position is not None and role == self._pending_position[0]:
                self.session.set_position(self._pending_position[1])
                self._pending_position = None
            return
        if isinstance(item, WaitingForTurn):
            other = next(r for r in ROLES if r != role)
            self.session.update_slot(role, progress=None, message=f"Waiting until the {other}'s video is analysed…")
            return
        fraction = progress_fraction(item)
        now = time.monotonic()
        if (fraction is None or fraction < 1.0) and now - self._progress_shown.get(role, -1e9) < PROGRESS_INTERVAL_S:
            return  # the analysis reports every frame; repainting for each would load the GUI thread
        self._progress_shown[role] = now
        message = "Poses loaded from the cache" if getattr(item, "cached", False) else "Analysing poses…"
        self.session.update_slot(role, progress=fraction, message=str(message))

    def _on_analysis_result(self, role: str, poses) -> None:
        self._analysis[role] = None
        self.session.update_slot(role, poses=poses, status=SlotStatus.READY, progress=1.0, message="")
        self.status_message.emit(f"{ROLE_TITLES[role]}: poses ready ({poses.num_frames} frames)")
        self._schedule_compare()

    def _on_analysis_error(self, role: str, exc: BaseException) -> None:
        self._analysis[role] = None
        slot = self.session.slot(role)
        message = user_message(exc)
        name = slot.path.name if slot.path else "the video"  # before the path is cleared below
        self.session.update_slot(role, status=SlotStatus.FAILED, progress=None, message=message,
                                 path=slot.path if slot.info else None)
        self.error_occurred.emit(f"Could not analyse {name}", message)

    def _on_analysis_cancelled(self, role: str) -> None:
        self._analysis[role] = None
        slot = self.session.slot(role)
        self.session.update_slot(role, status=SlotStatus.CANCELLED if slot.info else SlotStatus.EMPTY,
                                 progress=None, message="Analysis cancelled" if slot.info else "")

    # ---- comparison -------------------------------------------------------------------------------------------
    def _schedule_compare(self) -> None:
        if self.session.ready_for_comparison:
            self._compare_timer.start()

    def compare_now(self) -> Task | None:
        """Compare the two pose sequences with the current settings on a worker (if both exist)."""
        self._compare_timer.stop()
        session = self.session
        if not session.ready_for_comparison:
            return None
        from gymnast_pose.compare import CompareError, compare_sequences

        self._compare_generation += 1
        generation = self._compare_generation
        try:
            options = session.settings.compare_options()
        except CompareError as exc:
            session.set_comparison(None, str(exc))
            return None
        coach, student = session.coach.poses, session.student.poses

        def job(token):
            from gymnast_pose.mirror_check import check_mirror

            comparison = compare_sequences(coach, student, options)
            return comparison, check_mirror(coach, student, comparison)

        def on_result(result):
            if generation == self._compare_generation:
                comparison, suggestion = result
                session.set_comparison(comparison, mirror_suggestion=suggestion)

        def on_error(exc):
            if generation == self._compare_generation:
                session.set_comparison(None, user_message(exc))
                self.status_message.emit(f"Comparison not possible: {user_message(exc)}")

        self._compare_task = self.runner.start(job, name="compare", on_result=on_result, on_error=on_error)
        return self._compare_task

    @property
    def comparing(self) -> bool:
        task = self._compare_task
        return self._compare_timer.isActive() or (task is not None and task.outcome is None)

    # ---- session files -----------------------------------------------------------------------------------------
    def load_session_file(self, session_file: SessionFile) -> None:
        """Open both videos of a saved session and restore its alignment and position."""
        self.session.set_settings(session_file.settings)
        clock = COACH if session_file.coach is not None else STUDENT
        self._pending_position = (clock, session_file.position)
        for role in ROLES:
            path = session_file.path_of(role)
            if path is not None:
                self.open_video(role, path, session_file.box_of(role))
            elif self.session.slot(role).has_video:
                self.cancel(role)
                self.session.clear_slot(role)
        self.session.set_settings(session_file.settings)  # opening cleared the ranges of replaced videos

    def shutdown(self, msecs: int = 30_000) -> bool:
        """Cancel every task and wait for the threads (on close)."""
        self._compare_timer.stop()
        for role in ROLES:
            task = self._analysis.get(role)
            if task is not None:
                task.cancel()
        return self.runner.shutdown(msecs)

    def clock_role_title(self) -> str:
        role = self.session.clock_role or COACH
        return ROLE_TITLES[role]
