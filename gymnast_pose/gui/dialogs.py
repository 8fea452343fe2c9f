"""Small dialog helpers of the main window: file dialogs, message boxes and the list of recent files.

Also ``write_export`` (the report and summary CSVs through ``gymnast_pose.report``, the timelines picture).
The file dialogs are module-level functions (``get_open_path``, ``get_save_path``) that the window always looks up
through this module, so a test replaces them with ``monkeypatch.setattr(dialogs, "get_save_path", ...)`` and no
native dialog ever opens. Message boxes are *non-modal* (``show_message``): the app keeps running behind them and a
test never blocks on one (the window also takes a ``show_error`` hook). ``RecentFiles`` keeps the last opened
videos and sessions in ``QSettings`` (key ``recent/files``), newest first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

VIDEO_FILTER = "Videos (*.mp4 *.mov *.avi *.mkv *.m4v *.webm *.mpg *.mpeg *.wmv);;All files (*)"
SESSION_FILTER = "gymnast_pose sessions (*.json);;All files (*)"
CSV_FILTER = "CSV files (*.csv);;All files (*)"
PNG_FILTER = "PNG images (*.png);;All files (*)"
MAX_RECENT = 10
SESSION_KIND = "session"
EXPORTS = {  # kind: (what it is called, file suffix, ending of the suggested file name)
    "report": ("report", ".csv", "_report.csv"),
    "summary": ("summary", ".csv", "_summary.csv"),
    "png": ("timelines picture", ".png", "_timelines.png"),
}


def get_open_path(parent: QWidget | None, caption: str, directory: str, file_filter: str) -> Path | None:
    """Ask for an existing file; None when the user cancels."""
    name, _ = QFileDialog.getOpenFileName(parent, caption, directory, file_filter)
    return Path(name) if name else None


def get_save_path(parent: QWidget | None, caption: str, suggested: str, file_filter: str) -> Path | None:
    """Ask where to write a file (the dialog asks before overwriting); None when the user cancels."""
    name, _ = QFileDialog.getSaveFileName(parent, caption, suggested, file_filter)
    return Path(name) if name else None


def with_suffix(path: Path, suffix: str) -> Path:
    """``path`` with ``suffix`` added when it has none (a coach typing "report" means "report.csv")."""
    return path if path.suffix else path.with_suffix(suffix)


def writable_problem(path: Path) -> str | None:
    """Why ``path`` cannot be written, in words for the user, or None when it looks writable."""
    path = Path(path)
    if path.is_dir():
        return f"{path} is a folder; give a file name."
    folder = path.parent
    if not folder.is_dir():
        return f"The folder {folder} does not exist."
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return f"You do not have permission to write in {folder}."
    return None


def write_export(kind: str, comparison, timeline, path) -> tuple[Path, str | None]:
    """Write an export (see ``EXPORTS``) of ``comparison`` (or of the ``timeline`` widget, for "png") to ``path``
    (suffix added if missing); returns the path written and None, or the path and why it could not be written."""
    from gymnast_pose.report import ReportWriteError, write_pairs_csv, write_summary_csv

    path = with_suffix(Path(path), EXPORTS[kind][1])
    problem = "There is no comparison yet." if comparison is None else writable_problem(path)
    if problem is None:
        try:
            if kind == "png":
                problem = None if timeline.export_png(path) else f"Cannot write the image {path}."
            else:
                (write_pairs_csv if kind == "report" else write_summary_csv)(comparison, path)
        except ReportWriteError as exc:
            problem = str(exc)
    return path, problem


def show_message(parent: QWidget | None, title: str, text: str, icon=QMessageBox.Icon.Warning,
                 details: str = "") -> QMessageBox:
    """A non-modal message box (deleted when closed); returns it so callers and tests can inspect it."""
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setWindowModality(Qt.WindowModality.NonModal)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    box.setTextFormat(Qt.TextFormat.PlainText if "<" not in text else Qt.TextFormat.RichText)
    if details:
        box.setDetailedText(details)
    box.show()
    return box


@dataclass(frozen=True)
class RecentEntry:
    """A recently opened file: ``kind`` is "coach", "student" or "session"."""

    kind: str
    path: Path

    def encode(self) -> str:
        return f"{self.kind}\t{self.path}"

    @classmethod
    def decode(cls, text: str) -> RecentEntry | None:
        kind, tab, path = str(text).partition("\t")
        return cls(kind, Path(path)) if tab and path else None

    @property
    def label(self) -> str:
        return f"{self.kind.capitalize()}: {self.path.name}   ({self.path.parent})"


class RecentFiles:
    """The recently opened files in ``QSettings``; see the module docstring."""

    KEY = "recent/files"

    def __init__(self, settings: QSettings, limit: int = MAX_RECENT):
        self.settings = settings
        self.limit = limit

    def entries(self) -> list[RecentEntry]:
        value = self.settings.value(self.KEY, [])
        if isinstance(value, str):  # QSettings gives a bare string for a one-item list in some formats
            value = [value]
        entries = [RecentEntry.decode(text) for text in (value or [])]
        return [entry for entry in entries if entry is not None]

    def add(self, kind: str, path: Path) -> None:
        entry = RecentEntry(kind, Path(path).resolve())
        kept = [e for e in self.entries() if e != entry]
        self._store([entry, *kept][: self.limit])

    def remove(self, entry: RecentEntry) -> None:
        self._store([e for e in self.entries() if e != entry])

    def clear(self) -> None:
        self._store([])

    def _store(self, entries: list[RecentEntry]) -> None:
        self.settings.setValue(self.KEY, [entry.encode() for entry in entries])
        self.settings.sync()
