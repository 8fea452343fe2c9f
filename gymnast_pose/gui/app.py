"""Start the desktop app: ``main(coach=None, student=None)`` (what ``gymnast-pose gui`` and a bare ``gymnast-pose``
run).

Creates the ``QApplication`` (application and organisation names, so ``QSettings`` has a home), the
``MainWindow``, opens the given files (``coach`` may also be a saved session ``.json``) and checks the pose model on
a worker at once, so a missing or damaged model file is a clear message box at start, not a traceback. An
unexpected exception in an event handler is logged and shown in a message box; the app keeps running.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from pathlib import Path

from PySide6.QtWidgets import QApplication

from gymnast_pose.gui.main_window import MainWindow
from gymnast_pose.gui.qt_compat import BINDING_WARNING, binding_loses_none_references
from gymnast_pose.gui.session import COACH, STUDENT

log = logging.getLogger(__name__)
APP_NAME = "gymnast_pose"
ORGANISATION = "gymnast_pose"


def ensure_application() -> QApplication:
    """The running ``QApplication``, created (with our names) if there is none yet."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORGANISATION)
    app.setApplicationDisplayName("gymnast_pose")
    return app


def build_window(coach: str | os.PathLike | None = None, student: str | os.PathLike | None = None,
                 **window_options) -> MainWindow:
    """A shown ``MainWindow`` with the given files opening and the model being checked (for ``main`` and tests)."""
    window = MainWindow(**window_options)
    window.show()
    window.check_model()
    if coach is not None and Path(coach).suffix.lower() == ".json":
        window.open_session(Path(coach))
    else:
        for role, path in ((COACH, coach), (STUDENT, student)):
            if path is not None:
                window.open_video(role, Path(path))
    return window


def _install_excepthook(window: MainWindow) -> None:
    """Show unexpected exceptions from event handlers instead of only printing them (Qt keeps running)."""
    previous = sys.excepthook

    def hook(kind, value, tb) -> None:
        if issubclass(kind, KeyboardInterrupt):
            previous(kind, value, tb)
            return
        text = "".join(traceback.format_exception(kind, value, tb))
        log.error("Unexpected error:\n%s", text)
        try:
            window.show_error("Unexpected error", f"{kind.__name__}: {value}\n\nThe app keeps running; "
                                                  "please report this with the details printed in the terminal.")
        except Exception:  # the window is gone: print it at least
            previous(kind, value, tb)

    sys.excepthook = hook


def main(coach: str | os.PathLike | None = None, student: str | os.PathLike | None = None) -> int:
    """Run the app until its window is closed; returns the exit status."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app = ensure_application()
    window = build_window(coach, student)
    _install_excepthook(window)
    if binding_loses_none_references():
        import PySide6

        window.show_error("Qt binding problem", BINDING_WARNING.format(version=PySide6.__version__))
    app.aboutToQuit.connect(window.shutdown)  # no worker thread left running, whatever ends the app
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
