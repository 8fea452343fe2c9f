"""PoseEstimator on generated videos: shapes and conventions, progress, cancellation, seed boxes, parse_box.

Two predictors: the tiny random-weights checkpoint (the real network path, arbitrary output) and
``CentredFigurePredictor``, which "sees" an upright person in the middle of every crop, so tracking is
deterministic and the athlete is found in every frame.
"""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest
from helpers_video import make_test_video
from model_fixtures import write_tiny_model

from gymnast_pose.analysis import AnalysisOptions, iter_analyze_video
from gymnast_pose.estimator import EstimatorConfig, PoseEstimator
from gymnast_pose.inference import Region
from gymnast_pose.skeleton import K
from gymnast_pose.track_types import AnalysisCancelled, SeedBox, parse_box
from gymnast_pose.video import VideoSource

N_FRAMES = 10
SIZE = (160, 120)

# An upright standing figure as fractions of the crop side, in LSP order; its extent (0.556) x crop_scale (1.8) is
# the crop side, so the tracker keeps the crop size.
FIGURE = np.array([
    [0.46, 0.778], [0.46, 0.66], [0.46, 0.55], [0.54, 0.55], [0.54, 0.66], [0.54, 0.778],
    [0.41, 0.55], [0.42, 0.45], [0.44, 0.35], [0.56, 0.35], [0.58, 0.45], [0.59, 0.55],
    [0.5, 0.33], [0.5, 0.222],
])  # fmt: skip


class CentredFigurePredictor:
    """Stands in for ``PosePredictor``: every crop holds ``FIGURE`` centred, every joint scored ``score``."""

    def __init__(self, input_size: int = 64, score: float = 0.9):
        self.input_size, self.device, self.model_hash, self.score = input_size, "cpu", "centred-figure", score
        self.crops_seen = 0
        self.calls: list[tuple[int, bool | None]] = []  # (crops, flip) of every call

    def predict_crops(self, crops: np.ndarray, window=None, flip=None) -> tuple[np.ndarray, np.ndarray]:
        n, s = len(crops), self.input_size
        self.crops_seen += n
        self.calls.append((n, flip))
        xy = np.broadcast_to((FIGURE - 0.5) * s + (s - 1) / 2, (n, K, 2)).astype(np.float32)
        return xy.copy(), np.full((n, K), self.score, np.float32)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return write_tiny_model(tmp_path_factory.mktemp("model") / "tiny.pt")


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return make_test_video(tmp_path_factory.mktemp("video") / "clip.mp4", N_FRAMES, 25.0, SIZE)


@pytest.fixture(scope="module")
def wide_video(tmp_path_factory):
    """A bigger clip for the deterministic tracking tests."""
    return make_test_video(tmp_path_factory.mktemp("video") / "wide.mp4", N_FRAMES, 25.0, (320, 240))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("GYMNAST_POSE_CACHE_DIR", str(folder))
    return folder


def test_tiny_model_result_shapes_and_missing_convention(tiny_model, video):
    estimator = PoseEstimator.from_model(tiny_model, device="cpu")
    with VideoSource(video) as source:
        result = estimator.track(source)
    assert result.keypoints.shape == (N_FRAMES, K, 3) and result.keypoints.dtype == np.float32
    assert result.regions.shape == (N_FRAMES, 4) and result.found.shape == (N_FRAMES,)
    kp = result.keypoints
    missing = np.isnan(kp[..., 0])
    assert np.array_equal(missing, np.isnan(kp[..., 1]))
    assert np.all(kp[..., 2][missing] == 0.0)  # a missing joint is NaN, NaN, 0
    assert np.all(kp[..., 2][~missing] >= estimator.config.joint_floor)
    assert result.crops > 0 and estimator.model_hash


