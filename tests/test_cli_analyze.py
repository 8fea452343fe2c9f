"""``gymnast-pose analyze`` run in-process: output formats, overlay video, cache, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from helpers_video import make_non_video_file, make_test_video
from model_fixtures import write_tiny_model
from test_estimator import CentredFigurePredictor

import gymnast_pose.analysis as analysis
from gymnast_pose.cli import main
from gymnast_pose.estimator import PoseEstimator
from gymnast_pose.sequence import PoseSequence
from gymnast_pose.skeleton import JOINT_NAMES, K
from gymnast_pose.video import VideoSource

N_FRAMES = 12
SIZE = (160, 120)
FPS = 25.0


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return write_tiny_model(tmp_path_factory.mktemp("model") / "tiny.pt")


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return make_test_video(tmp_path_factory.mktemp("video") / "clip.mp4", N_FRAMES, FPS, SIZE)


@pytest.fixture
def env(tmp_path, monkeypatch, tiny_model):
    """The tiny model as the default model and a fresh pose cache; returns the cache folder."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("GYMNAST_POSE_CACHE_DIR", str(cache))
    monkeypatch.setenv("GYMNAST_POSE_MODEL", str(tiny_model))
    return cache


@pytest.fixture
def figure_estimator(monkeypatch):
    """Make ``analyze`` use an estimator that finds an upright person in every frame."""
    estimator = PoseEstimator(CentredFigurePredictor())
    monkeypatch.setattr(analysis, "load_estimator", lambda options: estimator)
    return estimator


def forbid_analysis(monkeypatch):
    """Make any frame analysis fail the test (to prove that an error came first, or that the cache was used)."""

    def fail(*args, **kwargs):
        raise AssertionError("the video was analysed")

    monkeypatch.setattr(PoseEstimator, "iter_track", fail)


def test_json_output_has_the_documented_layout(env, figure_estimator, video, tmp_path, capsys):
    out = tmp_path / "poses.json"
    assert main(["analyze", str(video), "-o", str(out)]) == 0
    document = json.loads(out.read_text())
    assert document["video"] == str(video) and document["fps"] == FPS
    assert document["joints"] == list(JOINT_NAMES)
    with VideoSource(video) as source:
        assert len(document["frames"]) == source.num_frames == N_FRAMES  # one entry per decoded frame
    for i, frame in enumerate(document["frames"]):
        assert frame["index"] == i and frame["time_s"] == pytest.approx(i / FPS)
        assert len(frame["keypoints"]) == K
        for joint in frame["keypoints"]:  # the figure is found everywhere: [x, y, score] in video pixels
            assert isinstance(joint, list) and len(joint) == 3
            x, y, score = joint
            assert 0 <= x < SIZE[0] and 0 <= y < SIZE[1] and 0 <= score <= 1
        head, ankle = frame["keypoints"][JOINT_NAMES.index("head_top")], frame["keypoints"][0]
        assert head[1] < ankle[1]  # upright, in image coordinates (y down)
    out_text = capsys.readouterr()
    assert f"{N_FRAMES} frames" in out_text.out and "100 % of frames" in out_text.out and str(out) in out_text.out
    # captured stderr is no terminal: the progress comes as plain lines, one per tenth, ending at 100 %
    assert "\r" not in out_text.err and "100.0 %" in out_text.err
    assert out_text.err.count(f"analysing {video.name}:") <= 11


def test_json_marks_missing_joints_with_null(env, video, tmp_path):
    out = tmp_path / "poses.json"
    assert main(["analyze", str(video), "-o", str(out), "--no-smooth"]) == 0
    frames = json.loads(out.read_text())["frames"]
    assert len(frames) == N_FRAMES
    for frame in frames:  # the random tiny model finds little: joints are null or three numbers
        assert all(j is None or (len(j) == 3 and all(isinstance(v, float) for v in j)) for j in frame["keypoints"])


def test_csv_and_npz_load_back_identical(env, figure_estimator, video, tmp_path):
    csv_path, npz_path = tmp_path / "poses.csv", tmp_path / "poses.npz"
    assert main(["analyze", str(video), "-o", str(csv_path)]) == 0
    assert main(["analyze", str(video), "-o", str(npz_path)]) == 0
    from_csv, from_npz = PoseSequence.load(csv_path), PoseSequence.load(npz_path)
    assert from_npz.keypoints.shape == (N_FRAMES, K, 3)
    np.testing.assert_array_equal(from_csv.keypoints, from_npz.keypoints)
    assert from_csv.fps == from_npz.fps == FPS and from_csv.frame_size == from_npz.frame_size == SIZE
    assert from_csv.source == from_npz.source == str(video)


