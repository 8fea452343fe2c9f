"""The pose network and its self-describing checkpoints.

``PoseNet`` is a small fully-convolutional encoder-decoder: an encoder down to stride 32 for context, built of
either inverted-residual (MobileNetV2-style, ``block="inverted_residual"``) or ResNet basic blocks
(``block="basic"``: full 3x3 convolutions, fewer multiply-adds at high resolution and faster on a CPU per
parameter), or the ImageNet-pretrainable EfficientNet-Lite0 (``encoder="efficientnet_lite0"``, lite_encoder.py),
or Lite0 with the basic network's stem and stage 0 in place of its own (``encoder="lite0_basic_stem"``: Lite0 is
slow on a CPU at strides 2 and 4, model_training/graft_stem.py), a top-down feature pyramid back to stride 4,
and a head with ``out_channels`` maps. An optional *refinement* stage (``refine_channels`` > 0) looks at all the
head's class probabilities together, with the decoder features, at stride 8 through dilated convolutions whose reach
covers the whole map, and adds a correction to the logits: each pixel is still classified on its own by the head,
the refinement lets a joint's map depend on where the other joints are (a wrist far from every elbow candidate can
be pushed down). Its last convolution starts at zero, so a network extended from trained weights starts out
computing exactly what it computed before.
Input: RGB float (B, 3, S, S) normalised by ``normalize_images``; output: (B, C, S/4, S/4) where C = K + 1 logits
for the pixel-classification codec or K heatmaps for the regression baseline.

A checkpoint is a plain dict that torch.load(..., weights_only=True) can read: the weights, the model config, the
codec parameters, the skeleton's joint names, training metrics and a format version. ``load_checkpoint`` rebuilds
network and codec from the file alone.
"""

from __future__ import annotations

import copy
import hashlib
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gymnast_pose.codec import codec_from_params
from gymnast_pose.lite_encoder import LITE0_STAGE_CHANNELS, lite0_stages, lite0_stem
from gymnast_pose.skeleton import JOINT_NAMES

CHECKPOINT_FORMAT = 1
STEM_STAGE_WIDTH = 32  # the width of the basic network's stage 0, so that its trained weights can seed the hybrid
IMAGE_MEAN = (0.485, 0.456, 0.406)
IMAGE_STD = (0.229, 0.224, 0.225)


class ModelFileError(RuntimeError):
    """A model file is missing, unreadable, corrupt, or not a gymnast_pose checkpoint."""


@dataclass
class PoseNetConfig:
    """Architecture of ``PoseNet``: stage widths, blocks per stage, expansion, decoder width, output channels."""

    out_channels: int = 15
    stem_channels: int = 16
    stage_channels: tuple[int, ...] = (24, 48, 128, 320)  # strides 4, 8, 16, 32
    stage_blocks: tuple[int, ...] = (2, 3, 6, 4)
    expansion: int = 4
    decoder_channels: int = 96
    block: str = "inverted_residual"  # or "basic": two full 3x3 convolutions (ResNet basic block)
    refine_channels: int = 0  # 0: no refinement stage
    refine_dilations: tuple[int, ...] = (1, 2, 4, 8)  # one residual 3x3 block per entry, at stride 8
    encoder: str = ""  # "": stem and stages built from the fields above; "efficientnet_lite0": lite_encoder's;
    # "lite0_basic_stem": a basic-block stem and stage 0 (``stem_channels``, then STEM_STAGE_WIDTH) with a 1x1
    # adapter to Lite0's 24 channels, then Lite0's stages 1-3 (the strides 2 and 4 are where Lite0 is slow on a CPU)

    def __post_init__(self):
        self.stage_channels = tuple(self.stage_channels)
        self.stage_blocks = tuple(self.stage_blocks)
        self.refine_dilations = tuple(self.refine_dilations)


