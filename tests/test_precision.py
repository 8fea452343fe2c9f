"""The network's arithmetic: float32, bfloat16 (fast on CPUs with AVX512-BF16 / AMX) and float16 (CUDA)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from gymnast_pose.commands.analyze import PRECISION_CHOICES
from gymnast_pose.inference import PRECISIONS, PosePredictor, cpu_has_fast_bfloat16, select_dtype
from model_training.train import use_bfloat16
from tests.model_fixtures import write_tiny_model


def test_forced_precisions_and_unknown_names():
    cpu = torch.device("cpu")
    assert select_dtype(cpu, "fp32") is torch.float32
    assert select_dtype(cpu, "bf16") is torch.bfloat16
    assert select_dtype(torch.device("cuda"), "auto") is torch.float16
    assert select_dtype(torch.device("mps"), "auto") is torch.float32
    with pytest.raises(ValueError, match="unknown precision"):
        select_dtype(cpu, "int4")
    assert PRECISION_CHOICES == PRECISIONS


def test_auto_on_cpu_follows_onednn_bfloat16_support():
    fast = cpu_has_fast_bfloat16()
    assert select_dtype(torch.device("cpu")) is (torch.bfloat16 if fast else torch.float32)
    assert use_bfloat16("auto", torch.device("cpu")) is fast
    assert use_bfloat16("fp32", torch.device("cuda")) is False
    with pytest.raises(SystemExit):
        use_bfloat16("double", torch.device("cpu"))


def test_bfloat16_probabilities_stay_close_to_float32(tmp_path):
    model = write_tiny_model(tmp_path / "tiny.pt")
    crops = np.random.default_rng(0).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    exact = PosePredictor(model, "cpu", precision="fp32").probability_maps(crops)
    fast = PosePredictor(model, "cpu", precision="bf16").probability_maps(crops)
    assert exact.dtype == fast.dtype == torch.float32
    assert exact.shape == fast.shape == (3, 15, 16, 16)
    assert torch.allclose(fast.sum(1), torch.ones(3, 16, 16), atol=1e-4)
    assert (fast - exact).abs().max() < 0.03


def test_the_frozen_cpu_network_gives_the_eager_networks_outputs(tmp_path):
    path = write_tiny_model(tmp_path / "tiny.pt")
    crops = np.random.default_rng(1).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    frozen = PosePredictor(path, device="cpu", input_size=64, precision="fp32")
    eager = PosePredictor(path, device="cpu", input_size=64, precision="fp32", frozen=False)
    assert not isinstance(frozen.network, type(eager.network))  # really a TorchScript graph
    np.testing.assert_allclose(frozen.probability_maps(crops).numpy(), eager.probability_maps(crops).numpy(),
                               rtol=0, atol=1e-5)
    np.testing.assert_allclose(frozen.probability_maps(crops[:1]).numpy(), eager.probability_maps(crops[:1]).numpy(),
                               rtol=0, atol=1e-5)


def test_half_precision_networks_compute_their_logits_in_float32():
    torch.manual_seed(0)
    from gymnast_pose.inference import FloatOutput, with_float_output
    from gymnast_pose.model import PoseNet, PoseNetConfig, fuse_batchnorm
    from tests.model_fixtures import TINY_CONFIG

    net = fuse_batchnorm(PoseNet(PoseNetConfig(block="basic", refine_channels=8, **TINY_CONFIG)).eval())
    torch.nn.init.normal_(net.refine.out.weight, std=0.3)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        exact = net(x)
        half = with_float_output(copy.deepcopy(net).to(torch.bfloat16))
        out = half(x.to(torch.bfloat16))
        plain = copy.deepcopy(net).to(torch.bfloat16)(x.to(torch.bfloat16))
    assert isinstance(half.head[-1], FloatOutput) and isinstance(half.refine.out, FloatOutput)
    assert out.dtype == torch.float32 and plain.dtype == torch.bfloat16
    # the float32 output layer removes the rounding of the logits themselves: closer to the float32 network
    assert (out - exact).abs().mean() < (plain.float() - exact).abs().mean()