def test_render_writes_a_readable_video_with_every_frame(env, figure_estimator, video, tmp_path, capsys):
    overlay = tmp_path / "overlay.mp4"
    assert main(["analyze", str(video), "--render", str(overlay)]) == 0
    with VideoSource(overlay) as rendered, VideoSource(video) as source:
        assert rendered.num_frames == source.num_frames and rendered.size == source.size
        assert rendered.fps == pytest.approx(FPS)
        assert not np.array_equal(rendered.frame(5), source.frame(5))  # the stickman is drawn
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "overlay.mp4"]
    assert f"Overlay video: {overlay}" in capsys.readouterr().out


def test_second_run_is_read_from_the_cache(env, figure_estimator, video, tmp_path, monkeypatch, capsys):
    assert main(["analyze", str(video)]) == 0
    first = capsys.readouterr()
    assert "analysed in" in first.out and "Nothing written" in first.out
    assert [p.suffix for p in env.iterdir()] == [".npz"]
    forbid_analysis(monkeypatch)
    copy = tmp_path / "renamed copy.mp4"  # the cache is keyed by content: a copy hits it too
    copy.write_bytes(video.read_bytes())
    out = tmp_path / "again.json"
    assert main(["analyze", str(copy), "-o", str(out)]) == 0
    second = capsys.readouterr()
    assert "loaded from the cache" in second.out and "(from cache)" in second.err
    document = json.loads(out.read_text())
    assert len(document["frames"]) == N_FRAMES and document["video"] == str(copy)  # not the first run's path
    with pytest.raises(AssertionError, match="analysed"):  # --no-cache analyses again
        main(["analyze", str(video), "--no-cache"])


def test_flip_reaches_the_estimator_and_is_cached_apart(env, video, monkeypatch):
    """--flip asks for an estimator that also runs mirrored crops; its result does not reuse the plain one's cache."""
    asked = []
    estimator = PoseEstimator(CentredFigurePredictor())

    def load(options):
        asked.append(options.flip)
        return estimator

    monkeypatch.setattr(analysis, "load_estimator", load)
    assert main(["analyze", str(video)]) == 0
    assert main(["analyze", str(video), "--flip"]) == 0  # not a cache hit: the estimator is asked again
    assert asked == [False, True]
    assert len(list(env.iterdir())) == 2


def test_flip_makes_the_predictor_average_mirrored_crops(tiny_model):
    estimator = analysis.load_estimator(analysis.AnalysisOptions(model_path=str(tiny_model), flip=True))
    assert estimator.predictor.flip
    assert not analysis.load_estimator(analysis.AnalysisOptions(model_path=str(tiny_model))).predictor.flip