def test_progress_counts_every_frame_once(tiny_model, video):
    estimator = PoseEstimator.from_model(tiny_model, device="cpu")
    with VideoSource(video) as source:
        steps = list(estimator.iter_track(source))
    assert [s.done for s in steps] == list(range(1, N_FRAMES + 1))
    assert all(s.total == N_FRAMES for s in steps)
    assert sorted(s.frame_index for s in steps) == list(range(N_FRAMES))


def test_centred_figure_is_found_in_every_frame(wide_video):
    predictor = CentredFigurePredictor()
    with VideoSource(wide_video) as source:
        result = PoseEstimator(predictor).track(source)
    assert result.found.all() and np.isfinite(result.keypoints[..., :2]).all()
    np.testing.assert_allclose(result.keypoints[..., 2], 0.9, atol=1e-6)
    # joints stay in the right places relative to each other: head above the neck above the ankles, right of left
    xy = result.keypoints[..., :2]
    assert np.all(xy[:, 13, 1] < xy[:, 12, 1]) and np.all(xy[:, 12, 1] < xy[:, 0, 1])
    assert np.all(xy[:, 0, 0] < xy[:, 5, 0])


def test_seed_box_on_middle_frame_tracks_both_ways_and_covers_every_frame(wide_video):
    seed = SeedBox(200, 60, 60, 120, frame=4)
    with VideoSource(wide_video) as source:
        gen = PoseEstimator(CentredFigurePredictor()).iter_track(source, seed)
        order = []
        while True:
            try:
                order.append(next(gen).frame_index)
            except StopIteration as stop:
                result = stop.value
                break
    assert order == [4, 5, 6, 7, 8, 9, 3, 2, 1, 0]  # the seed frame, forwards to the end, backwards to the start
    assert result.found.all() and np.isfinite(result.keypoints[..., :2]).all()
    # the athlete followed is the one in the box: the seed frame's pose is centred on the box
    centre = np.nanmean(result.keypoints[4, :, :2], axis=0)
    assert abs(centre[0] - 230) < 10 and abs(centre[1] - 120) < 15
    # and, since nothing moves, every other frame stays there too
    centres = np.nanmean(result.keypoints[..., :2], axis=1)
    assert np.all(np.abs(centres - centre) < 10)


def test_seed_box_outside_the_video_is_a_clear_error(wide_video):
    with VideoSource(wide_video) as source:
        with pytest.raises(ValueError, match="frame 99"):
            PoseEstimator(CentredFigurePredictor()).track(source, SeedBox(10, 10, 50, 50, frame=99))


def test_cancel_event_stops_the_track(wide_video):
    cancel = threading.Event()
    with VideoSource(wide_video) as source:
        gen = PoseEstimator(CentredFigurePredictor()).iter_track(source, cancel=cancel)
        next(gen)
        next(gen)
        cancel.set()
        with pytest.raises(AnalysisCancelled):
            next(gen)


def test_cancelled_analysis_caches_nothing_and_a_full_one_does(tiny_model, video, cache):
    estimator = PoseEstimator.from_model(tiny_model, device="cpu")
    cancel = threading.Event()
    job = iter_analyze_video(video, AnalysisOptions(), cancel, estimator)
    seen = [next(job), next(job)]
    cancel.set()
    with pytest.raises(AnalysisCancelled):
        for step in job:
            seen.append(step)
    assert len(seen) < N_FRAMES
    assert not cache.exists() or not any(cache.iterdir())
    job = iter_analyze_video(video, AnalysisOptions(), None, estimator)  # the same, not cancelled: one cache file
    steps = list(job)
    assert steps[-1].done == N_FRAMES and not steps[-1].cached
    assert [p.suffix for p in cache.iterdir()] == [".npz"]


@pytest.mark.parametrize("text, expected", [
    ("10,20,30,40@5", SeedBox(10, 20, 30, 40, 5)),
    ("10,20,30,40", SeedBox(10, 20, 30, 40, 0)),
    (" 1.5, 2 ,3e2,4 @ 7 ", SeedBox(1.5, 2, 300, 4, 7)),
    ("-5,-6,30,40@0", SeedBox(-5, -6, 30, 40, 0)),
])  # fmt: skip
def test_parse_box(text, expected):
    assert parse_box(text) == expected


