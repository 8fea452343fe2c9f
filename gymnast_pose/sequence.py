"""``PoseSequence``: one person's keypoints over the frames of a video, with smoothing, gap filling and files.

Shapes and conventions (T frames, K = ``skeleton.K`` = 14 LSP joints):

* ``keypoints`` (T, K, 3) float32: x, y in pixels of the upright video frame (origin top-left, x right, y down)
  and a score in [0, 1]. A missing joint has x = y = NaN and score 0. Row t is frame ``start_frame + t`` of the
  video and lies at ``times_s[t] = (start_frame + t) / fps`` seconds.
* Low-confidence joints are marked by ``low_confidence_mask``, never deleted; gap-filled joints keep a reduced score.
* Files: ``.npz`` (exact, used by the cache), ``.json`` and ``.csv`` (for people and spreadsheets); ``save`` writes
  atomically (temporary file + ``os.replace``), ``load`` reads all three.

Recommended clean-up: ``seq.with_gaps_filled().smoothed()`` (filters in ``gymnast_pose.smoothing``; they restart
after a gap).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from gymnast_pose.files import temporary_next_to
from gymnast_pose.skeleton import JOINT_NAMES, PCK_TORSO_PAIR, K
from gymnast_pose.smoothing import DEFAULT_BETA, DEFAULT_D_CUTOFF, DEFAULT_MEDIAN_S, DEFAULT_MIN_CUTOFF, smooth_track

FORMAT_NAME = "gymnast_pose.PoseSequence"
FORMAT_VERSION = 1
CSV_UNITS = (
    "units: frame = 0-based frame index in the video; time_s = frame / fps in seconds; <joint>_x, <joint>_y = pixels "
    "in the upright video frame (origin top-left, x right, y down); <joint>_score = confidence 0..1; "
    "empty cells = joint not found"
)
CSV_COLUMNS = ("frame", "time_s", *(f"{name}_{part}" for name in JOINT_NAMES for part in ("x", "y", "score")))


class PoseSequenceError(ValueError):
    """Invalid pose data, or a pose file that cannot be read or written; the message is meant for the user."""


@dataclass(eq=False)
class PoseSequence:
    """Keypoints (T, K, 3) of one person over T consecutive video frames; see the module docstring."""

    keypoints: np.ndarray  # (T, K, 3) float32: x, y in upright video pixels, score in [0, 1]; missing: NaN, NaN, 0
    fps: float
    source: str = ""  # video path it came from
    fingerprint: str = ""  # VideoSource fingerprint
    frame_size: tuple[int, int] = (0, 0)  # (width, height) of the upright video
    model_hash: str = ""
    start_frame: int = 0  # video frame index of keypoints[0]

    def __post_init__(self) -> None:
        kp = np.array(self.keypoints, dtype=np.float32)  # a copy: normalising never touches the caller's array
        if kp.ndim != 3 or kp.shape[1:] != (K, 3):
            raise PoseSequenceError(f"keypoints must have shape (T, {K}, 3), got {kp.shape}")
        if not (np.isfinite(self.fps) and self.fps > 0):
            raise PoseSequenceError(f"fps must be a positive number, got {self.fps!r}")
        missing = ~np.isfinite(kp[..., 0]) | ~np.isfinite(kp[..., 1])
        kp[missing, :2] = np.nan
        kp[..., 2] = np.clip(np.nan_to_num(kp[..., 2], nan=0.0), 0.0, 1.0)
        kp[missing, 2] = 0.0
        self.keypoints, self.fps = kp, float(self.fps)
        self.frame_size = (int(self.frame_size[0]), int(self.frame_size[1]))
        self.start_frame = int(self.start_frame)

    # ---- views ----------------------------------------------------------------------------------------------
    @property
    def num_frames(self) -> int:
        return int(self.keypoints.shape[0])

    def __len__(self) -> int:
        return self.num_frames

    @property
    def xy(self) -> np.ndarray:
        """(T, K, 2) float32 pixel coordinates (a view); NaN where missing."""
        return self.keypoints[..., :2]

    @property
    def scores(self) -> np.ndarray:
        """(T, K) float32 scores in [0, 1] (a view); 0 where missing."""
        return self.keypoints[..., 2]

    @property
    def frame_indices(self) -> np.ndarray:
        """(T,) int64 video frame index of each row."""
        return self.start_frame + np.arange(self.num_frames, dtype=np.int64)

    @property
    def times_s(self) -> np.ndarray:
        """(T,) float64 seconds from the start of the video: frame index / fps."""
        return self.frame_indices / self.fps

    @property
    def missing_mask(self) -> np.ndarray:
        """(T, K) bool, True where the joint was not found (x = y = NaN)."""
        return np.isnan(self.keypoints[..., 0])

    def low_confidence_mask(self, threshold: float = 0.3) -> np.ndarray:
        """(T, K) bool, True where score < ``threshold`` (missing joints included): mark these, do not drop them."""
        return self.scores < threshold

    def slice(self, start: int | None, stop: int | None) -> PoseSequence:
        """Rows ``start:stop`` (positions in this sequence, Python slice rules) as a new sequence."""
        rows = range(self.num_frames)[slice(start, stop)]
        first = rows.start if len(rows) else 0
        return replace(self, keypoints=self.keypoints[rows.start : rows.stop], start_frame=self.start_frame + first)

    # ---- clean-up -------------------------------------------------------------------------------------------
    def with_gaps_filled(self, max_gap: int | None = None, score_factor: float = 0.5) -> PoseSequence:
        """Short dropouts filled by linear interpolation (see ``fill_gaps``); ``max_gap`` defaults to 0.2 s."""
        max_gap = default_max_gap(self.fps) if max_gap is None else max_gap
        return replace(self, keypoints=fill_gaps(self.keypoints, max_gap, score_factor)[0])

    def smoothed(
        self, min_cutoff: float = DEFAULT_MIN_CUTOFF, beta: float = DEFAULT_BETA, d_cutoff: float = DEFAULT_D_CUTOFF,
        median_s: float = DEFAULT_MEDIAN_S,
    ) -> PoseSequence:
        """x, y filtered by ``smoothing.smooth_track`` (median, zero-phase One-Euro) with speeds in torso lengths
        per second; scores unchanged."""
        torso = _nanmedian(torso_lengths(self.xy))
        scale = torso if torso > 0 else float(max(self.frame_size[1], 1))  # nan > 0 is False
        kp = self.keypoints.copy()
        kp[..., :2] = smooth_track(self.xy, self.fps, min_cutoff, beta, d_cutoff, scale, median_s)
        return replace(self, keypoints=kp)

    def jitter(self, start: int | None = None, stop: int | None = None) -> float:
        """``jitter_ratio`` over rows ``start:stop``."""
        return jitter_ratio(self.xy, start, stop)

    # ---- files ----------------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write to ``path`` as .npz, .json or .csv (by suffix), atomically; returns the path."""
        path = Path(path)
        writers = {".npz": self._write_npz, ".json": self._write_json, ".csv": self._write_csv}
        if path.suffix.lower() not in writers:
            raise PoseSequenceError(f"Cannot save poses as {path.name!r}: use a .npz, .json or .csv file name")
        _write_atomically(path, writers[path.suffix.lower()])
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> PoseSequence:
        """Read a file written by ``save`` (.npz, .json or .csv); ``PoseSequenceError`` if it is not one."""
        path = Path(path)
        readers = {".npz": _read_npz, ".json": _read_json, ".csv": _read_csv}
        if path.suffix.lower() not in readers:
            raise PoseSequenceError(f"Cannot read poses from {path.name!r}: expected a .npz, .json or .csv file")
        if not path.is_file():
            raise PoseSequenceError(f"Pose file not found: {path}")
        try:
            return readers[path.suffix.lower()](path)
        except PoseSequenceError:
            raise
        except Exception as exc:  # a damaged file can fail in many ways; the user needs one clear sentence
            raise PoseSequenceError(f"{path} is not a readable pose file ({type(exc).__name__}: {exc})") from exc

    def _write_npz(self, f) -> None:
        texts = {"source": self.source, "fingerprint": self.fingerprint, "model_hash": self.model_hash}
        np.savez_compressed(
            f, keypoints=self.keypoints, fps=np.float64(self.fps), start_frame=np.int64(self.start_frame),
            frame_size=np.asarray(self.frame_size, np.int64), joints=np.asarray(JOINT_NAMES),
            version=np.int64(FORMAT_VERSION), **{key: np.str_(value) for key, value in texts.items()},
        )  # fmt: skip

    def _write_json(self, f) -> None:
        frames = [
            {"index": int(index), "time_s": round(float(time), 6), "keypoints": [_joint_or_none(j) for j in row]}
            for index, time, row in zip(self.frame_indices, self.times_s, self.keypoints)
        ]
        document = {
            "format": FORMAT_NAME, "version": FORMAT_VERSION, "video": self.source, "fps": self.fps,
            "fingerprint": self.fingerprint, "model_hash": self.model_hash, "frame_size": list(self.frame_size),
            "joints": list(JOINT_NAMES), "frames": frames,
        }  # fmt: skip
        # One line per frame: readable, and far smaller than one number per line.
        fields = [f" {json.dumps(k)}: {json.dumps(v)}" for k, v in document.items() if k != "frames"]
        rows = ",\n".join(f"  {json.dumps(frame)}" for frame in frames)
        text = "{\n" + ",\n".join(fields) + ',\n "frames": [\n' + rows + "\n ]\n}\n"
        f.write(text.encode("utf-8"))

    def _write_csv(self, f) -> None:
        text = io.StringIO()
        width, height = self.frame_size
        header = {"video": self.source, "fps": repr(self.fps), "fingerprint": self.fingerprint,
                  "model_hash": self.model_hash, "frame_size": f"{width}x{height}"}  # fmt: skip
        text.write(f"# {FORMAT_NAME} version {FORMAT_VERSION}\n")
        for key, value in header.items():
            text.write(f"# {key}: {' '.join(str(value).splitlines())}\n")
        text.write(f"# {CSV_UNITS}\n")
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for index, time, row in zip(self.frame_indices, self.times_s, self.keypoints):
            cells = [int(index), f"{time:.6f}"]
            for joint in row:
                values = _joint_or_none(joint)
                cells += ["", "", ""] if values is None else values
            writer.writerow(cells)
        f.write(text.getvalue().encode("utf-8"))


