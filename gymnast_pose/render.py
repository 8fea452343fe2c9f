"""Pictures of the analysis: the athlete's stickman drawn on video frames, overlay videos and contact sheets.

No Qt here: everything is drawn with OpenCV on RGB ``uint8`` arrays of shape (H, W, 3) (the ``VideoSource``
convention: upright frames, origin top-left, x right, y down). Keypoints are (K, 3) rows of x, y, score in those
pixels (``PoseSequence`` convention: a missing joint is x = y = NaN, score 0); K = ``skeleton.K`` = 14 (LSP order).

How the stickman looks (the same conventions as the app's video view):

* bones between ``skeleton.EDGES``; joints coloured by the athlete's *own* side: right orange, left blue, neck
  and head white; a bone between two sides (pelvis, shoulders) is white;
* a joint scored below ``threshold`` (default 0.3) is a *guess*: it is drawn as a hollow ring, and every bone
  touching it is thin and half transparent, so a coach does not read it as a measurement;
* line widths and joint radii grow with the picture (``line_width``), so a stickman reads the same on a phone clip
  and on a 4K video.

``render_overlay_video`` writes the video with the stickman on every frame as an mp4 (``mp4v``);
``contact_sheet`` writes a PNG grid of evenly spaced stills with the stickman and each still's time. Both write a
temporary file next to the target and move it into place (``os.replace``), so a failed or cancelled run never
leaves a half-written file behind; an unwritable target is a ``RenderError`` with a clear message.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from gymnast_pose.files import temporary_next_to
from gymnast_pose.jobs import run_to_end
from gymnast_pose.sequence import PoseSequence
from gymnast_pose.skeleton import EDGES, JOINT_SIDE, K
from gymnast_pose.track_types import AnalysisCancelled, Cancel, is_cancelled
from gymnast_pose.video import VideoSource

RIGHT_COLOUR = (255, 120, 40)  # RGB, as in gui/video_view.py
LEFT_COLOUR = (50, 160, 255)
CENTRE_COLOUR = (245, 245, 245)
SIDE_COLOURS = {"right": RIGHT_COLOUR, "left": LEFT_COLOUR, "centre": CENTRE_COLOUR}
OUTLINE_COLOUR = (20, 20, 20)
SHEET_BACKGROUND = (28, 28, 30)
CAPTION_COLOUR = (235, 235, 235)
DEFAULT_THRESHOLD = 0.3
_SHIFT = 4  # OpenCV fixed-point bits: sub-pixel positions for anti-aliased drawing
_FONT = cv2.FONT_HERSHEY_SIMPLEX


class RenderError(ValueError):
    """A picture or video that cannot be written (unwritable path, no encoder, mismatching poses); for the user."""


@dataclass(frozen=True)
class RenderProgress:
    """``done`` of ``total`` frames written to the overlay video."""

    done: int
    total: int


# ---- drawing ----------------------------------------------------------------------------------------------------
def line_width(shape: tuple[int, ...]) -> int:
    """Bone width in pixels for an image of shape (H, W, ...): 1 px up to about 360 px short side, 3 px at 1080."""
    return max(1, int(round(min(shape[0], shape[1]) / 360)))


def _fixed(point: np.ndarray, limit: float) -> tuple[int, int]:
    """(x, y) float pixels -> OpenCV fixed-point integers, clipped so far-away points cannot overflow."""
    x, y = np.clip(point, -limit, limit)
    return int(round(x * (1 << _SHIFT))), int(round(y * (1 << _SHIFT)))


def bone_colour(a: int, b: int) -> tuple[int, int, int]:
    """RGB colour of the bone between joints ``a`` and ``b``: their side, or the centre colour across sides."""
    side = JOINT_SIDE[a] if JOINT_SIDE[a] == JOINT_SIDE[b] else "centre"
    return SIDE_COLOURS[side]


def draw_stickman(image: np.ndarray, keypoints: np.ndarray, threshold: float = DEFAULT_THRESHOLD,
                  width: int | None = None) -> np.ndarray:
    """Draw the stickman of ``keypoints`` (K, 3) x, y, score into ``image`` (H, W, 3) uint8 RGB, in place.

    Joints with NaN coordinates are left out with their bones; joints scored below ``threshold`` are hollow rings
    with thin, half-transparent bones (see the module docstring). ``width`` overrides ``line_width(image.shape)``.
    Returns ``image``.
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.shape != (K, 3):
        raise ValueError(f"keypoints must have shape ({K}, 3), got {kp.shape}")
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8, got {image.shape} {image.dtype}")
    found = np.isfinite(kp[:, :2]).all(axis=1)
    if not found.any():
        return image
    sure = found & (kp[:, 2] >= threshold)
    width = width or line_width(image.shape)
    limit = 4.0 * max(image.shape[:2])
    points = [_fixed(p, limit) if ok else None for p, ok in zip(kp[:, :2], found)]
    unsure_bones = [(a, b) for a, b in EDGES if found[a] and found[b] and not (sure[a] and sure[b])]
    if unsure_bones:  # faint: drawn on a copy of the region they cover, then blended half-and-half
        xy = kp[found, :2]
        x0, y0 = np.clip(np.floor(xy.min(axis=0)) - 2 * width, 0, None).astype(int)
        x1, y1 = (np.ceil(xy.max(axis=0)) + 2 * width + 1).astype(int)
        x1, y1 = min(x1, image.shape[1]), min(y1, image.shape[0])
        if x1 > x0 and y1 > y0:
            region = image[y0:y1, x0:x1]
            layer = region.copy()
            offset = np.array([x0, y0]) * (1 << _SHIFT)
            thin = max(1, width // 2)
            for a, b in unsure_bones:
                pa = (points[a][0] - int(offset[0]), points[a][1] - int(offset[1]))
                pb = (points[b][0] - int(offset[0]), points[b][1] - int(offset[1]))
                cv2.line(layer, pa, pb, bone_colour(a, b), thin, cv2.LINE_AA, _SHIFT)
            cv2.addWeighted(layer, 0.5, region, 0.5, 0.0, dst=region)
    for a, b in EDGES:
        if sure[a] and sure[b]:
            cv2.line(image, points[a], points[b], bone_colour(a, b), width, cv2.LINE_AA, _SHIFT)
    radius = (width + 2) << _SHIFT
    for k in range(K):
        if not found[k]:
            continue
        colour = SIDE_COLOURS[JOINT_SIDE[k]]
        if sure[k]:
            cv2.circle(image, points[k], radius + (1 << _SHIFT), OUTLINE_COLOUR, -1, cv2.LINE_AA, _SHIFT)
            cv2.circle(image, points[k], radius, colour, -1, cv2.LINE_AA, _SHIFT)
        else:  # a guess: a hollow ring
            cv2.circle(image, points[k], radius, colour, max(1, width // 2), cv2.LINE_AA, _SHIFT)
    return image


def render_frame(image: np.ndarray, keypoints: np.ndarray | None, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """A copy of ``image`` (H, W, 3) uint8 RGB with the stickman of ``keypoints`` (K, 3) drawn (None: no pose)."""
    out = np.array(image, dtype=np.uint8, copy=True)
    return out if keypoints is None else draw_stickman(out, keypoints, threshold)


def _pose_at(poses: PoseSequence, frame_index: int) -> np.ndarray | None:
    """The (K, 3) keypoints of video frame ``frame_index``, or None if ``poses`` does not cover it."""
    row = frame_index - poses.start_frame
    return poses.keypoints[row] if 0 <= row < poses.num_frames else None


def _check_size(poses: PoseSequence, video: VideoSource) -> None:
    if poses.frame_size != (0, 0) and tuple(poses.frame_size) != tuple(video.size):
        pw, ph = poses.frame_size
        raise RenderError(f"These poses were measured on a {pw}x{ph} video, but {video.path.name} is "
                          f"{video.width}x{video.height}: they belong to another video")


# ---- files ------------------------------------------------------------------------------------------------------
def _temporary_next_to(path: Path) -> Path:
    """An empty temporary file in ``path``'s folder with the same suffix (the writers pick the format by it)."""
    if path.is_dir():
        raise RenderError(f"Cannot write {path}: it is a folder")
    if not path.parent.is_dir():
        raise RenderError(f"Cannot write {path}: the folder {path.parent} does not exist")
    try:
        fd, name = temporary_next_to(path, f".{path.stem}.", path.suffix)
    except OSError as exc:
        raise RenderError(f"Cannot write {path}: {exc.strerror or exc}") from None
    os.close(fd)
    return Path(name)


def _move_into_place(temporary: Path, path: Path) -> None:
    try:
        os.replace(temporary, path)
    except OSError as exc:
        raise RenderError(f"Cannot write {path}: {exc.strerror or exc}") from None


def iter_render_overlay_video(video_path, poses: PoseSequence, out_path, threshold: float = DEFAULT_THRESHOLD,
                              cancel: Cancel = None) -> Generator[RenderProgress, None, Path]:
    """Write ``video_path`` with the stickman of ``poses`` on every frame to ``out_path`` (mp4, ``mp4v``).

    Row t of ``poses`` is drawn on video frame ``poses.start_frame + t``; frames it does not cover are copied
    unchanged. Same size, frame rate and number of frames as the decoded video. Yields ``RenderProgress`` after
    every frame and returns the path. Closing the generator or setting ``cancel`` (``AnalysisCancelled``) stops the
    work and removes the temporary file; ``out_path`` is only replaced once the whole video is written.
    """
    out_path = Path(out_path)
    with VideoSource(video_path) as video:
        _check_size(poses, video)
        total = video.num_frames
        temporary = _temporary_next_to(out_path)
        writer = None
        try:
            writer = cv2.VideoWriter(str(temporary), cv2.VideoWriter_fourcc(*"mp4v"), float(video.fps), video.size)
            if not writer.isOpened():
                raise RenderError(f"Cannot write {out_path}: OpenCV has no mp4v encoder for this file type "
                                  "(use a .mp4 file name)")
            done = 0
            for frame in video.frames():
                if is_cancelled(cancel):
                    raise AnalysisCancelled("The rendering was cancelled")
                picture = render_frame(frame.image, _pose_at(poses, frame.index), threshold)
                writer.write(cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
                done += 1
                yield RenderProgress(done, total)
            writer.release()
            writer = None
            if done == 0 or temporary.stat().st_size == 0:
                raise RenderError(f"Cannot write {out_path}: the encoder produced no video")
            _move_into_place(temporary, out_path)
        finally:
            if writer is not None:
                writer.release()
            temporary.unlink(missing_ok=True)
    return out_path


def render_overlay_video(video_path, poses: PoseSequence, out_path,
                         progress: Callable[[int, int], object] | None = None, cancel: Cancel = None,
                         threshold: float = DEFAULT_THRESHOLD) -> Path:
    """``iter_render_overlay_video`` run to the end; ``progress(done, total)`` is called after every frame."""
    return run_to_end(iter_render_overlay_video(video_path, poses, out_path, threshold, cancel), progress)


def still_indices(num_frames: int, n_stills: int) -> list[int]:
    """``n_stills`` frame indices spread evenly from the first to the last frame (fewer if the video is short)."""
    if num_frames <= 0 or n_stills <= 0:
        return []
    if n_stills == 1:
        return [num_frames // 2]
    return sorted({int(round(v)) for v in np.linspace(0, num_frames - 1, n_stills)})


def _put_text(image: np.ndarray, text: str, origin: tuple[int, int], height_px: float,
              colour=CAPTION_COLOUR) -> None:
    """ASCII ``text`` with its baseline at ``origin``, about ``height_px`` tall."""
    scale = max(0.3, height_px / 22.0)
    cv2.putText(image, text, origin, _FONT, scale, colour, max(1, int(round(scale * 1.5))), cv2.LINE_AA)


def contact_sheet(video_path, poses: PoseSequence, n_stills: int, out_path, width: int = 1200,
                  threshold: float = DEFAULT_THRESHOLD, columns: int | None = None, title: str | None = None) -> Path:
    """Write ``contact_sheet_image(...)`` to ``out_path`` (PNG, or JPEG for .jpg/.jpeg; atomically), return it."""
    sheet = contact_sheet_image(video_path, poses, n_stills, width, threshold, columns, title)
    return write_picture(sheet, out_path)


def contact_sheet_image(video_path, poses: PoseSequence, n_stills: int = 6, width: int = 1200,
                        threshold: float = DEFAULT_THRESHOLD, columns: int | None = None, title: str | None = None
                        ) -> np.ndarray:
    """A grid of ``n_stills`` evenly spaced frames of the video with the stickman drawn and each frame's time.

    Layout: ``columns`` stills per row (default ceil(sqrt(n))), each scaled to fit ``width`` pixels in all, the
    caption "t = 1.23 s  (frame 37)" under each (time = frame / fps); a title line above (default: the video's
    file name and the colour legend). The stickman is drawn on the scaled still, so lines suit its size.
    Returns the sheet, (H, width, 3) uint8 RGB.
    """
    if n_stills < 1 or width < 64:
        raise ValueError("a contact sheet needs at least one still and a width of at least 64 pixels")
    with VideoSource(video_path) as video:
        _check_size(poses, video)
        indices = still_indices(video.num_frames, n_stills)
        columns = max(1, min(columns or math.ceil(math.sqrt(len(indices))), len(indices)))
        rows = math.ceil(len(indices) / columns)
        gap = max(4, width // 150)
        cell_w = (width - gap * (columns + 1)) // columns
        scale = cell_w / video.width
        cell_h = max(1, int(round(video.height * scale)))
        caption_h = max(14, int(round(0.09 * min(cell_w, 2 * cell_h))))
        title_h = caption_h + 2 * gap
        sheet = np.empty((title_h + rows * (cell_h + caption_h + gap) + gap, width, 3), np.uint8)
        sheet[:] = SHEET_BACKGROUND
        name = video.path.name.encode("ascii", "replace").decode()
        _put_text(sheet, title or f"{name}   orange = right, blue = left, white = centre, ring = unsure",
                  (gap, gap + int(caption_h * 0.85)), caption_h * 0.7)
        for n, index in enumerate(indices):
            row, col = divmod(n, columns)
            x0, y0 = gap + col * (cell_w + gap), title_h + row * (cell_h + caption_h + gap)
            still = cv2.resize(video.frame(index), (cell_w, cell_h), interpolation=cv2.INTER_AREA)
            keypoints = _pose_at(poses, index)
            if keypoints is not None:
                scaled = keypoints.astype(np.float64).copy()
                scaled[:, :2] *= (cell_w / video.width, cell_h / video.height)
                draw_stickman(still, scaled, threshold)
            sheet[y0:y0 + cell_h, x0:x0 + cell_w] = still
            _put_text(sheet, f"t = {video.time_of(index):.2f} s  (frame {index})",
                      (x0 + 2, y0 + cell_h + int(caption_h * 0.78)), caption_h * 0.62)
    return sheet


def write_picture(image: np.ndarray, path, jpeg_quality: int = 85) -> Path:
    """Write ``image`` (H, W, 3) uint8 RGB at ``path``, atomically: JPEG for a .jpg/.jpeg suffix, else PNG;
    ``RenderError`` if it cannot."""
    path = Path(path)
    jpeg = path.suffix.lower() in (".jpg", ".jpeg")
    params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)] if jpeg else []
    ok, data = cv2.imencode(".jpg" if jpeg else ".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise RenderError(f"Cannot encode the picture for {path}")
    temporary = _temporary_next_to(path)
    try:
        temporary.write_bytes(data.tobytes())
        _move_into_place(temporary, path)
    except OSError as exc:
        raise RenderError(f"Cannot write {path}: {exc.strerror or exc}") from None
    finally:
        temporary.unlink(missing_ok=True)
    return path