def _conv_bn_act(cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1, act: bool = True):
    layers = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """1x1 expand -> 3x3 depthwise (stride 1 or 2) -> 1x1 project, with a residual when shapes match."""

    def __init__(self, cin: int, cout: int, stride: int, expansion: int):
        super().__init__()
        hidden = cin * expansion
        self.block = nn.Sequential(
            _conv_bn_act(cin, hidden, 1),
            _conv_bn_act(hidden, hidden, 3, stride, groups=hidden),
            _conv_bn_act(hidden, cout, 1, act=False),
        )
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.block(x)
        return x + y if self.residual else y


class BasicBlock(nn.Module):
    """3x3 conv (stride 1 or 2) -> 3x3 conv, plus the input (through a strided 1x1 conv when shapes differ)."""

    def __init__(self, cin: int, cout: int, stride: int, expansion: int = 1):
        super().__init__()
        self.block = nn.Sequential(_conv_bn_act(cin, cout, 3, stride), _conv_bn_act(cout, cout, 3, act=False))
        self.shortcut = nn.Identity() if stride == 1 and cin == cout else _conv_bn_act(cin, cout, 1, stride, act=False)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.act(self.block(x) + self.shortcut(x))


class DilatedBlock(nn.Module):
    """Residual 3x3 convolution with dilation ``dilation`` (same size in and out), then ReLU."""

    def __init__(self, channels: int, dilation: int):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(channels, channels, 3, 1, dilation, dilation, bias=False),
                                  nn.BatchNorm2d(channels))
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.act(x + self.conv(x))


class Refinement(nn.Module):
    """(decoder features (B, D, H, W), logits (B, C, H, W)) at stride 4 -> logit correction (B, C, H, W).

    Works at stride 8 (H and W even): softmax probabilities and features pooled by 2, a 1x1 mix, the dilated blocks,
    a zero-initialised 1x1 to C channels, upsampled bilinearly back to stride 4."""

    def __init__(self, features: int, classes: int, channels: int, dilations: tuple[int, ...]):
        super().__init__()
        self.mix = _conv_bn_act(features + classes, channels, 1)
        self.blocks = nn.Sequential(*[DilatedBlock(channels, d) for d in dilations])
        self.out = nn.Conv2d(channels, classes, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, features, logits):
        probs = torch.softmax(logits.float(), dim=1).to(features.dtype)
        z = nn.functional.avg_pool2d(torch.cat([features, probs], dim=1), 2)
        delta = self.out(self.blocks(self.mix(z)))
        return nn.functional.interpolate(delta, scale_factor=2.0, mode="bilinear", align_corners=False)


BLOCKS = {"inverted_residual": InvertedResidual, "basic": BasicBlock}