# ---- file helpers -----------------------------------------------------------------------------------------------
def _short_float(value) -> float:
    """The shortest decimal that reads back as the same float32 (so text files round-trip exactly)."""
    return float(str(np.float32(value)))


def _joint_or_none(joint: np.ndarray) -> list[float] | None:
    return None if np.isnan(joint[0]) else [_short_float(joint[0]), _short_float(joint[1]), _short_float(joint[2])]


def _write_atomically(path: Path, write: Callable) -> None:
    """Call ``write(binary_file)`` on a temporary file next to ``path``, then move it into place."""
    try:
        fd, temporary = temporary_next_to(path, f".{path.name}.", ".tmp")
    except OSError as exc:
        raise PoseSequenceError(f"Cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _check_joints(names, path: Path) -> None:
    if tuple(names) != JOINT_NAMES:
        raise PoseSequenceError(f"{path} lists joints {list(names)}, expected the LSP-14 order {list(JOINT_NAMES)}")


def _read_npz(path: Path) -> PoseSequence:
    with np.load(path, allow_pickle=False) as data:
        _check_joints(data["joints"].tolist(), path)
        return PoseSequence(
            keypoints=data["keypoints"], fps=float(data["fps"]), source=str(data["source"]),
            fingerprint=str(data["fingerprint"]), frame_size=tuple(data["frame_size"].tolist()),
            model_hash=str(data["model_hash"]), start_frame=int(data["start_frame"]),
        )  # fmt: skip


def _read_json(path: Path) -> PoseSequence:
    document = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or "frames" not in document or "fps" not in document:
        raise PoseSequenceError(f"{path} is JSON but not a pose file (it needs 'fps' and 'frames')")
    _check_joints(document.get("joints", JOINT_NAMES), path)
    frames = document["frames"]
    nan_joint = [np.nan, np.nan, 0.0]
    keypoints = np.array(
        [[nan_joint if joint is None else joint for joint in frame["keypoints"]] for frame in frames], dtype=np.float32
    ).reshape(len(frames), K, 3)
    start = _check_consecutive([frame["index"] for frame in frames], path)
    return PoseSequence(
        keypoints, float(document["fps"]), source=document.get("video") or "",
        fingerprint=document.get("fingerprint", ""), frame_size=tuple(document.get("frame_size", (0, 0))),
        model_hash=document.get("model_hash", ""), start_frame=start,
    )  # fmt: skip


def _read_csv(path: Path) -> PoseSequence:
    lines = path.read_text(encoding="utf-8").splitlines()
    meta = {}
    for line in lines:
        if line.startswith("#") and ":" in line:
            key, _, value = line[1:].partition(":")
            meta[key.strip()] = value.strip()
    rows = list(csv.reader(line for line in lines if line and not line.startswith("#")))
    if not rows or tuple(rows[0]) != CSV_COLUMNS:
        raise PoseSequenceError(f"{path} is not a pose CSV: expected the columns {', '.join(CSV_COLUMNS[:5])}, ...")
    table = np.array([[float(cell) if cell else np.nan for cell in row] for row in rows[1:]], np.float64)
    table = table.reshape(len(rows) - 1, 2 + 3 * K)
    keypoints = table[:, 2:].reshape(-1, K, 3)
    keypoints[..., 2] = np.nan_to_num(keypoints[..., 2], nan=0.0)
    if "fps" in meta:
        fps = float(meta["fps"])
    elif len(table) >= 2:
        fps = 1.0 / float(np.median(np.diff(table[:, 1])))
    else:
        raise PoseSequenceError(f"{path} has no '# fps:' line and too few rows to work out the frame rate")
    width, _, height = meta.get("frame_size", "0x0").partition("x")
    return PoseSequence(
        keypoints, fps, source=meta.get("video", ""), fingerprint=meta.get("fingerprint", ""),
        frame_size=(int(width or 0), int(height or 0)), model_hash=meta.get("model_hash", ""),
        start_frame=_check_consecutive(table[:, 0].astype(np.int64).tolist(), path),
    )  # fmt: skip


def _check_consecutive(indices: list[int], path: Path) -> int:
    """The first frame index, after checking that the indices count up by one."""
    if indices and list(indices) != list(range(indices[0], indices[0] + len(indices))):
        raise PoseSequenceError(f"{path}: frame indices must be consecutive (one entry per decoded frame)")
    return int(indices[0]) if indices else 0


# ---- signal processing ------------------------------------------------------------------------------------------
def default_max_gap(fps: float) -> int:
    """Longest dropout (frames) filled by default: 0.2 s worth of frames, at least 1."""
    return max(1, int(round(0.2 * fps)))


def fill_gaps(keypoints: np.ndarray, max_gap: int, score_factor: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Linearly interpolate x, y over runs of at most ``max_gap`` missing frames with found frames on both sides.

    ``keypoints`` (T, K, 3) as in ``PoseSequence``. A filled joint gets score ``score_factor`` × the lower score of
    its two neighbours, so it stays visible but is recognisably less certain. Dropouts at the start or the end,
    or longer than ``max_gap``, stay missing. Returns (filled copy (T, K, 3) float32, filled mask (T, K) bool).
    """
    filled = np.array(keypoints, dtype=np.float32)
    was_filled = np.zeros(filled.shape[:2], dtype=bool)
    missing = np.isnan(filled[..., 0])
    for k in range(filled.shape[1]):
        edges = np.diff(np.concatenate(([0], missing[:, k].astype(np.int8), [0])))
        for first, end in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
            if first == 0 or end == len(filled) or end - first > max_gap:
                continue
            before, after = filled[first - 1, k], filled[end, k]
            weights = (np.arange(first, end) - (first - 1))[:, None] / (end - (first - 1))
            filled[first:end, k, :2] = (1 - weights) * before[:2] + weights * after[:2]
            filled[first:end, k, 2] = score_factor * min(before[2], after[2])
            was_filled[first:end, k] = True
    return filled, was_filled


def torso_lengths(xy: np.ndarray) -> np.ndarray:
    """(T,) distance l_shoulder → r_hip (LSP torso, ``skeleton.PCK_TORSO_PAIR``) per frame of ``xy`` (T, K, 2)."""
    a, b = PCK_TORSO_PAIR
    return np.linalg.norm(xy[:, a] - xy[:, b], axis=-1)


def _nanmedian(values: np.ndarray) -> float:
    """Median of the finite entries; NaN (without a warning) when there are none."""
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else float("nan")


def jitter_ratio(poses: PoseSequence | np.ndarray, start: int | None = None, stop: int | None = None) -> float:
    """Median frame-to-frame joint displacement / median torso length, over frames ``start:stop``.

    ``poses``: a ``PoseSequence`` or an array (T, K, 2 or 3) of x, y (, score). Only joints found in both frames of
    a step count. On a still segment, a value below 0.02 means the median joint moves less than 2 % of the torso
    length per frame. NaN when there are fewer than two frames or no torso.
    """
    keypoints = poses.keypoints if isinstance(poses, PoseSequence) else np.asarray(poses)
    xy = np.asarray(keypoints[slice(start, stop), :, :2], dtype=np.float64)
    if len(xy) < 2:
        return float("nan")
    steps = np.linalg.norm(np.diff(xy, axis=0), axis=-1)
    return _nanmedian(steps) / _nanmedian(torso_lengths(xy))
