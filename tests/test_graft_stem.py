"""The hybrid encoder (the basic network's stem before Lite0's stages 1-3) and the graft that seeds it."""

import copy

import pytest
import torch
from torch import nn

from gymnast_pose.codec import PixelClassCodec
from gymnast_pose.model import STEM_STAGE_WIDTH, PoseNet, PoseNetConfig, load_checkpoint, save_checkpoint
from model_training.graft_stem import distill_stem, fit_adapter, graft_network, main, stage0_r2

LITE0 = dict(encoder="efficientnet_lite0", stem_channels=32, stage_channels=(24, 40, 112, 320), decoder_channels=16,
             refine_channels=8)
BASIC = dict(block="basic", stem_channels=24, stage_channels=(STEM_STAGE_WIDTH, 64, 128, 256),
             stage_blocks=(1, 2, 2, 2), expansion=1, decoder_channels=16)


def randomised(network: nn.Module, seed: int) -> nn.Module:
    """``network`` with random batch-norm statistics and affine terms, so that copies can be told apart."""
    generator = torch.Generator().manual_seed(seed)
    for module in network.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.copy_(torch.randn(module.num_features, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
            module.weight.data.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
            module.bias.data.copy_(torch.randn(module.num_features, generator=generator) * 0.1)
    return network.eval()


def test_the_hybrid_keeps_lite0s_stage_shapes_at_strides_4_to_32():
    network = PoseNet(PoseNetConfig(**{**LITE0, "encoder": "lite0_basic_stem", "stem_channels": 24})).eval()
    x = network.stem(torch.zeros(1, 3, 128, 128))
    shapes = []
    for stage in network.stages:
        x = stage(x)
        shapes.append(tuple(x.shape[1:]))
    assert shapes == [(24, 32, 32), (40, 16, 16), (112, 8, 8), (320, 4, 4)]
    with pytest.raises(ValueError, match="stage_channels"):
        PoseNet(PoseNetConfig(encoder="lite0_basic_stem", stage_channels=(32, 64, 128, 256)))


def test_the_graft_takes_the_stem_from_one_network_and_the_rest_from_the_other():
    lite0 = randomised(PoseNet(PoseNetConfig(**LITE0)), 1)
    basic = randomised(PoseNet(PoseNetConfig(**BASIC)), 2)
    hybrid = graft_network(lite0, basic)
    ours, theirs, donor = hybrid.state_dict(), lite0.state_dict(), basic.state_dict()
    for key, value in ours.items():
        if key.startswith(("stem.", "stages.0.0.")):
            assert torch.equal(value, donor[key]), key
        elif not key.startswith("stages.0.1."):
            assert torch.equal(value, theirs[key]), key
    with pytest.raises(SystemExit, match="efficientnet_lite0"):
        graft_network(basic, basic)
    with pytest.raises(SystemExit, match="basic-block"):
        graft_network(lite0, lite0)


def test_the_adapter_recovers_a_map_that_is_exactly_linear():
    """When Lite0's stage 0 is, by construction, the donor's block followed by a known 1x1 convolution with bias,
    least squares must find that convolution and explain all of the variance."""
    lite0 = randomised(PoseNet(PoseNetConfig(**LITE0)), 3)
    basic = randomised(PoseNet(PoseNetConfig(**BASIC)), 4)
    hybrid = graft_network(lite0, basic)
    known = nn.Conv2d(STEM_STAGE_WIDTH, 24, 1)
    lite0.stem = copy.deepcopy(hybrid.stem)
    lite0.stages[0] = nn.Sequential(copy.deepcopy(hybrid.stages[0][0]), known)
    generator = torch.Generator().manual_seed(5)
    batches = [torch.randn(4, 3, 64, 64, generator=generator) for _ in range(3)]
    r2 = fit_adapter(hybrid, lite0, batches)
    assert r2.shape == (24,) and r2.min() > 0.999
    with torch.no_grad():
        x = torch.randn(2, 3, 64, 64, generator=generator)
        assert torch.allclose(hybrid.stages[0](hybrid.stem(x)), lite0.stages[0](lite0.stem(x)), atol=1e-4)


def test_distillation_trains_only_the_cheap_layers_towards_lite0s_stage_0():
    lite0 = randomised(PoseNet(PoseNetConfig(**LITE0)), 8)
    basic = randomised(PoseNet(PoseNetConfig(**BASIC)), 9)
    hybrid = graft_network(lite0, basic)
    untouched = {k: v.clone() for k, v in hybrid.state_dict().items() if not k.startswith(("stem.", "stages.0."))}
    generator = torch.Generator().manual_seed(10)
    batches = [torch.randn(4, 3, 32, 32, generator=generator) for _ in range(2)]
    fit_adapter(hybrid, lite0, batches)
    before = stage0_r2(hybrid, lite0, batches).mean()
    losses = distill_stem(hybrid, lite0, batches, steps=60, lr=1e-3)
    assert len(losses) == 60 and sum(losses[-5:]) < 0.9 * sum(losses[:5])
    assert stage0_r2(hybrid, lite0, batches).mean() > before
    assert all(torch.equal(hybrid.state_dict()[k], v) for k, v in untouched.items())
    with pytest.raises(ValueError, match="no batches"):
        distill_stem(hybrid, lite0, [], steps=1)


def test_the_command_writes_a_checkpoint_that_loads_as_the_hybrid(tmp_path):
    from tests.test_training import make_store

    codec = PixelClassCodec()
    save_checkpoint(tmp_path / "lite0.pt", randomised(PoseNet(PoseNetConfig(**LITE0)), 6), codec)
    save_checkpoint(tmp_path / "basic.pt", randomised(PoseNet(PoseNetConfig(**BASIC)), 7), codec)
    make_store(tmp_path)
    main(["--lite0", str(tmp_path / "lite0.pt"), "--stem-from", str(tmp_path / "basic.pt"),
          "--store", str(tmp_path / "store.npz"),
          "--samples", "8", "--input-size", "64", "--distill-steps", "2", "--out", str(tmp_path / "graft.pt")])
    loaded = load_checkpoint(tmp_path / "graft.pt")
    assert loaded.network.config.encoder == "lite0_basic_stem"
    assert loaded.metadata["training"]["grafted"]["stage0_r2_mean"] <= 1.0  # R^2 may be negative after 2 steps
    assert loaded.metadata["training"]["grafted"]["distill_steps"] == 2
    assert loaded.network(torch.zeros(1, 3, 64, 64)).shape == (1, 15, 16, 16)
