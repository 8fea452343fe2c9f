"""On-disk cache of pose analyses, so a video is analysed once per model and settings.

One ``.npz`` file (``PoseSequence.save``, written atomically) per (video fingerprint, model hash, settings key),
in a per-user folder: ``$GYMNAST_POSE_CACHE_DIR`` if set (tests point it at a temporary folder), else
``$XDG_CACHE_HOME/gymnast_pose``, else ``%LOCALAPPDATA%/gymnast_pose/cache`` on Windows, else
``~/.cache/gymnast_pose``. A cache file that cannot be read, or that belongs to another key, is removed and
reported as a miss, never raised.

Typical use::

    key = settings_key({"smoothing": "one_euro", "min_cutoff": 1.0})
    poses = load_cached(video.fingerprint, model_hash, key)
    if poses is None:
        poses = analyse(video)
        store_cached(poses, key)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from gymnast_pose.sequence import PoseSequence, PoseSequenceError

log = logging.getLogger(__name__)

CACHE_DIR_ENV = "GYMNAST_POSE_CACHE_DIR"


def cache_dir() -> Path:
    """The folder holding cached pose files (not created here)."""
    if override := os.environ.get(CACHE_DIR_ENV):
        return Path(override).expanduser()
    if xdg := os.environ.get("XDG_CACHE_HOME"):
        return Path(xdg).expanduser() / "gymnast_pose"
    if os.name == "nt" and (local := os.environ.get("LOCALAPPDATA")):
        return Path(local) / "gymnast_pose" / "cache"
    return Path.home() / ".cache" / "gymnast_pose"


def settings_key(settings: Mapping | None) -> str:
    """Short stable hash of analysis settings (a JSON-serialisable mapping); "" for no settings."""
    if not settings:
        return ""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cache_path(fingerprint: str, model_hash: str, settings_key: str = "") -> Path:
    """Where the poses for this video, model and settings are cached."""
    if not fingerprint or not model_hash:
        raise ValueError("A pose cache entry needs both a video fingerprint and a model hash")
    key = hashlib.sha256(f"{fingerprint}\n{model_hash}\n{settings_key}".encode()).hexdigest()[:32]
    return cache_dir() / f"poses-{key}.npz"


def load_cached(fingerprint: str, model_hash: str, settings_key: str = "") -> PoseSequence | None:
    """The cached poses, or None on a miss; an unreadable or mismatching file is deleted and counts as a miss."""
    path = cache_path(fingerprint, model_hash, settings_key)
    if not path.is_file():
        return None
    try:
        poses = PoseSequence.load(path)
    except (PoseSequenceError, OSError) as exc:
        log.warning("Ignoring and removing a damaged pose cache file %s: %s", path, exc)
        _remove(path)
        return None
    if poses.fingerprint != fingerprint or poses.model_hash != model_hash:
        log.warning("Removing pose cache file %s: it belongs to another video or model", path)
        _remove(path)
        return None
    return poses


def store_cached(poses: PoseSequence, settings_key: str = "") -> Path:
    """Write ``poses`` to the cache under its own ``fingerprint`` and ``model_hash`` (both must be set)."""
    path = cache_path(poses.fingerprint, poses.model_hash, settings_key)
    path.parent.mkdir(parents=True, exist_ok=True)
    return poses.save(path)


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:  # read-only cache folder: a miss is still a miss
        log.warning("Could not remove %s: %s", path, exc)
