"""A checkpoint with a refinement stage: still images read it; the video tracker reads the head's own maps unless the
checkpoint asks for the refinement on video too (`export_model --video-refinement`)."""

from __future__ import annotations

import pytest
import torch

from gymnast_pose.codec import PixelClassCodec
from gymnast_pose.estimator import PoseEstimator
from gymnast_pose.inference import PosePredictor
from gymnast_pose.model import PoseNet, PoseNetConfig, save_checkpoint, without_refinement
from gymnast_pose.quantized import CALIBRATION_KEY, REFINED_CALIBRATION_KEY, int8_supported
from model_training.calibrate_int8 import main as calibrate_main
from model_training.export_model import main as export_main
from tests.model_fixtures import TINY_CONFIG
from tests.test_quantized import SIZE, figure_crops


def refined_network(seed: int = 0) -> PoseNet:
    torch.manual_seed(seed)
    network = PoseNet(PoseNetConfig(block="basic", refine_channels=8, refine_dilations=(1, 2), **TINY_CONFIG))
    with torch.no_grad():
        torch.nn.init.normal_(network.refine.out.weight, std=0.5)  # a trained correction is not zero
    return network.eval()


def test_without_refinement_is_the_head_alone_and_leaves_the_network_whole():
    network = refined_network()
    base = without_refinement(network)
    assert base.refine is None and network.refine is not None
    x = torch.randn(2, 3, SIZE, SIZE)
    with torch.no_grad():
        full, plain = network(x), base(x)
        network.refine, kept = None, network.refine
        head_only = network(x)
        network.refine = kept
    assert torch.equal(plain, head_only) and not torch.allclose(full, plain)
    assert without_refinement(base) is base  # nothing to drop


def test_stills_use_the_refinement_and_the_tracker_does_not(tmp_path):
    path = tmp_path / "refined.pt"
    save_checkpoint(path, refined_network(), PixelClassCodec(SIZE, 4))
    crops = figure_crops(3)
    stills = PosePredictor(path, "cpu", precision="fp32")
    video = PoseEstimator.from_model(path, device="cpu", precision="fp32").predictor
    assert stills.refinement and not video.refinement
    assert not torch.allclose(stills.probability_maps(crops), video.probability_maps(crops))
    base_path = tmp_path / "base.pt"
    save_checkpoint(base_path, without_refinement(refined_network()), PixelClassCodec(SIZE, 4))
    base = PosePredictor(base_path, "cpu", precision="fp32")
    assert not base.refinement  # a network without the stage reports none
    torch.testing.assert_close(video.probability_maps(crops), base.probability_maps(crops), atol=1e-6, rtol=0)


def test_export_can_ask_the_tracker_to_run_the_refinement(tmp_path):
    trained = tmp_path / "last.pt"
    save_checkpoint(trained, refined_network(), PixelClassCodec(SIZE, 4))
    plain, for_video = tmp_path / "plain.pt", tmp_path / "video.pt"
    export_main([str(trained), str(plain), "--input-size", str(SIZE)])
    export_main([str(trained), str(for_video), "--input-size", str(SIZE), "--video-refinement"])
    assert not PoseEstimator.from_model(plain, device="cpu", precision="fp32").predictor.refinement
    video = PoseEstimator.from_model(for_video, device="cpu", precision="fp32").predictor
    assert video.refinement
    crops = figure_crops(3)
    stills = PosePredictor(for_video, "cpu", precision="fp32")
    torch.testing.assert_close(video.probability_maps(crops), stills.probability_maps(crops), atol=1e-6, rtol=0)
    assert PosePredictor(for_video, "cpu", precision="fp32", refinement=False).refinement is False


def test_export_refuses_video_refinement_without_a_refinement_stage(tmp_path):
    trained = tmp_path / "last.pt"
    save_checkpoint(trained, without_refinement(refined_network()), PixelClassCodec(SIZE, 4))
    with pytest.raises(SystemExit, match="no refinement stage"):
        export_main([str(trained), str(tmp_path / "out.pt"), "--video-refinement"])


@pytest.mark.skipif(not int8_supported(), reason="no x86 int8 kernels on this machine")
def test_int8_calibrates_both_graphs_and_each_predictor_finds_its_own(tmp_path, monkeypatch):
    path = tmp_path / "refined.pt"
    save_checkpoint(path, refined_network(), PixelClassCodec(SIZE, 4))
    monkeypatch.setattr("model_training.calibrate_int8.read_dataset", lambda spec: [])
    monkeypatch.setattr("model_training.calibrate_int8.calibration_crops",
                        lambda samples, size: iter([figure_crops(8)]))
    calibrate_main([str(path), "--data", "generated", "--input-size", str(SIZE)])
    payload = torch.load(path, weights_only=True)
    assert payload[CALIBRATION_KEY]["graph"] != payload[REFINED_CALIBRATION_KEY]["graph"]
    stills = PosePredictor(path, "cpu", precision="int8")
    video = PoseEstimator.from_model(path, device="cpu", precision="int8").predictor
    assert stills.int8 and video.int8 and stills.refinement and not video.refinement
    crops = figure_crops(2, seed=3)
    exact = PosePredictor(path, "cpu", precision="fp32", refinement=False).probability_maps(crops)
    assert float((video.probability_maps(crops) - exact).abs().max()) < 0.1
