"""``gymnast-pose gui [COACH [STUDENT]]`` (also what a bare ``gymnast-pose`` runs): the desktop app.

COACH and STUDENT are videos opened on each side at start; COACH may instead be a session file saved by the app
(``.json``: both videos, the alignment and the position). Qt is imported only when the app starts.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gymnast_pose.cli import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("coach", nargs="?", type=Path, metavar="COACH",
                        help="the coach's (reference) video, or a saved session (.json)")
    parser.add_argument("student", nargs="?", type=Path, metavar="STUDENT", help="the student's video")


def check_paths(args: argparse.Namespace) -> None:
    """Refuse files that do not exist before any window opens (one clear line instead of an empty app)."""
    if args.coach is not None and args.coach.suffix.lower() == ".json" and args.student is not None:
        raise UserError("give either a session file or two videos, not both")
    for role, path in (("coach", args.coach), ("student", args.student)):
        if path is not None and not path.is_file():
            what = "session" if path.suffix.lower() == ".json" else f"{role}'s video"
            raise UserError(f"the {what} file {path} does not exist")


def run(args: argparse.Namespace) -> int:
    check_paths(args)
    from gymnast_pose.gui.app import main

    return main(args.coach, args.student)
