"""Tests for gymnast_pose.sequence (PoseSequence, files, smoothing, gaps, jitter) and gymnast_pose.pose_cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gymnast_pose import pose_cache
from gymnast_pose.sequence import (
    PoseSequence,
    PoseSequenceError,
    default_max_gap,
    fill_gaps,
    jitter_ratio,
    torso_lengths,
)
from gymnast_pose.skeleton import JOINT_NAMES, PCK_TORSO_PAIR, K

FPS = 30.0
TORSO = 100.0  # pixels, l_shoulder to r_hip in the synthetic poses


def standing_pose() -> np.ndarray:
    """(K, 2) a plausible standing pose whose LSP torso (l_shoulder → r_hip) is exactly TORSO pixels."""
    xy = np.array([[300.0 + 10 * (k % 4), 200.0 + 25 * k] for k in range(K)])
    shoulder, hip = PCK_TORSO_PAIR
    xy[hip] = xy[shoulder] + [0.0, TORSO]
    return xy


def still_sequence(n_frames: int = 120, noise_px: float = 0.0, seed: int = 0) -> PoseSequence:
    """A person standing still, with Gaussian noise of ``noise_px`` pixels on every coordinate."""
    rng = np.random.default_rng(seed)
    keypoints = np.zeros((n_frames, K, 3), np.float32)
    keypoints[..., :2] = standing_pose() + rng.normal(0.0, noise_px, (n_frames, K, 2))
    keypoints[..., 2] = 0.9
    return PoseSequence(keypoints, FPS, source="clip.mp4", fingerprint="f" * 32, frame_size=(640, 480),
                        model_hash="m" * 16)  # fmt: skip


def sequence_with_holes() -> PoseSequence:
    seq = still_sequence(12, noise_px=3.0)
    seq.keypoints[2, 5, :] = (np.nan, np.nan, 0.0)
    seq.keypoints[7, :, :] = (np.nan, np.nan, 0.0)  # nobody found in frame 7
    seq.keypoints[3, 1, 2] = 0.1
    seq.keypoints[4, 4, :2] = (123.456, 7.25)
    return replace_start(seq, 40)


def replace_start(seq: PoseSequence, start_frame: int) -> PoseSequence:
    seq.start_frame = start_frame
    return seq


# ---- the data class -------------------------------------------------------------------------------------------
def test_shapes_properties_and_masks():
    seq = sequence_with_holes()
    assert seq.num_frames == len(seq) == 12
    assert seq.keypoints.dtype == np.float32 and seq.keypoints.shape == (12, K, 3)
    assert seq.xy.shape == (12, K, 2) and seq.scores.shape == (12, K)
    np.testing.assert_allclose(seq.times_s, (40 + np.arange(12)) / FPS)
    assert seq.missing_mask[2, 5] and seq.missing_mask[7].all() and seq.missing_mask.sum() == 1 + K
    low = seq.low_confidence_mask()
    assert low.shape == (12, K) and low[3, 1] and low[2, 5] and low.sum() == 2 + K
    assert not np.isnan(seq.xy[3, 1]).any()  # a low-confidence joint is marked, not deleted
    assert seq.low_confidence_mask(threshold=0.95).all()


def test_construction_normalises_missing_joints_and_rejects_bad_input():
    keypoints = np.full((3, K, 3), 0.5, np.float64)
    keypoints[0, 0] = (np.nan, 10.0, 0.8)
    keypoints[1, 1, 2] = 7.0
    seq = PoseSequence(keypoints, fps=25)
    assert np.isnan(seq.keypoints[0, 0, :2]).all() and seq.keypoints[0, 0, 2] == 0.0
    assert seq.keypoints[1, 1, 2] == 1.0
    assert keypoints[0, 0, 1] == 10.0  # the caller's array is untouched
    with pytest.raises(PoseSequenceError, match=r"shape \(T, 14, 3\)"):
        PoseSequence(np.zeros((3, 17, 3)), fps=25)
    with pytest.raises(PoseSequenceError, match="fps"):
        PoseSequence(np.zeros((3, K, 3)), fps=0)


def test_slice_keeps_video_frame_numbers():
    seq = sequence_with_holes()
    part = seq.slice(2, 5)
    assert part.num_frames == 3 and part.start_frame == 42
    np.testing.assert_array_equal(part.keypoints, seq.keypoints[2:5])
    np.testing.assert_allclose(part.times_s, seq.times_s[2:5])
    assert part.fingerprint == seq.fingerprint and part.fps == seq.fps
    assert seq.slice(-2, None).start_frame == 50 and seq.slice(20, 30).num_frames == 0


# ---- files ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".npz", ".json", ".csv"])
def test_save_load_round_trip(tmp_path, suffix):
    seq = sequence_with_holes()
    path = seq.save(tmp_path / f"poses{suffix}")
    loaded = PoseSequence.load(path)
    np.testing.assert_array_equal(loaded.keypoints, seq.keypoints)  # exact, NaN where NaN
    assert loaded.fps == seq.fps and loaded.start_frame == 40
    assert (loaded.source, loaded.fingerprint, loaded.model_hash) == (seq.source, seq.fingerprint, seq.model_hash)
    assert loaded.frame_size == (640, 480)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind


def test_json_layout(tmp_path):
    seq = sequence_with_holes()
    document = json.loads(seq.save(tmp_path / "poses.json").read_text())
    assert document["video"] == "clip.mp4" and document["fps"] == FPS
    assert document["joints"] == list(JOINT_NAMES)
    assert len(document["frames"]) == 12
    frame = document["frames"][2]
    assert frame["index"] == 42 and frame["time_s"] == pytest.approx(42 / FPS)
    assert len(frame["keypoints"]) == K and frame["keypoints"][5] is None
    assert frame["keypoints"][0] == [pytest.approx(v) for v in seq.keypoints[2, 0].tolist()]
    assert document["frames"][4]["keypoints"][4][:2] == [123.456, 7.25]  # short, exact decimals
    assert document["frames"][7]["keypoints"] == [None] * K


def test_csv_layout(tmp_path):
    text = sequence_with_holes().save(tmp_path / "poses.csv").read_text()
    comments = [line for line in text.splitlines() if line.startswith("#")]
    assert any("units:" in line and "pixels" in line for line in comments)
    assert "# fps: 30.0" in comments
    rows = [line.split(",") for line in text.splitlines() if not line.startswith("#")]
    assert rows[0][:5] == ["frame", "time_s", "r_ankle_x", "r_ankle_y", "r_ankle_score"]
    assert len(rows[0]) == 2 + 3 * K and len(rows) == 1 + 12
    assert rows[3][0] == "42" and rows[3][2 + 3 * 5 : 5 + 3 * 5] == ["", "", ""]


def test_csv_without_metadata_comments_still_loads(tmp_path):
    path = sequence_with_holes().save(tmp_path / "poses.csv")
    path.write_text("\n".join(line for line in path.read_text().splitlines() if not line.startswith("#")))
    loaded = PoseSequence.load(path)
    assert loaded.fps == pytest.approx(FPS, rel=1e-4) and loaded.start_frame == 40


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("poses.txt", "x", "npz, .json or .csv"),
        ("poses.json", "{not json", "not a readable pose file"),
        ("poses.json", '{"hello": 1}', "not a pose file"),
        ("poses.csv", "a,b,c\n1,2,3\n", "not a pose CSV"),
        ("poses.npz", "PK garbage", "not a readable pose file"),
    ],
)
def test_loading_bad_files_gives_clear_errors(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(PoseSequenceError, match=message):
        PoseSequence.load(path)


def test_missing_file_and_bad_suffix_and_unwritable_folder(tmp_path):
    with pytest.raises(PoseSequenceError, match="not found"):
        PoseSequence.load(tmp_path / "absent.npz")
    with pytest.raises(PoseSequenceError, match=".npz, .json or .csv"):
        still_sequence(2).save(tmp_path / "poses.xlsx")
    with pytest.raises(PoseSequenceError, match="Cannot write"):
        still_sequence(2).save(tmp_path / "no" / "such" / "folder.npz")


def test_a_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = still_sequence(3).save(tmp_path / "poses.json")
    before = path.read_text()

    def broken_dumps(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(json, "dumps", broken_dumps)
    with pytest.raises(RuntimeError, match="disk full"):
        still_sequence(5).save(path)
    assert path.read_text() == before and [p.name for p in tmp_path.iterdir()] == ["poses.json"]


# ---- smoothing, gaps, jitter ----------------------------------------------------------------------------------
def test_one_euro_reduces_jitter_on_a_still_pose():
    noisy = still_sequence(150, noise_px=1.5)  # 1.5 % of the torso per coordinate
    smooth = noisy.smoothed()
    assert jitter_ratio(noisy) > 0.015
    assert smooth.jitter(30) < 0.02  # after the filter has settled
    assert smooth.jitter(30) < 0.4 * noisy.jitter(30)
    np.testing.assert_array_equal(smooth.scores, noisy.scores)  # only x, y are filtered


def test_gap_filling_interpolates_short_dropouts_and_marks_them():
    keypoints = np.zeros((12, K, 3), np.float32)
    keypoints[:, :, 0] = np.arange(12)[:, None] * 3.0
    keypoints[:, :, 1] = 50.0
    keypoints[:, :, 2] = 0.8
    keypoints[4, 0, 2] = 0.6
    keypoints[5:8, 0] = (np.nan, np.nan, 0.0)  # 3-frame dropout: filled
    keypoints[2:7, 1] = (np.nan, np.nan, 0.0)  # 5-frame dropout: too long for max_gap=4
    keypoints[:2, 2] = (np.nan, np.nan, 0.0)  # at the start: nothing to interpolate from
    filled, mask = fill_gaps(keypoints, max_gap=4)
    np.testing.assert_allclose(filled[5:8, 0, 0], [15.0, 18.0, 21.0])
    np.testing.assert_allclose(filled[5:8, 0, 1], 50.0)
    np.testing.assert_allclose(filled[5:8, 0, 2], 0.5 * 0.6)
    assert np.isnan(filled[2:7, 1, 0]).all() and np.isnan(filled[:2, 2, 0]).all()
    assert mask.sum() == 3 and mask[5:8, 0].all()
    assert np.isnan(keypoints[5, 0, 0])  # input untouched

    seq = PoseSequence(keypoints, FPS).with_gaps_filled(max_gap=4)
    assert not seq.missing_mask[5:8, 0].any() and seq.low_confidence_mask(0.5)[5:8, 0].all()
    assert default_max_gap(30.0) == 6 and default_max_gap(25.0) == 5 and default_max_gap(2.0) == 1


def test_jitter_ratio_measures_median_step_per_torso():
    seq = still_sequence(10)
    moving = seq.keypoints.copy()
    moving[:, :, 0] += np.arange(10)[:, None] * 2.0  # every joint moves 2 px per frame
    assert jitter_ratio(moving) == pytest.approx(2.0 / TORSO)
    assert jitter_ratio(moving, 3, 6) == pytest.approx(2.0 / TORSO)
    assert jitter_ratio(seq) == 0.0
    assert np.isnan(jitter_ratio(seq, 0, 1))
    np.testing.assert_allclose(torso_lengths(seq.xy), TORSO)


# ---- the pose cache -------------------------------------------------------------------------------------------
@pytest.fixture
def cache_folder(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(pose_cache.CACHE_DIR_ENV, str(folder))
    return folder


def test_cache_miss_store_hit(cache_folder):
    seq = still_sequence(5, noise_px=1.0)
    key = pose_cache.settings_key({"smoothing": "one_euro", "min_cutoff": 1.0})
    assert pose_cache.load_cached(seq.fingerprint, seq.model_hash, key) is None
    path = pose_cache.store_cached(seq, key)
    assert path.parent == cache_folder and path.suffix == ".npz"
    hit = pose_cache.load_cached(seq.fingerprint, seq.model_hash, key)
    np.testing.assert_array_equal(hit.keypoints, seq.keypoints)
    assert pose_cache.load_cached(seq.fingerprint, seq.model_hash, "other settings") is None
    assert pose_cache.load_cached(seq.fingerprint, "another model", key) is None


def test_corrupt_or_foreign_cache_file_is_a_miss_and_removed(cache_folder):
    seq = still_sequence(5)
    path = pose_cache.store_cached(seq)
    path.write_bytes(path.read_bytes()[:40])
    assert pose_cache.load_cached(seq.fingerprint, seq.model_hash) is None
    assert not path.exists()
    other = still_sequence(5)
    other.fingerprint = "another video"
    other.save(path)  # a file under the wrong key
    assert pose_cache.load_cached(seq.fingerprint, seq.model_hash) is None and not path.exists()


def test_cache_location_and_keys(tmp_path, monkeypatch):
    monkeypatch.delenv(pose_cache.CACHE_DIR_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert pose_cache.cache_dir() == tmp_path / "xdg" / "gymnast_pose"
    monkeypatch.setenv(pose_cache.CACHE_DIR_ENV, str(tmp_path / "mine"))
    assert pose_cache.cache_dir() == tmp_path / "mine"
    assert pose_cache.settings_key({"a": 1, "b": 2}) == pose_cache.settings_key({"b": 2, "a": 1}) != ""
    assert pose_cache.settings_key(None) == ""
    assert pose_cache.cache_path("fp", "model", "s1") != pose_cache.cache_path("fp", "model", "s2")
    with pytest.raises(ValueError, match="fingerprint"):
        pose_cache.store_cached(PoseSequence(np.zeros((1, K, 3)), FPS))
