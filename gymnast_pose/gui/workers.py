"""Run slow work (opening and analysing a video, comparing) on worker threads, never on the GUI thread.

A *job* is a callable taking a :class:`CancelToken`. It may return a value directly, or return a generator: then
every yielded item is reported as ``progress`` and the generator's return value (``StopIteration.value``) is the
``result``; between two items the worker checks the token and, if cancelled, closes the generator (its ``finally``
blocks run on the worker thread) and reports ``cancelled``.

Signals of a :class:`Task`, always delivered on the GUI thread: ``progress(item)`` (any number), then exactly one of
``result(value)`` / ``error(exception)`` / ``cancelled()``, then always ``finished()``. An exception raised by the job
is never swallowed: it arrives as ``error`` with its traceback kept in ``Task.traceback``.

:class:`TaskRunner` owns the threads: ``cancel_all()`` + ``wait_all()`` on close means no
"QThread: Destroyed while thread is still running" and no callback into a closed window.
"""

from __future__ import annotations

import inspect
import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, Slot

log = logging.getLogger(__name__)


class Cancelled(Exception):
    """Raised by ``CancelToken.raise_if_cancelled`` inside a job; reported as ``cancelled``, not as an error."""


class CancelToken:
    """Thread-safe flag a job polls (``cancelled``) or turns into an exception (``raise_if_cancelled``)."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()

    def __call__(self) -> bool:  # usable as a ``should_stop()`` callback
        return self._event.is_set()


def _is_cancellation(exc: BaseException) -> bool:
    """Our own ``Cancelled`` and the core's ``AnalysisCancelled`` (matched by name: the GUI must not require it)."""
    return isinstance(exc, Cancelled) or type(exc).__name__ in ("AnalysisCancelled", "Cancelled")


class _Worker(QObject):
    """Lives on the worker thread; its signals are queued to the ``Task`` on the GUI thread."""

    progress = Signal(object)
    result = Signal(object)
    error = Signal(object, str)
    cancelled = Signal()
    finished = Signal()

    def __init__(self, job: Callable[[CancelToken], Any], token: CancelToken):
        super().__init__()
        self._job = job
        self._token = token

    @Slot()
    def run(self) -> None:
        try:
            value = self._job(self._token)
            if inspect.isgenerator(value):
                value = self._drain(value)
            if self._token.cancelled:
                self.cancelled.emit()
            else:
                self.result.emit(value)
        except BaseException as exc:  # noqa: B036 - everything must reach the GUI thread, even SystemExit
            if _is_cancellation(exc) or (self._token.cancelled and isinstance(exc, GeneratorExit)):
                self.cancelled.emit()
            else:
                self.error.emit(exc, traceback.format_exc())
        finally:
            self._job = None  # drop references to big inputs as soon as possible
            app = QCoreApplication.instance()
            if app is not None:
                self.moveToThread(app.thread())  # so that the GUI thread may delete it once the thread ends
            self.finished.emit()

    def _drain(self, generator):
        try:
            while True:
                if self._token.cancelled:
                    generator.close()
                    raise Cancelled()
                item = next(generator)
                self.progress.emit(item)
        except StopIteration as stop:
            return stop.value


class Task(QObject):
    """One job on its own ``QThread``; see the module docstring for the signals."""

    progress = Signal(object)
    result = Signal(object)
    error = Signal(object)
    cancelled = Signal()
    finished = Signal()
    ended = Signal()  # the thread has ended (emitted even when detached)

    def __init__(self, job: Callable[[CancelToken], Any], name: str = "", parent: QObject | None = None):
        super().__init__(parent)
        self.name = name or getattr(job, "__name__", "task")
        self.token = CancelToken()
        self.traceback = ""
        self.outcome: str | None = None  # "result", "error" or "cancelled" once known
        self._detached = False
        self._thread = QThread()
        self._thread.setObjectName(f"gymnast_pose:{self.name}")
        self._worker = _Worker(job, self.token)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.progress.connect(self._on_progress)
        self._worker.result.connect(self._on_result)
        self._worker.error.connect(self._on_error)
        self._worker.cancelled.connect(self._on_cancelled)
        self._worker.finished.connect(self._on_finished)
        # Direct: QThread.quit is thread-safe, and a queued quit would wait for the GUI thread, which is blocked
        # in ``wait()`` when shutting down (the thread would never end).
        self._worker.finished.connect(self._thread.quit, Qt.ConnectionType.DirectConnection)
        self._thread.finished.connect(self._on_thread_finished)

    def start(self) -> Task:
        self._thread.start()
        return self

    def cancel(self) -> None:
        self.token.cancel()

    def is_running(self) -> bool:
        return self._thread.isRunning()

    def wait(self, msecs: int = 30_000) -> bool:
        """Block until the thread has ended (True) or ``msecs`` passed (False). Only for shutting down."""
        return self._thread.wait(msecs) if self._thread.isRunning() else True

    def detach(self) -> None:
        """Stop delivering signals (the receivers are going away); the thread still ends by itself."""
        self._detached = True

    @Slot(object)
    def _on_progress(self, item) -> None:
        if not self._detached:
            self.progress.emit(item)

    @Slot(object)
    def _on_result(self, value) -> None:
        self.outcome = "result"
        if not self._detached:
            self.result.emit(value)

    @Slot(object, str)
    def _on_error(self, exc, text: str) -> None:
        self.outcome, self.traceback = "error", text
        log.info("Task %s failed:\n%s", self.name, text)
        if not self._detached:
            self.error.emit(exc)

    @Slot()
    def _on_cancelled(self) -> None:
        self.outcome = "cancelled"
        if not self._detached:
            self.cancelled.emit()

    @Slot()
    def _on_finished(self) -> None:
        if not self._detached:
            self.finished.emit()

    @Slot()
    def _on_thread_finished(self) -> None:
        self.ended.emit()


class TaskRunner(QObject):
    """Starts tasks and keeps them alive until their threads end; cancels and joins them all on shutdown."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._tasks: list[Task] = []

    def start(
        self,
        job: Callable[[CancelToken], Any],
        *,
        name: str = "",
        on_progress: Callable[[Any], None] | None = None,
        on_result: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        on_cancelled: Callable[[], None] | None = None,
        on_finished: Callable[[], None] | None = None,
    ) -> Task:
        task = Task(job, name)
        for signal, callback in ((task.progress, on_progress), (task.result, on_result), (task.error, on_error),
                                 (task.cancelled, on_cancelled), (task.finished, on_finished)):
            if callback is not None:
                signal.connect(callback)
        task.ended.connect(lambda task=task: self._forget(task))
        self._tasks.append(task)
        return task.start()

    def _forget(self, task: Task) -> None:
        if task in self._tasks:
            self._tasks.remove(task)

    @property
    def tasks(self) -> list[Task]:
        return [task for task in self._tasks if task.is_running()]

    def cancel_all(self) -> None:
        for task in self._tasks:
            task.cancel()

    def shutdown(self, msecs: int = 30_000) -> bool:
        """Cancel every task, stop their signals, and wait for their threads; True when all have ended."""
        all_ended = True
        for task in list(self._tasks):
            task.detach()
            task.cancel()
        for task in list(self._tasks):
            if not task.wait(msecs):
                log.warning("Task %s did not stop within %d ms", task.name, msecs)
                all_ended = False
        return all_ended