class PoseNet(nn.Module):
    """(B, 3, S, S) normalised RGB -> (B, out_channels, S/4, S/4)."""

    def __init__(self, config: PoseNetConfig):
        super().__init__()
        self.config = config
        c = config
        if c.encoder == "efficientnet_lite0":
            if tuple(c.stage_channels) != LITE0_STAGE_CHANNELS:
                raise ValueError(f"the efficientnet_lite0 encoder has stage_channels {LITE0_STAGE_CHANNELS}")
            self.stem, self.stages = lite0_stem(), lite0_stages()
        elif c.encoder == "lite0_basic_stem":
            if tuple(c.stage_channels) != LITE0_STAGE_CHANNELS:
                raise ValueError(f"the lite0_basic_stem encoder has stage_channels {LITE0_STAGE_CHANNELS}")
            self.stem, self.stages = self._basic_stem_encoder(c)
        elif c.encoder:
            raise ValueError(f"unknown encoder {c.encoder!r}; known: efficientnet_lite0, lite0_basic_stem")
        else:
            self.stem, self.stages = self._own_encoder(c)
        d = c.decoder_channels
        self.laterals = nn.ModuleList([_conv_bn_act(ch, d, 1) for ch in c.stage_channels])
        self.smooth = nn.ModuleList([_conv_bn_act(d, d, 3, groups=d) for _ in c.stage_channels[:-1]])
        self.head = nn.Sequential(_conv_bn_act(d, d, 3), nn.Conv2d(d, c.out_channels, 1))
        self.refine = (Refinement(d, c.out_channels, c.refine_channels, c.refine_dilations)
                       if c.refine_channels else None)

    @staticmethod
    def _own_encoder(c: PoseNetConfig) -> tuple[nn.Module, nn.ModuleList]:
        if c.block not in BLOCKS:
            raise ValueError(f"unknown block type {c.block!r}; known: {sorted(BLOCKS)}")
        block = BLOCKS[c.block]
        stem = _conv_bn_act(3, c.stem_channels, 3, 2)  # built first: seeded runs draw the same initial weights
        stages, cin = [], c.stem_channels
        for cout, blocks in zip(c.stage_channels, c.stage_blocks):
            layers = [block(cin, cout, 2, c.expansion)]
            layers += [block(cout, cout, 1, c.expansion) for _ in range(blocks - 1)]
            stages.append(nn.Sequential(*layers))
            cin = cout
        return stem, nn.ModuleList(stages)

    @staticmethod
    def _basic_stem_encoder(c: PoseNetConfig) -> tuple[nn.Module, nn.ModuleList]:
        stem = _conv_bn_act(3, c.stem_channels, 3, 2)
        adapter = nn.Sequential(nn.Conv2d(STEM_STAGE_WIDTH, LITE0_STAGE_CHANNELS[0], 1, bias=False),
                                nn.BatchNorm2d(LITE0_STAGE_CHANNELS[0]))
        stage0 = nn.Sequential(BasicBlock(c.stem_channels, STEM_STAGE_WIDTH, 2), adapter)
        return stem, nn.ModuleList([stage0, *lite0_stages()[1:]])

    def forward(self, x):
        feats = []
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        y = self.laterals[-1](feats[-1])
        for i in range(len(feats) - 2, -1, -1):
            y = nn.functional.interpolate(y, size=feats[i].shape[-2:], mode="nearest")
            y = self.smooth[i](y + self.laterals[i](feats[i]))
        logits = self.head(y)
        if self.refine is not None:
            logits = logits + self.refine(y, logits)
        return logits


def without_refinement(network: nn.Module) -> nn.Module:
    """A copy of ``network`` without its refinement stage (the head's own logits), or ``network`` itself when it
    has none. The video tracker reads these: its thresholds were chosen on them (estimator.PoseEstimator)."""
    if getattr(network, "refine", None) is None:
        return network
    base = copy.deepcopy(network)
    base.refine = None
    if isinstance(getattr(base, "config", None), PoseNetConfig):
        base.config = replace(base.config, refine_channels=0)  # so that it saves and loads as what it is
    return base


def normalize_images(images: torch.Tensor) -> torch.Tensor:
    """uint8 RGB (B, S, S, 3) or (B, 3, S, S) -> float (B, 3, S, S) normalised with ImageNet mean/std."""
    channels_last = images.shape[-1] == 3
    shape = (1, 1, 1, 3) if channels_last else (1, 3, 1, 1)
    x = images.float()
    mean = torch.tensor(IMAGE_MEAN, device=x.device, dtype=torch.float32).view(shape)
    std = torch.tensor(IMAGE_STD, device=x.device, dtype=torch.float32).view(shape)
    # (x / 255 - mean) / std as one multiply-add pass: x * (1 / (255 std)) + (-mean / std). On (B, S, S, 3) input it
    # runs in that memory order (5x faster than on the permuted view) and the result is a channels-last view.
    x = torch.addcmul(-mean / std, x, 1.0 / (255.0 * std))
    return x.permute(0, 3, 1, 2) if channels_last else x


