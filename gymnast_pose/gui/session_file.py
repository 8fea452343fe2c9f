"""Saving and reopening a comparison: the two video paths, athlete boxes, alignment settings and position.

A session file is small JSON (``format`` "gymnast_pose.gui-session", ``version`` 1); each video is stored with its
absolute path and its path relative to the session file, so a folder moved together with its videos still opens.
Written atomically; every failure is a ``SessionFileError`` with a message for the user.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from gymnast_pose.files import temporary_next_to
from gymnast_pose.gui.session import COACH, AlignmentSettings, AthleteBox, SessionFileError

SESSION_FORMAT = "gymnast_pose.gui-session"
SESSION_VERSION = 1


@dataclass
class SessionFile:
    """What a saved session holds: the two video paths, the athlete boxes, the alignment and the position."""

    coach: Path | None = None
    student: Path | None = None
    coach_box: AthleteBox | None = None
    student_box: AthleteBox | None = None
    settings: AlignmentSettings = field(default_factory=AlignmentSettings)
    position: int = 0

    def path_of(self, role: str) -> Path | None:
        return self.coach if role == COACH else self.student

    def box_of(self, role: str) -> AthleteBox | None:
        return self.coach_box if role == COACH else self.student_box

    def to_json(self, relative_to: Path | None = None) -> str:
        def video(path: Path | None, box: AthleteBox | None):
            if path is None:
                return None
            entry = {"path": str(path)}
            if relative_to is not None:
                try:
                    entry["relative_path"] = os.path.relpath(path, relative_to)
                except ValueError:  # another drive on Windows
                    pass
            if box is not None:
                entry["athlete_box"] = asdict(box)
            return entry

        document = {"format": SESSION_FORMAT, "version": SESSION_VERSION,
                    "coach": video(self.coach, self.coach_box), "student": video(self.student, self.student_box),
                    "alignment": self.settings.to_dict(), "position": int(self.position)}
        return json.dumps(document, indent=2)

    def save(self, path: str | os.PathLike) -> Path:
        """Write atomically (temporary file + ``os.replace``)."""
        path = Path(path)
        text = self.to_json(relative_to=path.parent.resolve())
        try:
            fd, temporary = temporary_next_to(path, f".{path.name}.", ".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(temporary, path)
        except OSError as exc:
            raise SessionFileError(f"Cannot write the session file {path}: {exc.strerror or exc}") from exc
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> SessionFile:
        path = Path(path)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise SessionFileError(f"Cannot read the session file {path}: {exc.strerror or exc}") from exc
        except ValueError as exc:
            raise SessionFileError(f"{path} is not a session file (not valid JSON: {exc})") from exc
        if not isinstance(document, dict) or document.get("format") != SESSION_FORMAT:
            raise SessionFileError(f"{path} is not a gymnast_pose session file")
        if int(document.get("version", 0)) > SESSION_VERSION:
            raise SessionFileError(f"{path} was written by a newer version of gymnast_pose")

        def video(entry) -> tuple[Path | None, AthleteBox | None]:
            if not entry:
                return None, None
            video_path = Path(entry["path"])
            relative = entry.get("relative_path")
            if not video_path.exists() and relative and (path.parent / relative).exists():
                video_path = (path.parent / relative).resolve()  # the folder was moved with its videos
            box = entry.get("athlete_box")
            return video_path, (AthleteBox(**box) if box else None)

        try:
            coach, coach_box = video(document.get("coach"))
            student, student_box = video(document.get("student"))
            settings = AlignmentSettings.from_dict(document.get("alignment") or {})
            position = int(document.get("position", 0))
        except (KeyError, TypeError, ValueError) as exc:
            raise SessionFileError(f"{path} is a damaged session file ({exc})") from exc
        return cls(coach, student, coach_box, student_box, settings, position)
