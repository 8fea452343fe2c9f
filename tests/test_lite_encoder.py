"""The EfficientNet-Lite0 encoder: its network, the reading of released ImageNet weights, and training from them.

The released file is stood in for by a state dict written here under the release's key names (random values), so
these tests need neither the network nor the weights package."""

import numpy as np
import pytest
import torch

from gymnast_pose.lite_encoder import (
    LITE0_INPUT_MEAN,
    LITE0_INPUT_STD,
    fold_input_scaling,
    lite0_key_map,
    load_lite0_imagenet,
)
from gymnast_pose.model import IMAGE_MEAN, IMAGE_STD, PoseNet, PoseNetConfig, load_checkpoint, normalize_images
from model_training.train import TrainConfig, train
from tests.test_training import make_store

LITE0 = dict(encoder="efficientnet_lite0", stem_channels=32, stage_channels=(24, 40, 112, 320), decoder_channels=16)


def released_state_dict(seed: int = 0) -> dict:
    """A state dict under the release's names with the shapes of EfficientNet-Lite0, random values, and the
    classifier layers our encoder leaves out."""
    generator = torch.Generator().manual_seed(seed)
    target = PoseNet(PoseNetConfig(**LITE0)).state_dict()
    inverse = {}
    for stage, blocks in enumerate((3, 2, 6, 5)):
        for j in range(blocks):
            index = (0, 3, 5, 11)[stage] + j
            for ours, theirs in (("expand.0", "_expand_conv"), ("expand.1", "_bn0"), ("depthwise.0", "_depthwise_conv"),
                                 ("depthwise.1", "_bn1"), ("project.0", "_project_conv"), ("project.1", "_bn2")):
                inverse[f"stages.{stage}.{j}.{ours}."] = f"_blocks.{index}.{theirs}."
    inverse.update({"stem.0.": "_conv_stem.", "stem.1.": "_bn0."})
    released = {}
    for key, value in target.items():
        for ours, theirs in inverse.items():
            if key.startswith(ours):
                name = theirs + key[len(ours):]
                if value.is_floating_point():
                    released[name] = torch.rand(value.shape, generator=generator) + 0.5
                else:
                    released[name] = value.clone()
    released["_conv_head.weight"] = torch.zeros(1280, 320, 1, 1)
    released["_fc.weight"] = torch.zeros(1000, 1280)
    return released


def test_the_encoder_taps_strides_4_to_32_with_the_released_widths():
    network = PoseNet(PoseNetConfig(**LITE0, out_channels=15)).eval()
    x = torch.zeros(1, 3, 128, 128)
    feats = network.stem(x)
    shapes = []
    for stage in network.stages:
        feats = stage(feats)
        shapes.append(tuple(feats.shape[1:]))
    assert shapes == [(24, 32, 32), (40, 16, 16), (112, 8, 8), (320, 4, 4)]
    assert network(x).shape == (1, 15, 32, 32)
    with pytest.raises(ValueError, match="stage_channels"):
        PoseNet(PoseNetConfig(**{**LITE0, "stage_channels": (24, 48, 128, 320)}))
    with pytest.raises(ValueError, match="unknown encoder"):
        PoseNet(PoseNetConfig(encoder="resnet"))


def test_every_released_tensor_lands_where_it_belongs(tmp_path):
    released = released_state_dict()
    mapping = lite0_key_map(released)
    assert "_fc.weight" not in mapping and "_conv_head.weight" not in mapping
    torch.save(released, tmp_path / "lite0.pth")
    network = PoseNet(PoseNetConfig(**LITE0))
    copied = load_lite0_imagenet(network, tmp_path / "lite0.pth", IMAGE_MEAN, IMAGE_STD)
    ours = network.state_dict()
    assert copied == len(mapping) == len([k for k in ours if k.startswith(("stem.", "stages."))])
    for theirs, name in mapping.items():
        if name not in ("stem.0.weight", "stem.1.running_mean"):  # these two are adapted to our normalisation
            assert torch.equal(ours[name], released[theirs]), name
    assert torch.equal(ours["stages.3.4.project.0.weight"], released["_blocks.15._project_conv.weight"])


def test_the_folded_stem_sees_our_normalisation_as_the_released_one_saw_its_own():
    generator = torch.Generator().manual_seed(1)
    conv = torch.randn(32, 3, 3, 3, generator=generator)
    bn_mean = torch.randn(32, generator=generator)
    pixels = torch.randint(0, 256, (2, 24, 24, 3), generator=generator, dtype=torch.uint8)
    theirs_in = (pixels.float().permute(0, 3, 1, 2) - LITE0_INPUT_MEAN) / LITE0_INPUT_STD
    ours_in = normalize_images(pixels)
    weight, mean = fold_input_scaling(conv, bn_mean, IMAGE_MEAN, IMAGE_STD)
    theirs = torch.nn.functional.conv2d(theirs_in, conv, padding=1) - bn_mean.view(1, -1, 1, 1)
    ours = torch.nn.functional.conv2d(ours_in, weight, padding=1) - mean.view(1, -1, 1, 1)
    inner = (slice(None), slice(None), slice(1, -1), slice(1, -1))  # zero padding differs at the border
    np.testing.assert_allclose(ours[inner].numpy(), theirs[inner].numpy(), rtol=1e-4, atol=1e-3)
    assert not torch.allclose(weight, conv)


def test_a_file_that_is_not_the_release_is_refused(tmp_path):
    network = PoseNet(PoseNetConfig(**LITE0))
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable"):
        load_lite0_imagenet(network, tmp_path / "junk.pth", IMAGE_MEAN, IMAGE_STD)
    partial = {k: v for k, v in released_state_dict().items() if not k.startswith("_blocks.15.")}
    torch.save(partial, tmp_path / "partial.pth")
    with pytest.raises(ValueError, match="lacks"):
        load_lite0_imagenet(network, tmp_path / "partial.pth", IMAGE_MEAN, IMAGE_STD)


def test_training_from_released_weights_keeps_the_frozen_early_layers(tmp_path):
    make_store(tmp_path)
    torch.save(released_state_dict(), tmp_path / "lite0.pth")
    cfg = TrainConfig(store=str(tmp_path / "store.npz"), out=str(tmp_path / "run"), input_size=64, epochs=1,
                      batch_size=4, val_range="11-12", arch="lite0", model={"decoder_channels": 16},
                      pretrained_encoder=str(tmp_path / "lite0.pth"), freeze="early", device="cpu",
                      precision="fp32")
    assert [m["epoch"] for m in train(cfg, "test")] == [1]
    trained = load_checkpoint(tmp_path / "run" / "last.pt").network.state_dict()
    seeded = PoseNet(PoseNetConfig(**LITE0))
    load_lite0_imagenet(seeded, tmp_path / "lite0.pth", IMAGE_MEAN, IMAGE_STD)
    seeded = seeded.state_dict()
    for key in ("stem.0.weight", "stem.1.running_var", "stages.0.2.project.0.weight"):
        assert torch.equal(trained[key], seeded[key]), key
    assert not torch.equal(trained["stages.3.4.project.0.weight"], seeded["stages.3.4.project.0.weight"])


def test_pretrained_weights_need_the_lite0_encoder(tmp_path):
    make_store(tmp_path)
    cfg = TrainConfig(store=str(tmp_path / "store.npz"), out=str(tmp_path / "run"), input_size=64, epochs=1,
                      batch_size=4, val_range="11-12", arch="basic", pretrained_encoder="installed", device="cpu")
    with pytest.raises(SystemExit, match="lite0"):
        list(train(cfg, "test"))
