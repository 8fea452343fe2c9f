"""Reading videos frame-accurately with OpenCV: ``VideoSource``.

Conventions
-----------
* Frames come out as RGB ``uint8`` arrays of shape (H, W, 3), already turned upright: the container's display
  rotation (OpenCV's ``CAP_PROP_ORIENTATION_META``, clockwise degrees) is applied here, so ``size`` is the upright
  (width, height) and keypoints measured on these frames are in upright video pixels. BGR→RGB and the rotation
  happen in exactly one place, :func:`_to_upright_rgb`.
* Frame ``i`` is the i-th frame that FFmpeg decodes when reading the file from the start. The frame count is
  counted by decoding (``grab()``) once, not taken from the container, which may claim more frames than exist
  (truncated files) or get it wrong. ``time_s`` of frame ``i`` is ``i / fps``, the same convention as
  :class:`gymnast_pose.sequence.PoseSequence`; the container's own presentation times are in
  :attr:`VideoSource.presentation_times_s`.
* Random access (``frame(i)``) never trusts a seek: short forward jumps decode forward; backward or far jumps seek,
  then identify the frame actually reached by its presentation time (looked up in the table recorded while
  counting) and decode forward from there. If that cannot be verified, it decodes forward from the start.

Threads: a ``VideoSource`` holds one OpenCV capture for random access. Its methods take an internal lock, so a
source shared by mistake does not crash, but threads then wait for each other; give each thread its own source.
Each ``frames()`` iterator opens its own capture and may run in another thread while ``frame(i)`` is used here.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

_SAMPLE_BYTES = 64 * 1024  # bytes hashed at the start, middle and end of the file for the fingerprint
_ROTATIONS = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


class VideoError(ValueError):
    """Base class of the errors about a video file; the message is meant for the user."""


class VideoOpenError(VideoError):
    """The file is missing, is not a regular file, or cannot be read as a video."""


class EmptyVideoError(VideoError):
    """The file opens but holds no decodable frame (0 bytes, or a container without frames)."""


class FrameIndexError(VideoError, IndexError):
    """A frame index outside 0 .. num_frames - 1."""


class FrameDecodeError(VideoError):
    """A frame that decoded while counting no longer decodes (the file changed on disk?)."""


@dataclass(frozen=True)
class VideoFrame:
    """One decoded frame: ``image`` is RGB uint8 (H, W, 3), upright; ``time_s = index / fps``."""

    index: int
    time_s: float
    image: np.ndarray


@dataclass(frozen=True)
class _DecodeIndex:
    """What one sequential decoding pass learned: the frame count and each frame's presentation time (ms)."""

    num_frames: int
    presentation_ms: np.ndarray  # (num_frames,) float64

    @cached_property
    def _tolerance_ms(self) -> float | None:
        """A quarter of the shortest frame interval, or None if the times do not strictly increase (unusable)."""
        steps = np.diff(self.presentation_ms)
        return 0.25 * float(np.min(steps)) if len(steps) and np.all(steps > 0) else None

    def index_at(self, ms: float) -> int | None:
        """The unique frame whose presentation time is ``ms`` (within a quarter frame), else None."""
        times, tolerance = self.presentation_ms, self._tolerance_ms
        if tolerance is None or not np.isfinite(ms):
            return None
        j = int(np.searchsorted(times, ms))
        candidates = [k for k in (j - 1, j) if 0 <= k < len(times) and abs(times[k] - ms) <= tolerance]
        return candidates[0] if len(candidates) == 1 else None


_DECODE_INDEX_CACHE: dict[str, _DecodeIndex] = {}  # keyed by content digest; shared by all sources in the process
_DECODE_INDEX_LOCK = threading.Lock()


def _to_upright_rgb(bgr: np.ndarray, rotation_deg: int) -> np.ndarray:
    """The one place where OpenCV's BGR frame (H, W, 3) becomes an upright RGB frame."""
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return cv2.rotate(rgb, _ROTATIONS[rotation_deg]) if rotation_deg in _ROTATIONS else rgb