def test_without_output_nothing_is_written(env, video, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert main(["analyze", str(video), "--no-cache"]) == 0
    assert [p.name for p in work.iterdir()] == []


def test_options_reach_the_analysis(env, video, monkeypatch):
    seen = {}

    def record(path, options, cancel=None, estimator=None):
        seen["options"] = options
        return real(path, options, cancel, estimator)

    real = analysis.iter_analyze_video
    monkeypatch.setattr(analysis, "iter_analyze_video", record)
    assert main(["analyze", str(video), "--box", "10,20,30,40@5", "--no-smooth", "--no-cache", "--device",
                 "cpu"]) == 0
    options = seen["options"]
    assert options.box == (10, 20, 30, 40) and options.box_frame == 5
    assert not options.smooth and not options.use_cache and options.device == "cpu"


# ---- errors: one line on stderr, exit status 2, never a traceback -----------------------------------------------
def one_line_error(capfd, *expected: str) -> str:
    """The single error line on stderr. FFmpeg's own log lines ("[mov,mp4,... @ 0x...] moov atom not found") are
    ignored here: the command silences them only if FFmpeg was not used earlier in the process, which it was in
    this test process; ``test_the_installed_command_prints_exactly_one_line`` checks a fresh process."""
    err = capfd.readouterr().err
    lines = [line for line in err.replace("\r", "\n").splitlines() if line.strip() and not line.startswith("[")]
    assert "Traceback" not in err
    assert len(lines) == 1, err
    assert lines[0].startswith("gymnast-pose analyze: error: ")
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def bad_video(tmp_path, kind):
    path = tmp_path / "bad.mp4"
    if kind == "missing":
        return tmp_path / "missing.mp4"
    if kind == "not a video":
        return make_non_video_file(path)
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "corrupt":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    elif kind == "folder":
        path.mkdir()
    return path


@pytest.mark.parametrize("kind, message", [
    ("missing", "not found"), ("not a video", "could not be opened"), ("empty", "empty"),
    ("corrupt", "could not be opened"), ("folder", "not a video file"),
])  # fmt: skip
def test_bad_videos(env, tmp_path, capfd, kind, message):
    out = tmp_path / "poses.json"
    assert main(["analyze", str(bad_video(tmp_path, kind)), "-o", str(out)]) == 2
    one_line_error(capfd, message)
    assert not out.exists()


def test_the_installed_command_prints_exactly_one_line(env, tmp_path):
    """A fresh process, as a user runs it: not even FFmpeg's or OpenCV's own log lines get through."""
    corrupt = bad_video(tmp_path, "corrupt")
    done = subprocess.run([sys.executable, "-m", "gymnast_pose.cli", "analyze", str(corrupt)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [f"gymnast-pose analyze: error: {corrupt} could not be opened as a video: "
                                        "the format is not recognised or the file is damaged (for example an "
                                        "incomplete download)"]


@pytest.mark.parametrize("model", ["garbage", "missing"])
def test_bad_model_file(env, video, tmp_path, monkeypatch, capfd, model):
    path = tmp_path / "model.pt"
    if model == "garbage":
        path.write_bytes(b"\x00 this is not a checkpoint " * 50)
    monkeypatch.setenv("GYMNAST_POSE_MODEL", str(path))
    out = tmp_path / "poses.json"
    out.write_text("earlier results")
    assert main(["analyze", str(video), "-o", str(out), "--no-cache"]) == 2
    one_line_error(capfd, str(path), "corrupt" if model == "garbage" else "not found")
    assert out.read_text() == "earlier results"  # nothing lost


@pytest.mark.parametrize("args, message", [
    (["-o", "{tmp}/no_such_folder/poses.json"], "does not exist"),
    (["-o", "{tmp}/a_file.txt/poses.json"], "does not exist"),
    (["-o", "{tmp}"], "is a folder"),
    (["-o", "{tmp}/poses.txt"], ".json, .csv, .npz"),
    (["-o", "{video}"], "video being analysed"),
    (["--render", "{tmp}/no_such_folder/overlay.mp4"], "does not exist"),
    (["--render", "{tmp}/overlay.gif"], ".mp4"),
    (["--render", "{video}"], "video being analysed"),
    (["--box", "1,2,3"], "--box: expected a box as x,y,w,h@frame"),
    (["--box", "1,2,0,4"], "positive width"),
    (["--device", "gpu"], "unknown device 'gpu'"),
])  # fmt: skip
def test_bad_arguments_fail_before_the_analysis(env, video, tmp_path, monkeypatch, capfd, args, message):
    (tmp_path / "a_file.txt").write_text("a file, not a folder")
    forbid_analysis(monkeypatch)
    args = [a.format(tmp=tmp_path, video=video) for a in args]
    assert main(["analyze", str(video), *args]) == 2
    one_line_error(capfd, message)


def test_seed_box_beyond_the_last_frame(env, video, capfd):
    assert main(["analyze", str(video), "--box", "10,10,40,80@99", "--no-cache"]) == 2
    one_line_error(capfd, "frame 99")


def test_ctrl_c_says_interrupted_and_writes_nothing(env, video, tmp_path, monkeypatch, capfd):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
        yield

    monkeypatch.setattr(PoseEstimator, "iter_track", interrupted)
    out = tmp_path / "poses.json"
    assert main(["analyze", str(video), "-o", str(out), "--no-cache"]) == 130
    err = capfd.readouterr().err
    assert err.strip().splitlines()[-1] == "Interrupted." and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []
