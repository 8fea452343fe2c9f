"""Temporary files for atomic writes that end up with the permissions of an ordinary new file.

Every output of gymnast_pose (poses, reports, overlays, session files, the pose cache) is written to a temporary file
next to its target and then moved into place with ``os.replace``, so a failed run never leaves half a file. Python's
``tempfile.mkstemp`` creates that file readable by its owner alone (mode 0600), and the rename keeps the mode, so
without ``temporary_next_to`` a coach's CSV report would be unreadable to the rest of the club's accounts. Here
the temporary file gets ``0666`` minus the process's umask, as ``open(path, "w")`` would have given it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def current_umask() -> int:
    """The process's umask, read without changing it (``/proc/self/status`` on Linux; 0o022 where unavailable)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def temporary_next_to(path: Path, prefix: str, suffix: str) -> tuple[int, str]:
    """``tempfile.mkstemp`` in ``path``'s folder, chmod-ed to ``0666 & ~umask``: (open descriptor, file name).
    Raises ``OSError`` as ``mkstemp`` does."""
    fd, name = tempfile.mkstemp(dir=Path(path).parent, prefix=prefix, suffix=suffix)
    try:
        os.chmod(name, 0o666 & ~current_umask())
    except OSError:
        pass  # a file system without permissions (FAT, some network shares): the owner-only mode is harmless
    return fd, name
