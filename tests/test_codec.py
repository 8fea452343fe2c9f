"""Codec round trips and shapes (generated data only)."""

import numpy as np
import pytest
import torch

from gymnast_pose.codec import GaussianHeatmapCodec, MapGeometry, PixelClassCodec, _refine_peaks, codec_from_params
from gymnast_pose.skeleton import FLIP_PERMUTATION, JOINT_NAMES, LEFT_RIGHT_PAIRS, K


def random_keypoints(rng, size=192, margin=8):
    return rng.uniform(margin, size - margin, size=(K, 2)).astype(np.float32)


def test_skeleton_is_consistent():
    assert K == 14 == len(JOINT_NAMES)
    assert sorted(FLIP_PERMUTATION) == list(range(K))
    for right, left in LEFT_RIGHT_PAIRS:
        assert JOINT_NAMES[right].startswith("r_") and JOINT_NAMES[left] == "l_" + JOINT_NAMES[right][2:]


def test_geometry_maps_pixels_to_cells_and_back():
    g = MapGeometry(192, 4)
    xy = np.array([[1.5, 1.5], [189.5, 100.5]])
    assert np.allclose(g.to_input(g.to_map(xy)), xy)
    assert np.allclose(g.to_map(np.array([1.5, 5.5])), [0.0, 1.0])


def test_pixel_class_target_is_one_hot_with_background():
    codec = PixelClassCodec(192, 4)
    rng = np.random.default_rng(0)
    kp = random_keypoints(rng)
    visible = np.ones(K, bool)
    visible[3] = False
    target = codec.encode(kp, visible)
    assert target.shape == (48, 48) and target.dtype == np.int64
    labels, counts = np.unique(target, return_counts=True)
    assert K in labels and 3 not in labels
    assert counts[labels != K].sum() <= K - 1


def test_pixel_class_round_trip_within_half_a_cell():
    codec = PixelClassCodec(192, 4)
    rng = np.random.default_rng(1)
    kp = random_keypoints(rng)
    target = torch.from_numpy(codec.encode(kp, np.ones(K, bool)))
    logits = torch.nn.functional.one_hot(target, K + 1).permute(2, 0, 1).float() * 20.0
    xy, score = codec.decode(logits)
    present = np.isin(np.arange(K), target.unique().numpy())
    assert np.all(np.abs(xy[present] - kp[present]) <= codec.stride / 2 + 1e-3)
    assert np.all(score[present] > 0.99)


def test_pixel_class_sub_cell_refinement_uses_neighbours():
    codec = PixelClassCodec(64, 4)
    logits = torch.full((K + 1, 16, 16), -10.0)
    logits[K] = 0.0
    # keypoint 0 split between cells (u=5, v=7) and (u=6, v=7): the estimate should lie between them
    logits[0, 7, 5] = 5.0
    logits[0, 7, 6] = 5.0
    xy, _ = codec.decode(logits)
    u = (xy[0, 0] + 0.5) / 4 - 0.5
    assert 5.3 < u < 5.7


def test_batch_encoding_matches_single_encoding():
    rng = np.random.default_rng(2)
    kps = np.stack([random_keypoints(rng) for _ in range(3)])
    vis = rng.random((3, K)) > 0.2
    for codec in (PixelClassCodec(192, 4), GaussianHeatmapCodec(192, 4)):
        batch = codec.encode_batch(torch.from_numpy(kps), torch.from_numpy(vis)).numpy()
        single = np.stack([codec.encode(kps[i], vis[i]) for i in range(3)])
        assert np.allclose(batch, single, atol=1e-5)


def test_gaussian_round_trip_and_sigma():
    codec = GaussianHeatmapCodec(192, 4, 1.5)
    rng = np.random.default_rng(3)
    kp = random_keypoints(rng)
    maps = codec.encode(kp, np.ones(K, bool))
    assert maps.shape == (K, 48, 48) and maps.max() <= 1.0
    xy, score = codec.decode(torch.from_numpy(maps))
    assert np.all(np.abs(xy - kp) < 1.0)
    assert np.all(score > 0.6)


def test_invisible_and_outside_keypoints_leave_no_trace():
    codec = GaussianHeatmapCodec(64, 4)
    kp = np.full((K, 2), 30.0, np.float32)
    kp[0] = [500, 500]
    maps = codec.encode(kp, np.array([True] + [False] * (K - 1)))
    assert maps.sum() == 0


@pytest.mark.parametrize("codec", [PixelClassCodec(128, 4), GaussianHeatmapCodec(96, 4, 2.0)])
def test_codec_params_rebuild_the_same_codec(codec):
    assert codec_from_params(codec.params()) == codec


def _background_logits(side=16):
    logits = torch.full((K + 1, side, side), -10.0)
    logits[K] = 0.0
    return logits


def test_a_block_of_fair_cells_outvotes_a_lone_strong_cell():
    logits = _background_logits()
    logits[0, 2, 12] = 3.0  # one strong cell, p ~ 0.95
    logits[0, 9:12, 3:6] = 1.0  # a 3 x 3 block of fair cells, p ~ 0.73 each
    logits[0, 10, 4] = 1.5  # its most probable cell
    xy, score = PixelClassCodec(64, 4).decode(logits)
    uv = (xy[0] + 0.5) / 4 - 0.5
    assert np.all(np.abs(uv - [4.0, 10.0]) < 0.3)
    assert score[0] == pytest.approx(torch.softmax(logits[:, 10, 4], 0)[0].item(), abs=1e-5)
    xy1, score1 = PixelClassCodec(64, 4, support_window=1).decode(logits)  # plain arg-max: the lone cell
    assert np.all(np.abs((xy1[0] + 0.5) / 4 - 0.5 - [12.0, 2.0]) < 0.3) and score1[0] > 0.9


def test_support_is_the_mean_probability_of_the_three_by_three_cells():
    logits = _background_logits()
    logits[1, 5:8, 5:8] = 10.0  # p ~ 1 on a full 3 x 3 block
    logits[2, 11, 11] = 10.0  # p ~ 1 on one cell only
    probs = PixelClassCodec(64, 4).probabilities(logits[None])
    _, scores, support = PixelClassCodec(64, 4).decode_maps(probs, with_support=True)
    assert support.shape == scores.shape == (1, K)
    assert np.all((support >= 0) & (support <= 1))
    assert support[0, 1] == pytest.approx(1.0, abs=1e-3) and support[0, 2] == pytest.approx(1 / 9, abs=1e-3)
    assert scores[0, 1] == pytest.approx(1.0, abs=1e-3) and scores[0, 2] == pytest.approx(1.0, abs=1e-3)


def test_window_one_is_the_plain_arg_max():
    rng = np.random.default_rng(5)
    logits = torch.from_numpy(rng.normal(size=(2, K + 1, 12, 12)).astype(np.float32))
    codec = PixelClassCodec(48, 4, support_window=1)
    probs = codec.probabilities(logits)
    xy, scores = codec.decode_maps(probs)
    np.testing.assert_allclose(scores, probs[:, :K].flatten(2).max(dim=2).values.numpy(), rtol=1e-6)
    uv, _ = _refine_peaks(probs[:, :K], probs[:, :K])  # the arg-max cell, refined by its 3 x 3 centroid
    np.testing.assert_allclose(xy, codec.geometry.to_input(uv).numpy(), atol=1e-5)
    xy3, _ = PixelClassCodec(48, 4).decode_maps(probs, window=1)  # the tracker's override gives the same
    np.testing.assert_allclose(xy3, xy, atol=1e-6)
