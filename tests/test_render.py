"""Drawing the stickman, overlay videos and contact sheets (gymnast_pose.render), on generated frames and videos."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest
from helpers_video import BACKGROUND, make_test_video

from gymnast_pose.render import (
    CENTRE_COLOUR,
    LEFT_COLOUR,
    RIGHT_COLOUR,
    RenderError,
    contact_sheet,
    draw_stickman,
    iter_render_overlay_video,
    line_width,
    render_overlay_video,
    still_indices,
)
from gymnast_pose.sequence import PoseSequence
from gymnast_pose.skeleton import JOINT_INDEX, K
from gymnast_pose.track_types import AnalysisCancelled
from gymnast_pose.video import VideoSource

SIZE = (320, 240)
N_FRAMES = 8


def standing(width: int, height: int, score: float = 0.9) -> np.ndarray:
    """(K, 3) an upright figure filling the middle of a width x height frame, facing the camera."""
    fx = np.array([0.46, 0.46, 0.46, 0.54, 0.54, 0.54, 0.38, 0.40, 0.43, 0.57, 0.60, 0.62, 0.5, 0.5])
    fy = np.array([0.9, 0.7, 0.5, 0.5, 0.7, 0.9, 0.5, 0.38, 0.25, 0.25, 0.38, 0.5, 0.22, 0.1])
    return np.stack([fx * width, fy * height, np.full(K, score)], axis=1).astype(np.float32)


def colour_at(image: np.ndarray, xy) -> np.ndarray:
    x, y = (int(round(v)) for v in xy[:2])
    return image[y, x].astype(int)


def near(colour, expected, tolerance: int = 40) -> bool:
    return bool(np.all(np.abs(np.asarray(colour, int) - np.asarray(expected, int)) <= tolerance))


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return make_test_video(tmp_path_factory.mktemp("video") / "clip.mp4", N_FRAMES, 25.0, SIZE)


def poses_for(start: int = 0, n: int = N_FRAMES) -> PoseSequence:
    keypoints = np.repeat(standing(*SIZE)[None], n, axis=0)
    return PoseSequence(keypoints, 25.0, frame_size=SIZE, start_frame=start)


# ---- drawing ----------------------------------------------------------------------------------------------------
W, H = 1280, 960  # bones 3 px wide


def test_joints_are_coloured_by_the_athletes_side():
    image = np.zeros((H, W, 3), np.uint8)
    kp = standing(W, H)
    assert draw_stickman(image, kp) is image  # drawn in place
    assert near(colour_at(image, kp[JOINT_INDEX["r_knee"]]), RIGHT_COLOUR)
    assert near(colour_at(image, kp[JOINT_INDEX["l_knee"]]), LEFT_COLOUR)
    assert near(colour_at(image, kp[JOINT_INDEX["neck"]]), CENTRE_COLOUR)
    middle_of_right_shin = (kp[0] + kp[1]) / 2
    assert near(colour_at(image, middle_of_right_shin), RIGHT_COLOUR)
    middle_of_pelvis = (kp[2] + kp[3]) / 2  # a bone between the sides is white
    assert near(colour_at(image, middle_of_pelvis), CENTRE_COLOUR)


def test_unsure_joint_is_a_hollow_ring_with_faint_thin_bones():
    sure_image = draw_stickman(np.zeros((H, W, 3), np.uint8), standing(W, H))
    kp = standing(W, H)
    wrist, elbow = JOINT_INDEX["r_wrist"], JOINT_INDEX["r_elbow"]
    kp[wrist, 2] = 0.1
    image = draw_stickman(np.zeros((H, W, 3), np.uint8), kp, threshold=0.3)
    below_centre = kp[wrist, :2] + (0, 2)  # inside the ring, away from the forearm that comes from above
    assert near(colour_at(sure_image, below_centre), RIGHT_COLOUR)
    assert colour_at(image, below_centre).max() < 30  # the ring is hollow
    assert colour_at(image, kp[wrist]).max() < 0.6 * max(RIGHT_COLOUR)  # only the faint bone reaches its centre
    x, y = int(kp[wrist, 0]), int(kp[wrist, 1])
    ring = image[y - 8:y + 9, x - 8:x + 9]
    assert (ring[..., 0] > 150).sum() > 12  # but the ring is there
    forearm = (kp[wrist, :2] + kp[elbow, :2]) / 2
    faint, full = colour_at(image, forearm), colour_at(sure_image, forearm)
    assert faint.max() < 0.75 * full.max()  # half transparent
    x, y = int(forearm[0]), int(forearm[1])
    sure_width = (sure_image[y, x - 15:x + 16, 0] > 60).sum()
    faint_width = (image[y, x - 15:x + 16, 0] > 30).sum()
    assert 0 < faint_width < sure_width  # and thinner


def test_missing_joints_and_their_bones_are_not_drawn():
    kp = standing(W, H)
    head, neck = JOINT_INDEX["head_top"], JOINT_INDEX["neck"]
    kp[head, :2] = np.nan
    image = draw_stickman(np.zeros((H, W, 3), np.uint8), kp)
    reference = draw_stickman(np.zeros((H, W, 3), np.uint8), standing(W, H))
    head_bone = (standing(W, H)[head] + kp[neck]) / 2
    assert colour_at(reference, head_bone).max() > 200 and colour_at(image, head_bone).max() == 0
    assert colour_at(image, standing(W, H)[head]).max() == 0
    empty = np.zeros((100, 100, 3), np.uint8)
    assert not draw_stickman(empty, np.full((K, 3), np.nan)).any()


def test_line_widths_grow_with_the_frame():
    assert line_width((120, 160)) == 1 and line_width((1080, 1920)) == 3 and line_width((2160, 3840)) == 6

    def shin_width(w, h):
        image = draw_stickman(np.zeros((h, w, 3), np.uint8), standing(w, h))
        return int((image[int(0.8 * h), : w // 2, 0] > 100).sum())

    assert shin_width(1920, 1080) >= 2 * shin_width(320, 180)


def test_bad_input_shapes_are_rejected():
    with pytest.raises(ValueError, match="shape"):
        draw_stickman(np.zeros((10, 10, 3), np.uint8), np.zeros((K, 2)))
    with pytest.raises(ValueError, match="uint8"):
        draw_stickman(np.zeros((10, 10), np.uint8), np.zeros((K, 3)))


# ---- overlay videos ---------------------------------------------------------------------------------------------
def orange_pixels(image: np.ndarray) -> int:
    r, g, b = (image[..., c].astype(int) for c in range(3))
    return int(((r - b > 120) & (r > 180)).sum())


def test_overlay_video_has_every_frame_and_the_stickman_where_poses_exist(video, tmp_path):
    out = tmp_path / "overlay.mp4"
    calls = []
    result = render_overlay_video(video, poses_for(start=3, n=4), out, progress=lambda d, t: calls.append((d, t)))
    assert result == out and calls == [(i, N_FRAMES) for i in range(1, N_FRAMES + 1)]
    assert [p.name for p in tmp_path.iterdir()] == ["overlay.mp4"]  # no temporary file left
    with VideoSource(out) as rendered, VideoSource(video) as source:
        assert rendered.num_frames == source.num_frames == N_FRAMES
        assert rendered.size == SIZE and rendered.fps == pytest.approx(25.0)
        counts = [orange_pixels(rendered.frame(i)) for i in range(N_FRAMES)]
        assert orange_pixels(source.frame(3)) == 0
    assert all(c == 0 for c in counts[:3] + counts[7:]) and all(c > 20 for c in counts[3:7]), counts


def test_overlay_video_cancel_and_close_leave_nothing_behind(video, tmp_path):
    out = tmp_path / "overlay.mp4"
    out.write_bytes(b"the previous overlay")
    cancel = threading.Event()
    job = iter_render_overlay_video(video, poses_for(), out, cancel=cancel)
    next(job)
    cancel.set()
    with pytest.raises(AnalysisCancelled):
        next(job)
    job = iter_render_overlay_video(video, poses_for(), out)
    next(job)
    job.close()
    assert out.read_bytes() == b"the previous overlay"  # the old file survives both
    assert [p.name for p in tmp_path.iterdir()] == ["overlay.mp4"]


@pytest.mark.parametrize("target", ["missing/overlay.mp4", "file.txt/overlay.mp4", "."])
def test_overlay_video_to_an_unwritable_path_is_a_clear_error(video, tmp_path, target):
    (tmp_path / "file.txt").write_text("a file, not a folder")
    with pytest.raises(RenderError, match="Cannot write"):
        render_overlay_video(video, poses_for(), tmp_path / target)


def test_poses_of_another_video_are_refused(video, tmp_path):
    other = PoseSequence(np.zeros((N_FRAMES, K, 3)), 25.0, frame_size=(640, 480))
    with pytest.raises(RenderError, match="640x480"):
        render_overlay_video(video, other, tmp_path / "overlay.mp4")
    assert not any(tmp_path.iterdir())


# ---- contact sheets ---------------------------------------------------------------------------------------------
def test_still_indices_are_evenly_spread():
    assert still_indices(100, 5) == [0, 25, 50, 74, 99]
    assert still_indices(3, 10) == [0, 1, 2]
    assert still_indices(9, 1) == [4] and still_indices(0, 4) == []


def test_contact_sheet_is_a_png_grid_with_stickmen(video, tmp_path):
    out = contact_sheet(video, poses_for(), 4, tmp_path / "sheet.png", width=400)
    sheet = cv2.cvtColor(cv2.imread(str(out)), cv2.COLOR_BGR2RGB)
    assert out.name == "sheet.png" and sheet.shape[1] == 400
    assert [p.name for p in tmp_path.iterdir()] == ["sheet.png"]
    # 2 x 2 stills of 4:3 frames, each with a caption: taller than two stills, shorter than three
    cell = (400 - 5 * 4) // 2
    assert 2 * cell * 3 / 4 < sheet.shape[0] < 3 * cell * 3 / 4 + 100
    assert orange_pixels(sheet) > 4 * 10  # a stickman on every still
    grey = np.all(np.abs(sheet.astype(int) - BACKGROUND) < 12, axis=2).sum()
    assert grey > 0.3 * sheet.shape[0] * sheet.shape[1]  # the video frames themselves are there
    without = contact_sheet(video, poses_for(start=N_FRAMES), 4, tmp_path / "plain.png", width=400)
    as_jpeg = contact_sheet(video, poses_for(), 4, tmp_path / "sheet.jpg", width=400)
    assert as_jpeg.read_bytes()[:3] == b"\xff\xd8\xff" and out.read_bytes()[:4] == b"\x89PNG"
    assert orange_pixels(cv2.cvtColor(cv2.imread(str(without)), cv2.COLOR_BGR2RGB)) == 0
    with pytest.raises(RenderError, match="Cannot write"):
        contact_sheet(video, poses_for(), 4, tmp_path / "missing" / "sheet.png", width=400)
