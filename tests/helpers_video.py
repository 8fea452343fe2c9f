"""Small generated test videos whose frames carry their own index, for any test that reads video.

Each frame shows a grey background, a square that moves with the frame index (so the codec has real motion to
encode) and, in the top-left corner, the frame index as a 2 × 8 grid of black/white blocks of ``BLOCK`` pixels:
two sync blocks (white, black) and then 14 index bits, least significant first. The blocks are large and
saturated, so they survive lossy codecs (mp4v, MJPG) and ``read_index`` recovers the index from any decoded frame;
a frame that is rotated or mirrored by mistake fails the sync check instead of giving a wrong number.

Usage: ``from helpers_video import make_test_video, read_index`` (pytest puts ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np

BLOCK = 12  # side of one pattern block, pixels
GRID_COLUMNS, GRID_ROWS = 8, 2
SYNC_BITS = (1, 0)
INDEX_BITS = GRID_COLUMNS * GRID_ROWS - len(SYNC_BITS)  # 14 bits: indices 0 .. 16383
BACKGROUND = 110
_PRE_ROTATION = {90: cv2.ROTATE_90_COUNTERCLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_CLOCKWISE}


def ffmpeg_command() -> str | None:
    """The ``ffmpeg`` program (needed only to tag rotation metadata and to rewrite containers): the one on the PATH,
    else the static build of the ``imageio-ffmpeg`` package (a test extra, so CI has it), else None."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError:
        return None


def ffmpeg_available() -> bool:
    return ffmpeg_command() is not None


def _pattern_bits(index: int) -> list[int]:
    return [*SYNC_BITS, *((index >> b) & 1 for b in range(INDEX_BITS))]


def draw_index(image: np.ndarray, index: int) -> np.ndarray:
    """Draw ``index`` as the block pattern into the top-left corner of ``image`` (H, W, 3) uint8, in place."""
    if not 0 <= index < 2**INDEX_BITS:
        raise ValueError(f"index {index} does not fit in {INDEX_BITS} bits")
    for slot, bit in enumerate(_pattern_bits(index)):
        row, col = divmod(slot, GRID_COLUMNS)
        image[row * BLOCK : (row + 1) * BLOCK, col * BLOCK : (col + 1) * BLOCK] = 255 if bit else 0
    return image


def read_index(image: np.ndarray) -> int:
    """The index drawn by ``draw_index`` into ``image`` (H, W, 3) uint8; ValueError if the sync blocks are wrong."""
    grey = image.astype(np.float32).mean(axis=2)
    margin = BLOCK // 4
    bits = []
    for slot in range(GRID_COLUMNS * GRID_ROWS):
        row, col = divmod(slot, GRID_COLUMNS)
        top, left = row * BLOCK + margin, col * BLOCK + margin
        inner = grey[top : top + BLOCK - 2 * margin, left : left + BLOCK - 2 * margin]
        mean = float(inner.mean())
        if 70 < mean < 185:  # neither black nor white: no pattern here
            raise ValueError(f"no index pattern in this frame (block {slot} has mean grey {mean:.0f})")
        bits.append(int(mean > 127))
    if tuple(bits[: len(SYNC_BITS)]) != SYNC_BITS:
        raise ValueError("index pattern sync blocks are wrong: frame rotated, mirrored or damaged")
    return sum(bit << b for b, bit in enumerate(bits[len(SYNC_BITS) :]))