def fuse_batchnorm(module: nn.Module) -> nn.Module:
    """Fold every Conv2d + BatchNorm2d pair of ``_conv_bn_act`` blocks into one biased Conv2d (inference only, in
    place). About 2x faster on CPU together with channels-last memory layout."""
    for child in module.children():
        if isinstance(child, nn.Sequential) and len(child) >= 2 and isinstance(child[0], nn.Conv2d) \
                and isinstance(child[1], nn.BatchNorm2d):
            conv, bn = child[0], child[1]
            fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                              conv.dilation, conv.groups, bias=True).to(conv.weight.device)
            factor = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            with torch.no_grad():
                fused.weight.copy_(conv.weight * factor.view(-1, 1, 1, 1))
                fused.bias.copy_(bn.bias - bn.running_mean * factor)
            child[0], child[1] = fused, nn.Identity()
        else:
            fuse_batchnorm(child)
    return module


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def save_checkpoint(path, model: PoseNet, codec, metrics: dict | None = None, training: dict | None = None,
                    extra: dict | None = None, half: bool = False) -> None:
    """Write a self-describing checkpoint atomically (temporary file + rename).

    ``half`` stores floating weights as float16 (half the size; they are cast back to float32 on load).
    """
    state = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu()
             for k, v in model.state_dict().items()}
    payload = {
        "format": CHECKPOINT_FORMAT,
        "kind": "gymnast_pose.PoseNet",
        "model_config": asdict(model.config),
        "codec": codec.params(),
        "joint_names": list(JOINT_NAMES),
        "state_dict": state,
        "metrics": metrics or {},
        "training": training or {},
    }
    if extra:
        payload.update(extra)
    write_checkpoint_payload(path, payload)


def write_checkpoint_payload(path, payload: dict) -> Path:
    """Write a checkpoint dict (as ``read_checkpoint`` returns it) atomically: a temporary file, then a rename, so
    a crash never leaves half a model file behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


@dataclass
class LoadedModel:
    """A network ready for inference with the codec that decodes its output, and the checkpoint's metadata."""

    network: PoseNet
    codec: object
    path: Path
    metadata: dict = field(default_factory=dict)
    sha256: str = ""


def read_checkpoint(path) -> dict:
    """Read a checkpoint dict, turning every way it can fail into a ``ModelFileError`` with a clear message."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"Model file not found: {path}")
    if not path.is_file():
        raise ModelFileError(f"Model path is not a file: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a damaged file can fail anywhere inside the unpickler
        raise ModelFileError(
            f"Model file {path} is corrupt or not a PyTorch checkpoint ({exc.__class__.__name__}).") from exc
    if not isinstance(payload, dict) or payload.get("kind") != "gymnast_pose.PoseNet":
        raise ModelFileError(f"{path} is not a gymnast_pose model checkpoint.")
    if payload.get("format", 0) > CHECKPOINT_FORMAT:
        raise ModelFileError(
            f"{path} was written by a newer gymnast_pose (format {payload['format']}); please upgrade.")
    if list(payload.get("joint_names", [])) != list(JOINT_NAMES):
        raise ModelFileError(f"{path} was trained for other keypoints: {payload.get('joint_names')}")
    return payload


def file_sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_checkpoint(path, device: str | torch.device = "cpu") -> LoadedModel:
    """Rebuild the network (eval mode, float32) and its codec from a checkpoint file."""
    payload = read_checkpoint(path)
    try:
        network = PoseNet(PoseNetConfig(**payload["model_config"]))
        state = {k: (v.float() if v.is_floating_point() else v) for k, v in payload["state_dict"].items()}
        network.load_state_dict(state)
        codec = codec_from_params(payload["codec"])
    except (KeyError, TypeError, RuntimeError) as exc:
        raise ModelFileError(f"Model file {path} does not match this version of gymnast_pose: {exc}") from exc
    network.eval().to(device)
    meta = {k: v for k, v in payload.items() if k != "state_dict"}
    return LoadedModel(network, codec, Path(path), meta, file_sha256(path))


def bundled_model_path() -> Path:
    """The model shipped in resources/ (override with the GYMNAST_POSE_MODEL environment variable)."""
    env = os.environ.get("GYMNAST_POSE_MODEL")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent
    for candidate in (here / "resources" / "gymnast_pose.pt", here.parent / "resources" / "gymnast_pose.pt"):
        if candidate.exists():
            return candidate
    return here.parent / "resources" / "gymnast_pose.pt"


def as_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()
