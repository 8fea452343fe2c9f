"""The ``gymnast-pose`` command: ``gui`` (the default), ``analyze``, ``compare`` and ``pose``.

Each subcommand lives in ``gymnast_pose.commands.<name>`` with ``add_arguments(parser)`` and ``run(args) -> int``;
this module only dispatches. User-facing errors (bad files, unwritable paths) are printed as one clear line and give
exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "gui": "open the desktop app (default): gymnast-pose gui [COACH [STUDENT]]",
    "analyze": "find the athlete's pose in every frame of a video",
    "compare": "compare a student's performance with the coach's and write a CSV report",
    "pose": "keypoints for still images, each treated as one person's crop",
}


class UserError(Exception):
    """An error caused by the user's input, reported as a single message."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gymnast-pose", description="Pose analysis for gymnastics coaches.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        try:
            module = importlib.import_module(f"gymnast_pose.commands.{name}")
        except ModuleNotFoundError as exc:  # a command not in this build must not break the others
            if exc.name != f"gymnast_pose.commands.{name}":
                raise
            continue
        module.add_arguments(sp)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] not in COMMANDS and argv[0] not in ("-h", "--help"):
        argv = ["gui", *argv]
    parser = build_parser()
    args = parser.parse_args(argv)
    module = importlib.import_module(f"gymnast_pose.commands.{args.command}")
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except (UserError, FileNotFoundError, PermissionError, IsADirectoryError, ValueError, RuntimeError) as exc:
        print(f"gymnast-pose {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # python -m gymnast_pose.cli: use the importable module, whose UserError commands raise
    from gymnast_pose.cli import main as _main

    sys.exit(_main())