def make_frame(index: int, size: tuple[int, int], draw_pattern: bool = True) -> np.ndarray:
    """One upright test frame, (height, width, 3) uint8 for ``size`` = (width, height)."""
    width, height = size
    image = np.full((height, width, 3), BACKGROUND, np.uint8)
    side = max(8, min(width, height) // 6)
    x = (index * 7) % max(1, width - side)
    y = max(GRID_ROWS * BLOCK, height - side - (index * 3) % max(1, height // 3))
    image[y : y + side, x : x + side] = (40, 200, 90)
    image[-4:, :] = (index * 37) % 256  # a changing strip, so that even a still pattern yields distinct frames
    return draw_index(image, index) if draw_pattern else image


def make_test_video(
    path: str | Path,
    n_frames: int = 30,
    fps: float = 25.0,
    size: tuple[int, int] = (160, 120),
    draw_index: bool = True,
    rotation: int | None = None,
    codec: str | None = None,
) -> Path:
    """Write a test video and return its path.

    ``size`` is the upright (width, height). The codec follows the suffix unless given: ``.avi`` → MJPG,
    anything else → mp4v. ``rotation`` (90, 180 or 270) is the clockwise display rotation a player must apply,
    as reported by OpenCV's ``CAP_PROP_ORIENTATION_META``: the stored frames are turned the other way and the
    container is tagged with ffmpeg, so the upright picture is what a correct reader shows. Rotation needs the
    ``ffmpeg`` command (check ``ffmpeg_available()``); a ``RuntimeError`` says if it is missing or misbehaves.
    """
    path = Path(path)
    rotation = (rotation or 0) % 360
    if rotation not in (0, 90, 180, 270):
        raise ValueError(f"rotation must be 0, 90, 180 or 270, got {rotation}")
    if rotation and not ffmpeg_available():
        raise RuntimeError("make_test_video(rotation=...) needs the ffmpeg command, which is not installed")
    fourcc = codec or ("MJPG" if path.suffix.lower() == ".avi" else "mp4v")
    plain_path = path.with_name(path.stem + ".unrotated" + path.suffix) if rotation else path
    stored_size = size[::-1] if rotation in (90, 270) else size
    writer = cv2.VideoWriter(str(plain_path), cv2.VideoWriter_fourcc(*fourcc), fps, stored_size)
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {fourcc} video to {plain_path}")
    try:
        for i in range(n_frames):
            frame = make_frame(i, size, draw_index)
            writer.write(cv2.rotate(frame, _PRE_ROTATION[rotation]) if rotation else frame)
    finally:
        writer.release()
    if rotation:
        _tag_rotation(plain_path, path, rotation)
        plain_path.unlink()
    return path


def _tag_rotation(source: Path, target: Path, rotation: int) -> None:
    """Copy ``source`` to ``target`` with display-rotation metadata so OpenCV reports ``rotation`` clockwise."""
    anticlockwise = (360 - rotation) % 360  # both ffmpeg options below are read as anticlockwise degrees
    attempts = (
        [ffmpeg_command(), "-y", "-loglevel", "error", "-display_rotation", str(anticlockwise), "-i", str(source)],
        [ffmpeg_command(), "-y", "-loglevel", "error", "-i", str(source), "-metadata:s:v", f"rotate={anticlockwise}"],
    )
    for command in attempts:
        done = subprocess.run([*command, "-c", "copy", str(target)], capture_output=True, text=True)
        if done.returncode != 0 or not target.exists():
            continue
        capture = cv2.VideoCapture(str(target), cv2.CAP_FFMPEG)
        reported = int(capture.get(cv2.CAP_PROP_ORIENTATION_META)) % 360
        capture.release()
        if reported == rotation:
            return
    raise RuntimeError(f"ffmpeg could not tag {target} with a {rotation} degree display rotation")


def make_non_video_file(path: str | Path) -> Path:
    """A text file with a video suffix."""
    path = Path(path)
    path.write_text("This is not a video, just text with a video file name.\n" * 20)
    return path


def truncated_copy(source: str | Path, target: str | Path, keep_fraction: float) -> Path:
    """Copy the first ``keep_fraction`` of the bytes of ``source`` to ``target`` (an interrupted download)."""
    data = Path(source).read_bytes()
    Path(target).write_bytes(data[: int(len(data) * keep_fraction)])
    return Path(target)
