"""8-bit CPU inference: calibration stored in the checkpoint, the int8 network rebuilt from it, and when it is used."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import gymnast_pose.inference as inference
from gymnast_pose.codec import PixelClassCodec
from gymnast_pose.inference import PosePredictor, uses_int8
from gymnast_pose.model import ModelFileError, PoseNet, PoseNetConfig, normalize_images, save_checkpoint
from gymnast_pose.quantized import CALIBRATION_KEY, calibrate, int8_supported, output_convolutions, quantized_network
from model_training.calibrate_int8 import batches_of, store_calibration
from tests.model_fixtures import TINY_CONFIG, stick_figure, tiny_network

needs_int8 = pytest.mark.skipif(not int8_supported(), reason="no x86 int8 kernels on this machine")
SIZE = 64


def figure_crops(n: int, seed: int = 0) -> np.ndarray:
    """n stick-figure crops (n, SIZE, SIZE, 3) uint8 RGB."""
    rng = np.random.default_rng(seed)
    return np.stack([stick_figure(rng, SIZE)[0][..., ::-1] for _ in range(n)])


def calibrated_model(path, seed: int = 0):
    torch.manual_seed(seed)
    network = tiny_network(block="basic").eval()
    save_checkpoint(path, network, PixelClassCodec(SIZE, 4))
    batches = batches_of(iter([figure_crops(24, seed)]), size=8)
    store_calibration(path, calibrate(network, batches, SIZE), "generated stick figures")
    return path, network


@needs_int8
def test_calibration_is_stored_and_rebuilds_a_close_int8_network(tmp_path):
    path, network = calibrated_model(tmp_path / "calibrated.pt")
    exact = PosePredictor(path, "cpu", precision="fp32")
    fast = PosePredictor(path, "cpu", precision="int8")
    assert (exact.arithmetic, fast.arithmetic) == ("float32", "int8")
    calibration = fast.loaded.metadata[CALIBRATION_KEY]
    assert calibration["crops"] == 24 and calibration["batches"] == 3 and calibration["data"]
    crops = figure_crops(6, seed=1)
    p_exact, p_fast = exact.probability_maps(crops), fast.probability_maps(crops)
    assert p_fast.shape == p_exact.shape and p_fast.dtype == torch.float32
    assert torch.allclose(p_fast.sum(dim=1), torch.ones(1), atol=1e-4)
    assert float((p_fast - p_exact).abs().max()) < 0.1  # 8-bit noise, not a different network
    assert float((p_fast - p_exact).abs().max()) > 0  # it really is another arithmetic
    # the same file gives the same int8 network every time it is loaded
    again = PosePredictor(path, "cpu", precision="int8").probability_maps(crops)
    assert torch.equal(again, p_fast)


@needs_int8
def test_output_layer_stays_float():
    network = tiny_network(block="basic").eval()
    assert output_convolutions(network) == ["head.1"]
    calibration = calibrate(network, [normalize_images(torch.from_numpy(figure_crops(4)))], SIZE)
    quantized = quantized_network(network, calibration)
    assert isinstance(quantized.get_submodule("head.1"), torch.nn.Conv2d)  # not a quantized conv
    refined = PoseNet(PoseNetConfig(block="basic", refine_channels=8, **TINY_CONFIG)).eval()
    assert output_convolutions(refined) == ["head.1", "refine.out"]
    calibration = calibrate(refined, [normalize_images(torch.from_numpy(figure_crops(4)))], SIZE)
    quantized = quantized_network(refined, calibration)
    for name in ("head.1", "refine.out"):
        assert isinstance(quantized.get_submodule(name), torch.nn.Conv2d)


@needs_int8
def test_calibration_of_another_network_is_a_clear_model_error(tmp_path):
    path, _ = calibrated_model(tmp_path / "a.pt")
    other = tmp_path / "b.pt"
    save_checkpoint(other, tiny_network(block="inverted_residual"), PixelClassCodec(SIZE, 4))
    store_calibration(other, torch.load(path, weights_only=True)[CALIBRATION_KEY], "copied")
    with pytest.raises(ModelFileError, match="another network"):
        PosePredictor(other, "cpu", precision="int8")


def test_int8_when_asked_for_and_by_auto_on_cpus_without_fast_bfloat16(tmp_path, monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    calibration = {"observers": {}}
    with pytest.raises(ValueError, match="no int8 calibration"):
        uses_int8(cpu, "int8", None)
    with pytest.raises(ValueError, match="CPU only"):
        uses_int8(cuda, "int8", calibration)
    monkeypatch.setattr(inference, "int8_supported", lambda: True)
    for fast_bfloat16 in (True, False):
        monkeypatch.setattr(inference, "cpu_has_fast_bfloat16", lambda fast=fast_bfloat16: fast)
        assert uses_int8(cpu, "auto", calibration) is (not fast_bfloat16)  # bfloat16 is faster still
        assert not uses_int8(cpu, "auto", None)  # a model file without calibration stays in float32
        assert not uses_int8(cuda, "auto", calibration)
        for precision in ("fp32", "bf16"):
            assert not uses_int8(cpu, precision, calibration)
    assert uses_int8(cpu, "int8", calibration)
    monkeypatch.setattr(inference, "int8_supported", lambda: False)
    assert not uses_int8(cpu, "auto", calibration)
    with pytest.raises(ValueError, match="no int8 kernels"):
        uses_int8(cpu, "int8", calibration)


@needs_int8
def test_a_calibrated_model_runs_in_int8_by_default_only_without_fast_bfloat16(tmp_path, monkeypatch):
    path, _ = calibrated_model(tmp_path / "a.pt")
    monkeypatch.setattr(inference, "cpu_has_fast_bfloat16", lambda: False)
    predictor = PosePredictor(path, "cpu")
    assert predictor.arithmetic == "int8"
    assert predictor.probability_maps(figure_crops(2)).shape == (2, 15, SIZE // 4, SIZE // 4)
    assert PosePredictor(path, "cpu", precision="fp32").arithmetic == "float32"
    monkeypatch.setattr(inference, "cpu_has_fast_bfloat16", lambda: True)
    assert PosePredictor(path, "cpu").arithmetic == "bfloat16"


@needs_int8
def test_auto_falls_back_to_float32_when_the_calibration_does_not_fit(tmp_path, monkeypatch):
    path, _ = calibrated_model(tmp_path / "a.pt")
    other = tmp_path / "b.pt"
    save_checkpoint(other, tiny_network(block="inverted_residual"), PixelClassCodec(SIZE, 4))
    store_calibration(other, torch.load(path, weights_only=True)[CALIBRATION_KEY], "copied")
    monkeypatch.setattr(inference, "cpu_has_fast_bfloat16", lambda: False)
    assert PosePredictor(other, "cpu").arithmetic == "float32"