def _content_digest(path: Path) -> str:
    """SHA-256 of the file size and 64 KiB taken from the start, the middle and the end of the file."""
    size = path.stat().st_size
    digest = hashlib.sha256(f"size={size};".encode())
    with open(path, "rb") as f:
        for offset in sorted({0, max(0, size // 2 - _SAMPLE_BYTES // 2), max(0, size - _SAMPLE_BYTES)}):
            f.seek(offset)
            digest.update(f.read(_SAMPLE_BYTES))
    return digest.hexdigest()


def _check_file(path: Path) -> None:
    if not path.exists():
        raise VideoOpenError(f"Video file not found: {path}")
    if path.is_dir():
        raise VideoOpenError(f"{path} is a folder, not a video file")
    if not path.is_file():
        raise VideoOpenError(f"{path} is not a regular file")
    if not os.access(path, os.R_OK):
        raise VideoOpenError(f"No permission to read the video file {path}")
    if path.stat().st_size == 0:
        raise EmptyVideoError(f"The video file {path} is empty (0 bytes)")


class _Decoder:
    """One OpenCV capture and the index of the frame it last grabbed (-1 before the first grab)."""

    def __init__(self, path: Path):
        self.path = path
        self._open()

    def _open(self) -> None:
        # FFmpeg gives the same frames, timestamps and rotation metadata on every OS; other backends are a fallback.
        backend = cv2.CAP_FFMPEG if cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG) else cv2.CAP_ANY
        self.capture = cv2.VideoCapture(str(self.path), backend)
        if not self.capture.isOpened():
            raise VideoOpenError(
                f"{self.path} could not be opened as a video: the format is not recognised or the file is damaged "
                "(for example an incomplete download)"
            )
        # We rotate frames ourselves (in _to_upright_rgb); a backend that refuses this setting rotates by itself.
        self.backend_rotates = not self.capture.set(cv2.CAP_PROP_ORIENTATION_AUTO, 0)
        self.current = -1

    def grab(self) -> bool:
        ok = bool(self.capture.grab())
        self.current = self.current + 1 if ok else self.current
        return ok

    def retrieve(self) -> np.ndarray | None:
        ok, bgr = self.capture.retrieve()
        return bgr if ok and bgr is not None and bgr.size else None

    def presentation_ms(self) -> float:
        return float(self.capture.get(cv2.CAP_PROP_POS_MSEC))

    def rewind(self) -> None:
        """Reopen at the start, so that the next grab is frame 0 by construction."""
        self.capture.release()
        self._open()

    def close(self) -> None:
        self.capture.release()


class VideoSource:
    """A video file opened for frame-accurate reading; see the module docstring for conventions and threads.

    ``cache_megabytes`` bounds the LRU cache of decoded frames used for scrubbing; ``max_forward_decode`` is the
    longest forward jump (in frames) served by decoding forward instead of seeking.
    """

    def __init__(self, path: str | os.PathLike, *, cache_megabytes: float = 256.0, max_forward_decode: int = 64):
        self.path = Path(path)
        _check_file(self.path)
        self._lock = threading.RLock()
        self._digest = _content_digest(self.path)
        self._decoder = _Decoder(self.path)
        capture = self._decoder.capture
        self.claimed_frame_count = max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0))
        # Clockwise degrees that turn the stored frames upright (0, 90, 180 or 270), from the container.
        self.rotation_deg = int(round(capture.get(cv2.CAP_PROP_ORIENTATION_META) or 0)) % 360
        self._rotation_to_apply = 0 if self._decoder.backend_rotates else self.rotation_deg
        if not self._decoder.grab() or (first := self._decoder.retrieve()) is None:
            self._decoder.close()
            raise EmptyVideoError(f"The video file {self.path} contains no decodable video frames")
        first_rgb = self._upright(first)
        self.height, self.width = first_rgb.shape[:2]
        self._frame_bytes = first_rgb.nbytes
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_limit = max(2, int(cache_megabytes * 1e6 // max(1, self._frame_bytes)))
        self.max_forward_decode = max(1, int(max_forward_decode))
        self._remember(0, first_rgb)
        claimed_fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self._fps = claimed_fps if np.isfinite(claimed_fps) and 0 < claimed_fps < 1000 else None
        with _DECODE_INDEX_LOCK:
            self._index: _DecodeIndex | None = _DECODE_INDEX_CACHE.get(self._digest)

    # ---- metadata -------------------------------------------------------------------------------------------
    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the upright frames, in pixels."""
        return self.width, self.height

    @property
    def fps(self) -> float:
        """Frames per second: the container's rate, or the median rate of the decoded timestamps if it has none."""
        if self._fps is None:
            steps = np.diff(self._decode_index().presentation_ms)
            steps = steps[steps > 0]
            if not len(steps):
                raise VideoOpenError(f"Cannot determine the frame rate of {self.path}")
            self._fps = 1000.0 / float(np.median(steps))
        return self._fps

    @property
    def num_frames(self) -> int:
        """Number of frames that actually decode. The first access (also made by ``frame``, ``fingerprint`` and
        ``len``) grabs every frame once without colour conversion; the result is cached for the process."""
        return self._decode_index().num_frames

    def __len__(self) -> int:
        return self.num_frames

    @property
    def duration_s(self) -> float:
        return self.num_frames / self.fps

    @property
    def presentation_times_s(self) -> np.ndarray:
        """(num_frames,) float64: each decoded frame's presentation time from the container, in seconds."""
        return self._decode_index().presentation_ms / 1000.0

    @property
    def frame_count_note(self) -> str | None:
        """A sentence for the user when the decoded count differs from the container's claim, else None."""
        n, claimed = self.num_frames, self.claimed_frame_count
        if claimed <= 0 or n == claimed:
            return None
        hint = " (the file may be truncated or damaged)" if n < claimed else ""
        return f"{self.path.name}: the container claims {claimed} frames but {n} decode{hint}"

    @property
    def fingerprint(self) -> str:
        """Cheap content hash (file size, sampled bytes, decoded frame count, fps) used as a cache key."""
        text = f"{self._digest};frames={self.num_frames};fps={self.fps:.6f}"
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def time_of(self, index: int) -> float:
        """Seconds from the start to frame ``index``: ``index / fps``."""
        return index / self.fps

    # ---- decoding -------------------------------------------------------------------------------------------
    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` exactly, as a read-only RGB uint8 array (H, W, 3); copy it before drawing on it."""
        with self._lock:
            index = self._check_index(index)
            cached = self._cache.get(index)
            if cached is not None:
                self._cache.move_to_end(index)
                return cached
            self._move_to(self._decoder, index)
            bgr = self._decoder.retrieve()
            if bgr is None:
                raise FrameDecodeError(f"Frame {index} of {self.path} could not be decoded")
            return self._remember(index, self._upright(bgr))

    def __getitem__(self, index: int) -> np.ndarray:
        return self.frame(index)

    def frames(self, start: int = 0, stop: int | None = None, step: int = 1) -> Iterator[VideoFrame]:
        """Decode frames ``start, start + step, ...`` (< ``stop``) in order with their own capture.

        Reading the whole video from 0 also records the frame count if it was not counted yet.
        """
        if step < 1 or start < 0:
            raise ValueError(f"frames() needs start >= 0 and step >= 1, got start={start}, step={step}")
        if (stop is not None and stop <= start) or (start > 0 and start >= self.num_frames):
            return
        decoder = _Decoder(self.path)
        whole_pass = start == 0 and step == 1 and stop is None and self._index is None
        times: list[float] = []
        try:
            if start > 0:
                self._move_to(decoder, start)
            elif not decoder.grab():
                return
            while stop is None or decoder.current < stop:
                if whole_pass:
                    times.append(decoder.presentation_ms())
                if (decoder.current - start) % step == 0:
                    bgr = decoder.retrieve()
                    if bgr is None:
                        break
                    yield VideoFrame(decoder.current, decoder.current / self.fps, self._upright(bgr))
                if not decoder.grab():
                    if whole_pass:
                        self._store_index(_DecodeIndex(len(times), np.asarray(times, dtype=np.float64)))
                    break
        finally:
            decoder.close()

    def __iter__(self) -> Iterator[VideoFrame]:
        return self.frames()

    def close(self) -> None:
        with self._lock:
            self._decoder.close()
            self._cache.clear()

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"VideoSource({str(self.path)!r}, size={self.size}, rotation={self.rotation_deg})"

    # ---- internals ------------------------------------------------------------------------------------------
    def _upright(self, bgr: np.ndarray) -> np.ndarray:
        return _to_upright_rgb(bgr, self._rotation_to_apply)

    def _remember(self, index: int, rgb: np.ndarray) -> np.ndarray:
        rgb.flags.writeable = False
        self._cache[index] = rgb
        self._cache.move_to_end(index)
        while len(self._cache) > self._cache_limit:
            self._cache.popitem(last=False)
        return rgb

    def _check_index(self, index: int) -> int:
        n = self.num_frames
        if not isinstance(index, (int, np.integer)) or not 0 <= index < n:
            raise FrameIndexError(f"Frame {index!r} is out of range: {self.path.name} has {n} frames (0 to {n - 1})")
        return int(index)

    def _decode_index(self) -> _DecodeIndex:
        """Count frames by grabbing them all once (no colour conversion) and record their presentation times."""
        if self._index is None:
            with self._lock:
                if self._index is None:
                    counter = _Decoder(self.path)
                    times = []
                    try:
                        while counter.grab():
                            times.append(counter.presentation_ms())
                    finally:
                        counter.close()
                    self._store_index(_DecodeIndex(len(times), np.asarray(times, dtype=np.float64)))
                    if note := self.frame_count_note:
                        log.warning(note)
        return self._index

    def _store_index(self, index: _DecodeIndex) -> None:
        with _DECODE_INDEX_LOCK:
            _DECODE_INDEX_CACHE[self._digest] = index
        self._index = index

    def _move_to(self, decoder: _Decoder, index: int) -> None:
        """Leave ``decoder`` with frame ``index`` grabbed (ready for ``retrieve``), verified, never trusted."""
        if not decoder.current <= index <= decoder.current + self.max_forward_decode:
            self._seek_verified(decoder, index)
        while decoder.current < index:
            if not decoder.grab():
                raise FrameDecodeError(f"Frame {index} of {self.path} could not be decoded (the file ends earlier)")

    def _seek_verified(self, decoder: _Decoder, index: int) -> None:
        """Seek to at most ``index``: each landing frame is identified by its presentation time; else rewind."""
        table = self._decode_index()
        back_off = 0
        for _ in range(4):
            target = index - back_off
            if target <= 0:
                break
            decoder.capture.set(cv2.CAP_PROP_POS_FRAMES, target)
            if decoder.grab():
                landed = table.index_at(decoder.presentation_ms())
                if landed is not None and landed <= index:
                    decoder.current = landed
                    return
            back_off = max(2 * back_off, 16)
        decoder.rewind()
        if not decoder.grab():
            raise FrameDecodeError(f"{self.path} no longer decodes from the start")
