"""Tests for gymnast_pose.video on small generated videos whose frames carry their index (see helpers_video)."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers_video import (
    ffmpeg_available,
    ffmpeg_command,
    make_non_video_file,
    make_test_video,
    read_index,
    truncated_copy,
)

from gymnast_pose.video import (
    EmptyVideoError,
    FrameIndexError,
    VideoError,
    VideoOpenError,
    VideoSource,
)

N_FRAMES = 90
FPS = 25.0
SIZE = (160, 96)  # (width, height), deliberately not square so a rotation mistake changes the shape
SHARED_VIDEOS = Path("/work/shared/data/videos")


@pytest.fixture(scope="module", params=["mp4", "avi"])
def clip(request, tmp_path_factory) -> Path:
    """A 90-frame test video: mp4v in .mp4 (with key frames and predicted frames) or MJPG in .avi."""
    folder = tmp_path_factory.mktemp(f"clip_{request.param}")
    return make_test_video(folder / f"indexed.{request.param}", n_frames=N_FRAMES, fps=FPS, size=SIZE)


def test_metadata_and_decoded_count(clip):
    with VideoSource(clip) as video:
        assert video.num_frames == len(video) == N_FRAMES
        assert video.fps == pytest.approx(FPS)
        assert video.size == SIZE and (video.width, video.height) == SIZE
        assert video.rotation_deg == 0
        assert video.duration_s == pytest.approx(N_FRAMES / FPS)
        assert video.presentation_times_s.shape == (N_FRAMES,)
        assert np.all(np.diff(video.presentation_times_s) > 0)
        assert video.frame_count_note is None


def test_sequential_frames_are_in_order_rgb_and_timed(clip):
    video = VideoSource(clip)
    frames = list(video)
    assert [f.index for f in frames] == list(range(N_FRAMES))
    assert [read_index(f.image) for f in frames] == list(range(N_FRAMES))
    assert all(f.time_s == pytest.approx(f.index / FPS) for f in frames)
    first = frames[0].image
    assert first.dtype == np.uint8 and first.shape == (SIZE[1], SIZE[0], 3)
    green_square = first[SIZE[1] - 10, 5]  # make_frame draws (40, 200, 90) in BGR order: RGB shows it reversed
    assert green_square[2] < 70 and green_square[1] > 170 and green_square[0] > 60


def test_frames_with_start_stop_and_step(clip):
    video = VideoSource(clip, max_forward_decode=2)
    chosen = list(video.frames(start=50, stop=80, step=7))
    assert [f.index for f in chosen] == [50, 57, 64, 71, 78]
    assert [read_index(f.image) for f in chosen] == [50, 57, 64, 71, 78]
    assert [f.index for f in video.frames(start=85)] == [85, 86, 87, 88, 89]
    assert list(video.frames(start=10, stop=10)) == [] and list(video.frames(start=N_FRAMES)) == []
    with pytest.raises(ValueError):
        list(video.frames(step=0))


@pytest.mark.parametrize("max_forward_decode", [2, 64])
def test_random_access_returns_exactly_the_requested_frame(clip, max_forward_decode):
    video = VideoSource(clip, max_forward_decode=max_forward_decode, cache_megabytes=0)  # cache of 2 frames
    backward = [60, 59, 40, 39, 5, 0]
    short_forward = [10, 11, 13, 20, 21]
    far_jumps = [89, 1, 88, 2, 45, 89, 0]
    shuffled = list(range(N_FRAMES))
    random.Random(7).shuffle(shuffled)
    for index in backward + short_forward + far_jumps + shuffled:
        assert read_index(video.frame(index)) == index, f"asked for frame {index}"


def test_random_access_matches_sequential_pixels(clip):
    video = VideoSource(clip, max_forward_decode=1, cache_megabytes=0)
    sequential = {f.index: f.image for f in video.frames()}
    for index in (77, 3, 50, 12, 89, 0):
        np.testing.assert_array_equal(video.frame(index), sequential[index])


class _LyingCapture:
    """Wraps a cv2.VideoCapture whose seeks land ``error`` frames away from the requested frame."""

    def __init__(self, capture, error: int):
        self._capture, self._error = capture, error

    def set(self, prop, value):
        if prop == cv2.CAP_PROP_POS_FRAMES:
            value = max(0, value + self._error)
        return self._capture.set(prop, value)

    def __getattr__(self, name):
        return getattr(self._capture, name)


@pytest.mark.parametrize("seek_error", [-7, -1, 1, 5, 30])
def test_inaccurate_seeks_are_detected_and_corrected(clip, seek_error):
    video = VideoSource(clip, max_forward_decode=1, cache_megabytes=0)
    video._decoder.capture = _LyingCapture(video._decoder.capture, seek_error)
    for index in (70, 20, 85, 3, 60, 40):
        assert read_index(video.frame(index)) == index


def test_cached_frames_are_read_only_and_out_of_range_is_clear(clip):
    video = VideoSource(clip)
    image = video.frame(30)
    assert video.frame(30) is image
    with pytest.raises(ValueError):
        image[0, 0, 0] = 1
    for bad in (-1, N_FRAMES, 10**6, 2.5):
        with pytest.raises(FrameIndexError, match="out of range") as caught:
            video.frame(bad)
        assert isinstance(caught.value, IndexError)


def test_fingerprint_is_stable_and_content_based(clip, tmp_path):
    first, second = VideoSource(clip).fingerprint, VideoSource(clip).fingerprint
    assert first == second and len(first) == 32
    other = make_test_video(tmp_path / f"other{clip.suffix}", n_frames=N_FRAMES - 1, fps=FPS, size=SIZE)
    assert VideoSource(other).fingerprint != first


# ---- bad input ------------------------------------------------------------------------------------------------
def test_missing_file(tmp_path):
    with pytest.raises(VideoOpenError, match="not found"):
        VideoSource(tmp_path / "nope.mp4")


def test_directory(tmp_path):
    with pytest.raises(VideoOpenError, match="folder"):
        VideoSource(tmp_path)


def test_text_file_renamed_to_mp4(tmp_path):
    with pytest.raises(VideoOpenError, match="could not be opened as a video"):
        VideoSource(make_non_video_file(tmp_path / "notes.mp4"))


def test_zero_byte_file(tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(EmptyVideoError, match="empty"):
        VideoSource(tmp_path / "empty.mp4")


@pytest.mark.parametrize("suffix", ["mp4", "avi"])
def test_video_without_frames(tmp_path, suffix):
    path = make_test_video(tmp_path / f"no_frames.{suffix}", n_frames=0)
    with pytest.raises(VideoError) as caught:
        VideoSource(path)
    assert str(path) in str(caught.value)


def test_truncated_avi_decodes_what_it_can_and_says_so(tmp_path):
    clip = make_test_video(tmp_path / "whole.avi", n_frames=N_FRAMES, fps=FPS, size=SIZE)
    cut = truncated_copy(clip, tmp_path / "cut.avi", keep_fraction=0.5)  # AVI readers cope without the index
    video = VideoSource(cut)
    assert 0 < video.num_frames < N_FRAMES
    assert [read_index(f.image) for f in video] == list(range(video.num_frames))
    assert read_index(video.frame(video.num_frames - 1)) == video.num_frames - 1
    if video.claimed_frame_count > video.num_frames:
        assert f"{video.num_frames} decode" in video.frame_count_note and "truncated" in video.frame_count_note


def test_truncated_mp4_is_a_clear_error_or_a_shorter_video(tmp_path):
    clip = make_test_video(tmp_path / "whole.mp4", n_frames=N_FRAMES, fps=FPS, size=SIZE)
    cut = truncated_copy(clip, tmp_path / "cut.mp4", keep_fraction=0.6)  # OpenCV writes the mp4 index last
    try:
        video = VideoSource(cut)
    except VideoError as error:
        assert "cut.mp4" in str(error) and "damaged" in str(error)
    else:
        assert video.num_frames < N_FRAMES
        assert [read_index(f.image) for f in video] == list(range(video.num_frames))


@pytest.mark.skipif(not ffmpeg_available(), reason="ffmpeg is needed to move the mp4 index to the front")
def test_truncated_streamable_mp4_decodes_fewer_frames_and_says_how_many(tmp_path):
    clip = make_test_video(tmp_path / "whole.mp4", n_frames=N_FRAMES, fps=FPS, size=SIZE)
    streamable = tmp_path / "streamable.mp4"
    command = [ffmpeg_command(), "-loglevel", "error", "-i", str(clip), "-c", "copy", "-movflags", "+faststart"]
    subprocess.run([*command, str(streamable)], check=True)
    video = VideoSource(truncated_copy(streamable, tmp_path / "cut.mp4", keep_fraction=0.6))
    n = video.num_frames
    assert 0 < n < N_FRAMES and video.claimed_frame_count == N_FRAMES
    assert f"claims {N_FRAMES} frames but {n} decode" in video.frame_count_note
    sequential = [f.image for f in VideoSource(video.path).frames()]
    assert len(sequential) == n
    # The last, cut-off frame may be an error-concealed copy of its predecessor; all before it are intact.
    assert [read_index(image) for image in sequential[:-1]] == list(range(n - 1))
    for index in (n - 1, 0, n - 2, n // 2):
        np.testing.assert_array_equal(video.frame(index), sequential[index])


# ---- rotation metadata ----------------------------------------------------------------------------------------
@pytest.mark.skipif(not ffmpeg_available(), reason="ffmpeg is needed to tag rotation metadata")
@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotated_video_comes_out_upright(tmp_path, rotation):
    path = make_test_video(tmp_path / f"rotated{rotation}.mp4", n_frames=40, fps=FPS, size=SIZE, rotation=rotation)
    reference_png = tmp_path / "ffmpeg_frame0.png"  # what ffmpeg's own player logic shows: the fixture is upright
    subprocess.run([ffmpeg_command(), "-loglevel", "error", "-i", str(path), "-frames:v", "1", str(reference_png)],
                   check=True)
    reference = cv2.imread(str(reference_png))
    assert reference.shape[:2] == (SIZE[1], SIZE[0]) and read_index(reference) == 0

    video = VideoSource(path, max_forward_decode=2)
    assert video.rotation_deg == rotation
    assert video.size == SIZE
    assert video.num_frames == 40
    for index in (0, 39, 5, 30, 12, 11, 38):
        image = video.frame(index)
        assert image.shape == (SIZE[1], SIZE[0], 3)
        assert read_index(image) == index
    assert [read_index(f.image) for f in video.frames(step=13)] == [0, 13, 26, 39]


# ---- real clips (skipped when the shared data is absent) ------------------------------------------------------
@pytest.mark.skipif(not SHARED_VIDEOS.is_dir(), reason="shared videos not available")
def test_real_clip_random_access_matches_sequential_decoding():
    path = SHARED_VIDEOS / "running" / "outdoor_run.mp4"  # the smallest clip: 480×352, under 50 frames
    if not path.is_file():
        pytest.skip(f"{path} not available")
    video = VideoSource(path, max_forward_decode=2, cache_megabytes=0)
    sequential = [f.image for f in VideoSource(path).frames()]
    assert video.num_frames == len(sequential) > 0
    assert video.size == (sequential[0].shape[1], sequential[0].shape[0])
    for index in (video.num_frames - 1, 3, 30, 29, 0, 17):
        np.testing.assert_array_equal(video.frame(index), sequential[index])
