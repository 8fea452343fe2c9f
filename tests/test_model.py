"""The network, BN fusion and self-describing checkpoints."""

import copy

import pytest
import torch

from gymnast_pose.codec import GaussianHeatmapCodec, PixelClassCodec
from gymnast_pose.model import (
    ModelFileError,
    PoseNet,
    PoseNetConfig,
    count_parameters,
    fuse_batchnorm,
    load_checkpoint,
    save_checkpoint,
)
from gymnast_pose.skeleton import K
from tests.model_fixtures import tiny_network


def test_default_network_is_small_and_has_stride_four():
    net = PoseNet(PoseNetConfig()).eval()
    assert count_parameters(net) <= 5_000_000
    with torch.no_grad():
        out = net(torch.zeros(1, 3, 192, 192))
    assert out.shape == (1, K + 1, 48, 48)


@pytest.mark.parametrize("block", ["inverted_residual", "basic"])
def test_fused_network_matches_original(block):
    torch.manual_seed(0)
    net = tiny_network(block=block)
    for m in net.modules():  # give BatchNorm non-trivial statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    net.eval()
    x = torch.randn(2, 3, 64, 64)
    fused = fuse_batchnorm(copy.deepcopy(net))
    with torch.no_grad():
        assert torch.allclose(net(x), fused(x), atol=1e-4)


@pytest.mark.parametrize("codec", [PixelClassCodec(64, 4), GaussianHeatmapCodec(64, 4)])
def test_checkpoint_round_trip_rebuilds_network_and_codec(tmp_path, codec):
    net = tiny_network(codec.out_channels).eval()
    path = tmp_path / "m.pt"
    save_checkpoint(path, net, codec, metrics={"pck": 0.5}, training={"epochs": 3}, half=True)
    loaded = load_checkpoint(path)
    assert loaded.codec == codec
    assert loaded.metadata["metrics"] == {"pck": 0.5}
    assert len(loaded.sha256) == 64
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(net(x), loaded.network(x), atol=2e-2)


def test_basic_block_checkpoint_round_trip_and_unknown_block(tmp_path):
    net = tiny_network(block="basic").eval()
    save_checkpoint(tmp_path / "b.pt", net, PixelClassCodec(64, 4))
    loaded = load_checkpoint(tmp_path / "b.pt")
    assert loaded.network.config.block == "basic"
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(net(x), loaded.network(x), atol=1e-5)
    with pytest.raises(ValueError, match="unknown block"):
        PoseNet(PoseNetConfig(block="transformer"))


def test_missing_corrupt_and_foreign_files_give_clear_errors(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        load_checkpoint(tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"this is not a checkpoint")
    with pytest.raises(ModelFileError, match="corrupt"):
        load_checkpoint(bad)
    truncated = tmp_path / "trunc.pt"
    save_checkpoint(truncated, tiny_network(), PixelClassCodec(64, 4))
    truncated.write_bytes(truncated.read_bytes()[:500])
    with pytest.raises(ModelFileError):
        load_checkpoint(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(ModelFileError, match="not a gymnast_pose"):
        load_checkpoint(foreign)


def test_normalize_images_gives_the_same_values_for_both_memory_orders():
    import numpy as np
    import torch

    from gymnast_pose.model import IMAGE_MEAN, IMAGE_STD, normalize_images

    images = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3), dtype=np.uint8))
    from_nhwc = normalize_images(images)
    from_nchw = normalize_images(images.permute(0, 3, 1, 2).contiguous())
    expected = (images.permute(0, 3, 1, 2).float() / 255 - torch.tensor(IMAGE_MEAN).view(1, 3, 1, 1)) / torch.tensor(
        IMAGE_STD
    ).view(1, 3, 1, 1)
    assert from_nhwc.shape == (2, 3, 8, 8)
    torch.testing.assert_close(from_nhwc, expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(from_nchw, expected, atol=1e-5, rtol=0)


def test_refinement_stage_starts_as_the_network_it_extends_and_round_trips(tmp_path):
    torch.manual_seed(0)
    plain = tiny_network(block="basic").eval()
    refined = PoseNet(PoseNetConfig(block="basic", refine_channels=8, refine_dilations=(1, 2),
                                    **{k: v for k, v in plain.config.__dict__.items()
                                       if k not in ("block", "refine_channels", "refine_dilations")})).eval()
    missing, unexpected = refined.load_state_dict(plain.state_dict(), strict=False)
    assert missing and all(key.startswith("refine.") for key in missing) and not unexpected
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(refined(x), plain(x))  # the correction's last layer starts at zero
        torch.nn.init.normal_(refined.refine.out.weight, std=0.5)
        changed = refined(x)
    assert changed.shape == (2, K + 1, 16, 16) and not torch.allclose(changed, plain(x))
    save_checkpoint(tmp_path / "r.pt", refined, PixelClassCodec(64, 4))
    loaded = load_checkpoint(tmp_path / "r.pt")
    assert loaded.network.config.refine_dilations == (1, 2)
    with torch.no_grad():
        assert torch.allclose(loaded.network(x), changed, atol=1e-5)
        assert torch.allclose(fuse_batchnorm(copy.deepcopy(loaded.network))(x), changed, atol=1e-4)
