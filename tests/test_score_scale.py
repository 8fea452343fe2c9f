"""A checkpoint's score scale: a model that scores its joints lower (as plain cross-entropy does) is put back on the
app's scale by quantile matching against a reference model, so the app's thresholds keep their meaning."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gymnast_pose.codec import PixelClassCodec
from gymnast_pose.inference import PosePredictor
from gymnast_pose.model import ModelFileError, read_checkpoint, save_checkpoint, write_checkpoint_payload
from gymnast_pose.score_scale import ScoreScale, matching_scale
from gymnast_pose.skeleton import K
from model_training.export_model import export, score_scale_matching, whole_image_scores
from tests.model_fixtures import tiny_network
from tests.test_quantized import SIZE, figure_crops


def test_matching_sends_each_quantile_to_the_reference_quantile():
    rng = np.random.default_rng(0)
    raw = rng.beta(1.2, 12.0, 5000)  # low scores, median about 0.07
    reference = np.sqrt(raw)  # the same ranking on a higher scale
    scale = matching_scale(raw, reference)
    assert scale.raw[0] == 0 and scale.raw[-1] == 1 and scale.app[0] == 0 and scale.app[-1] == 1
    assert np.all(np.diff(scale.raw) > 0) and np.all(np.diff(scale.app) >= 0)
    mapped = scale(raw)
    for q in (0.1, 0.5, 0.9):
        assert abs(np.quantile(mapped, q) - np.quantile(reference, q)) < 0.01
    assert abs((mapped >= 0.15).mean() - (reference >= 0.15).mean()) < 0.01
    assert (raw >= 0.15).mean() < 0.3 < (reference >= 0.15).mean()  # without the map the threshold means else
    with_nan = scale(np.array([np.nan, 0.0, 1.0]))
    assert np.isnan(with_nan[0]) and with_nan[1] == 0 and with_nan[2] == 1


def test_matching_survives_ties_and_a_constant_model():
    scale = matching_scale(np.full(100, 0.3), np.linspace(0, 1, 100))
    assert list(scale.raw) == [0.0, 0.3, 1.0]
    assert 0 <= scale(np.array([0.3]))[0] <= 1
    with pytest.raises(ValueError):
        matching_scale(np.array([np.nan]), np.array([0.5]))


@pytest.mark.parametrize("raw, app", [((0.0, 0.5, 0.4, 1.0), (0, 0.2, 0.3, 1)), ((0.0, 1.0), (0.5, 0.2)),
                                      ((0.1, 1.0), (0.0, 1.0)), ((0.0, 1.0), (0.0,))])
def test_a_malformed_scale_is_refused(raw, app):
    with pytest.raises(ValueError):
        ScoreScale(raw, app)


def low_scoring_twin(network: torch.nn.Module, background_shift: float = 3.0) -> torch.nn.Module:
    """The same network with its background logit raised: the same ranking of cells, far lower joint scores."""
    with torch.no_grad():
        network.head[1].bias[K] += background_shift
    return network


def test_export_puts_a_low_scoring_model_on_the_reference_scale(tmp_path):
    torch.manual_seed(0)
    reference, twin = tmp_path / "reference.pt", tmp_path / "twin.pt"
    network = tiny_network()
    save_checkpoint(reference, network, PixelClassCodec(SIZE, 4))
    save_checkpoint(twin, low_scoring_twin(network), PixelClassCodec(SIZE, 4))
    images = list(figure_crops(24, seed=1))
    scale = score_scale_matching(twin, reference, images, SIZE)
    exported = export(twin, tmp_path / "twin_exported.pt", SIZE, score_scale=scale)
    assert read_checkpoint(exported)["inference"]["score_scale"] == scale.to_metadata()

    held = list(figure_crops(24, seed=2))  # other images than the map was matched on
    ref_scores = whole_image_scores(PosePredictor(reference, "cpu", precision="fp32"), held)
    raw_scores = whole_image_scores(PosePredictor(exported, "cpu", precision="fp32", raw_scores=True), held)
    app_scores = whole_image_scores(PosePredictor(exported, "cpu", precision="fp32"), held)
    assert np.median(raw_scores) < 0.5 * np.median(ref_scores)
    assert abs(np.median(app_scores) - np.median(ref_scores)) < 0.1 * np.median(ref_scores)
    order = np.argsort(raw_scores, axis=None, kind="stable")
    assert np.all(np.diff(app_scores.ravel()[order]) >= 0)  # the map keeps the network's ranking of its joints


def test_a_corrupt_scale_in_a_model_file_is_a_clear_error(tmp_path):
    path = tmp_path / "model.pt"
    save_checkpoint(path, tiny_network(), PixelClassCodec(SIZE, 4))
    payload = read_checkpoint(path)
    payload["inference"] = {"input_size": SIZE, "score_scale": {"raw": [0.0, 0.7, 0.5, 1.0], "app": [0, 1, 1, 1]}}
    write_checkpoint_payload(path, payload)
    with pytest.raises(ModelFileError, match="score_scale"):
        PosePredictor(path, "cpu", precision="fp32")