@pytest.mark.parametrize("text, message", [
    ("1,2,3", "x,y,w,h@frame"),
    ("a,b,c,d", "x,y,w,h@frame"),
    ("1,2,3,4@x", "x,y,w,h@frame"),
    ("1,2,3,4@-1", "x,y,w,h@frame"),
    ("1,2,3,4,5", "x,y,w,h@frame"),
    ("1,2,0,4", "positive width and height"),
    ("1,2,3,-4", "positive width and height"),
    ("nan,2,3,4", "positive width and height"),
])  # fmt: skip
def test_parse_box_errors(text, message):
    with pytest.raises(ValueError, match=message):
        parse_box(text)


def test_blank_frames_hold_nobody_and_keep_the_track():
    from types import SimpleNamespace

    from helpers_video import make_frame

    from gymnast_pose.tracking import is_blank

    black = np.zeros((240, 320, 3), np.uint8)
    title = black.copy()
    title[200:204, 20:120] = 255  # a thin line of white text on a black card (0.5 % of the pixels)
    images = [make_frame(i, (320, 240), True) for i in range(4)] + [black, title] + \
        [make_frame(i, (320, 240), True) for i in range(6, 10)]
    assert is_blank(black) and is_blank(title) and not is_blank(images[0])
    assert not is_blank(np.clip(images[0].astype(int) // 4, 0, 255).astype(np.uint8))  # a very dark shot is not

    class Reader:
        num_frames = len(images)

        def frames(self, start=0, stop=None):
            for i in range(start, len(images) if stop is None else stop):
                yield SimpleNamespace(index=i, image=images[i])

    result = PoseEstimator(CentredFigurePredictor()).track(Reader())
    assert result.found.tolist() == [True] * 4 + [False] * 2 + [True] * 4
    assert np.isnan(result.keypoints[4:6, :, :2]).all() and (result.keypoints[4:6, :, 2] == 0).all()


def test_another_decoding_of_the_same_model_is_cached_apart(tiny_model, video, cache):
    """The cache key holds the codec's parameters: decoding the same maps differently must not reuse old poses."""
    estimator = PoseEstimator.from_model(tiny_model, device="cpu")
    list(iter_analyze_video(video, AnalysisOptions(), None, estimator))
    assert list(iter_analyze_video(video, AnalysisOptions(), None, estimator))[-1].cached
    estimator.predictor.codec = dataclasses.replace(estimator.predictor.codec, support_window=1)
    steps = list(iter_analyze_video(video, AnalysisOptions(), None, estimator))
    assert not steps[-1].cached and len(list(cache.iterdir())) == 2


def test_crops_turned_upside_down_are_also_run_mirrored():
    frame = np.zeros((120, 160, 3), np.uint8)
    regions = [Region(80, 60, 64, 0.0), Region(80, 60, 64, 180.0), Region(70, 60, 64, 0.0), Region(80, 50, 64, 170.0)]
    predictor = CentredFigurePredictor()
    xy, scores = PoseEstimator(predictor).infer([(frame, r) for r in regions])
    assert predictor.calls == [(2, None), (2, True)]  # upright crops as the predictor is set, turned ones mirrored
    # each result is back at its own job's place: a turned crop's figure comes out upside down in the frame
    assert xy[1, 13, 1] > xy[1, 0, 1] and xy[0, 13, 1] < xy[0, 0, 1] and xy[3, 13, 1] > xy[3, 0, 1]
    assert scores.shape == (4, K)
    predictor = CentredFigurePredictor()
    PoseEstimator(predictor, EstimatorConfig(mirror_turned=False)).infer([(frame, r) for r in regions])
    assert predictor.calls == [(4, None)]
