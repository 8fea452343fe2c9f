"""Run the pose network on image regions: the single-image path that the video estimator reuses.

A ``Region`` is a square of an image, possibly rotated: centre (cx, cy) and side in image pixels, and an angle in
degrees (counter-clockwise rotation of the image content before cropping; 180 turns an upside-down athlete upright).
``PosePredictor`` warps each region to the network's input (S x S, default the checkpoint's ``inference_size``), runs
the network in batches, decodes with the checkpoint's own codec, and maps the keypoints back to image pixels.

Outputs: keypoints (N, K, 2) float32 x, y in image pixels and scores (N, K) float32 in [0, 1] (for the
pixel-classification model: the probability of the keypoint's class at the chosen pixel).
"""

from __future__ import annotations

import copy
import os
import warnings
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from gymnast_pose.codec import PixelClassCodec
from gymnast_pose.model import (
    LoadedModel,
    ModelFileError,
    bundled_model_path,
    fuse_batchnorm,
    load_checkpoint,
    normalize_images,
    without_refinement,
)
from gymnast_pose.quantized import CALIBRATION_KEY, REFINED_CALIBRATION_KEY, int8_supported, quantized_network
from gymnast_pose.score_scale import ScoreScale
from gymnast_pose.skeleton import FLIP_PERMUTATION, K

PAD_VALUE = (127, 127, 127)


def frozen_for_cpu(network: torch.nn.Module, input_size: int, dtype: torch.dtype) -> torch.nn.Module:
    """``network`` traced, frozen and optimised for inference with TorchScript (weights folded into constants,
    convolutions fused with what follows them), or ``network`` itself if tracing fails.

    On the 2-core CPU it runs a batch of four 256-px crops in 18.5-19.8 ms instead of 20.9-23.4 (bfloat16), with
    outputs equal to the last bit for any batch size and input size (checked at 192-320 px); tracing takes about
    a second when the model loads. The network is fully convolutional and its only shape-dependent step (the
    decoder's upsampling to the size of the skip connection) is traced from tensor sizes, so one trace serves all.
    """
    example = torch.zeros(1, 3, input_size, input_size, dtype=dtype).contiguous(memory_format=torch.channels_last)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TracerWarnings about Python-side shape arithmetic
            traced = torch.jit.trace(network, example)
            return torch.jit.optimize_for_inference(torch.jit.freeze(traced.eval()))
    except Exception:  # an unusual build of torch without TorchScript: eager mode is only a little slower
        return network


class FloatOutput(torch.nn.Module):
    """A network's 1x1 output convolution run in float32 on half-precision (bfloat16 / float16) features.

    The rest of the network stays in half precision; only the last layer, a few million multiply-adds per crop,
    sums its inputs in float32. bfloat16 keeps 8 bits of mantissa, so a logit near 10 is rounded to steps of 0.06;
    the sub-pixel refinement reads such differences between neighbouring cells, and the rounding showed as jitter:
    on the wall handstand's still second, smoothed, 2.04 % of the torso with bfloat16 logits against 1.79 % with
    float32 ones (``benchmarks/real_clips.py``). It is written as a matrix product over the channels of the
    channels-last features: as a float32 ``Conv2d`` on converted features the frozen graph ran at about half the
    crops/s of the all-bfloat16 one; as a product (same outputs within 1e-7) it costs 15-30 %: 256 px crops in
    batches of 16, the two builds alternated in one process, 253 / 264 crops/s against 298 / 368."""

    def __init__(self, conv: torch.nn.Conv2d):
        super().__init__()
        if tuple(conv.kernel_size) != (1, 1) or conv.groups != 1:
            raise ValueError("FloatOutput replaces a plain 1x1 convolution")
        bias = conv.bias if conv.bias is not None else torch.zeros(conv.out_channels)
        self.register_buffer("weight", conv.weight.detach().float().flatten(1))  # (C_out, C_in)
        self.register_buffer("bias", bias.detach().float())

    def forward(self, x):
        """x (B, C_in, H, W) half precision -> (B, C_out, H, W) float32."""
        y = torch.nn.functional.linear(x.permute(0, 2, 3, 1).float(), self.weight, self.bias)
        return y.permute(0, 3, 1, 2)


def with_float_output(network: torch.nn.Module) -> torch.nn.Module:
    """``network`` (a fused ``PoseNet`` already cast to half precision) with its output convolutions in float32
    (``FloatOutput``): the head's last layer and, when there is one, the refinement's."""
    network.head[-1] = FloatOutput(network.head[-1])
    if getattr(network, "refine", None) is not None:
        network.refine.out = FloatOutput(network.refine.out)
    return network


def select_device(preference: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then Apple's MPS, then the CPU; anything else is passed to torch.device."""
    if preference != "auto":
        if preference.startswith("cuda") and not torch.cuda.is_available():
            raise RuntimeError("CUDA was requested but no CUDA GPU is available to PyTorch.")
        return torch.device(preference)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


PRECISIONS = ("auto", "fp32", "bf16", "fp16", "int8")


def cpu_has_fast_bfloat16() -> bool:
    """Whether oneDNN has fast bfloat16 kernels on this CPU (AVX512-BF16 or AMX)."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def select_dtype(device: torch.device, precision: str = "auto") -> torch.dtype:
    """The network's arithmetic. ``auto``: float16 on CUDA; bfloat16 on a CPU whose oneDNN has fast bfloat16
    kernels (AVX512-BF16 or AMX; 3-4x the float32 speed on the development machine, probabilities within 0.03);
    float32 elsewhere (older CPUs, MPS; there ``auto`` may run the network in int8 instead, ``uses_int8``). ``fp32``,
    ``bf16`` and ``fp16`` force one; ``int8`` takes float32 input."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; known: {', '.join(PRECISIONS)}")
    if precision != "auto":
        return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16, "int8": torch.float32}[precision]
    if device.type == "cuda":
        return torch.float16
    if device.type == "cpu" and cpu_has_fast_bfloat16():
        return torch.bfloat16
    return torch.float32


def uses_int8(device: torch.device, precision: str, calibration: dict | None) -> bool:
    """Whether the network runs in 8-bit integers (``gymnast_pose.quantized``).

    ``int8`` asks for it (a ValueError explains why it cannot be had). ``auto`` takes it on a CPU without fast
    bfloat16 when the model file carries an int8 calibration and PyTorch has the x86 kernels: on the 2-core AVX2
    machine it analysed the 720p squat clip at 60.8 frames/s against float32's 49.7 (MediaPipe Pose 23.7 / 23.1 in
    the same runs), with the same hold-out accuracy, and since the tracked crop holds still while the athlete does
    (``EstimatorConfig.hold_fraction``) its skeleton is as steady as float32's on the still clips
    (``benchmarks/README.md``). Anything else (no calibration, no kernels) quietly stays in float32."""
    if precision == "auto":
        return (device.type == "cpu" and bool(calibration) and not cpu_has_fast_bfloat16()
                and int8_supported())
    if precision != "int8":
        return False
    if device.type != "cpu":
        raise ValueError(f"int8 inference runs on the CPU only, not on {device.type}")
    if not calibration:
        raise ValueError("this model file has no int8 calibration (model_training/calibrate_int8.py adds one)")
    if not int8_supported():
        raise ValueError("this CPU or PyTorch build has no int8 kernels (x86 with AVX2 is needed)")
    return True


@dataclass(frozen=True)
class Region:
    """A square region: centre (cx, cy) and side in image pixels, rotation angle in degrees."""

    cx: float
    cy: float
    side: float
    angle: float = 0.0

    @classmethod
    def whole_image(cls, width: int, height: int) -> Region:
        """The letterbox region: the whole image, centred, padded to a square."""
        return cls((width - 1) / 2, (height - 1) / 2, float(max(width, height)))

    def matrix(self, out_size: int) -> np.ndarray:
        """2 x 3 affine from image pixels to crop pixels (pixel centres on integers)."""
        scale = out_size / self.side
        m = cv2.getRotationMatrix2D((self.cx, self.cy), self.angle, scale)
        m[:, 2] += (out_size - 1) / 2 - np.array([self.cx, self.cy])
        return m


def crop_regions(image: np.ndarray, regions: list[Region], out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """image (H, W, 3) uint8 -> crops (N, S, S, 3) uint8 and matrices (N, 2, 3) image -> crop."""
    crops, mats = [], []
    for r in regions:
        m = r.matrix(out_size)
        interp = cv2.INTER_AREA if r.side > 2 * out_size else cv2.INTER_LINEAR
        crops.append(cv2.warpAffine(image, m, (out_size, out_size), flags=interp, borderMode=cv2.BORDER_CONSTANT,
                                    borderValue=PAD_VALUE))
        mats.append(m)
    return np.stack(crops), np.stack(mats)


def crop_to_image(xy: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """Keypoints (N, K, 2) in crop pixels -> image pixels, through the inverses of matrices (N, 2, 3)."""
    out = np.empty_like(xy)
    for i, m in enumerate(matrices):
        inv = cv2.invertAffineTransform(m)
        out[i] = xy[i] @ inv[:, :2].T + inv[:, 2]
    return out


class PosePredictor:
    """The bundled (or a given) model, ready to run on crops and image regions.

    ``precision`` picks the network's arithmetic (``select_dtype``: float16 on CUDA, bfloat16 on CPUs with fast
    bfloat16, else float32; ``int8``: 8-bit integers, ``uses_int8``; the softmax and decoding always run in
    float32); ``flip`` averages the probabilities of
    each crop and its mirror image (about twice the cost, a little more accurate); ``bone_prior`` keeps each limb
    joint within a bone's reach of its parent (``gymnast_pose.bone_prior``); ``frozen`` runs the network as a
    frozen TorchScript graph on the CPU (``frozen_for_cpu``: the same outputs, faster); ``refinement=False`` drops
    the network's refinement stage, if it has one (``model.without_refinement``; its int8 calibration is then
    ``CALIBRATION_KEY``'s, otherwise ``REFINED_CALIBRATION_KEY``'s); ``refinement=None`` does what the checkpoint's
    ``inference.video_refinement`` says (absent: drop it), which is how the video tracker loads a model.
    ``raw_scores`` ignores the checkpoint's ``inference.score_scale`` (see ``predict_crops``).
    """

    def __init__(self, model_path=None, device: str = "auto", input_size: int | None = None,
                 precision: str = "auto", flip: bool = False, batch_size: int = 32, bone_prior: bool = True,
                 frozen: bool = True, refinement: bool | None = True, raw_scores: bool = False):
        self.device = select_device(device)
        self.loaded: LoadedModel = load_checkpoint(model_path or bundled_model_path(), "cpu")
        self.codec = self.loaded.codec
        meta = self.loaded.metadata.get("inference", {})
        self.input_size = int(input_size or meta.get("input_size") or self.codec.input_size)
        if self.input_size % 32:
            raise ValueError(f"input size must be a multiple of 32, got {self.input_size}")
        try:
            self.score_scale = None if raw_scores else ScoreScale.from_metadata(meta.get("score_scale"))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"Model file {self.loaded.path}: bad inference.score_scale ({exc})") from exc
        self.dtype = select_dtype(self.device, precision)
        self.flip = flip
        self.bone_prior = bone_prior
        self.batch_size = batch_size
        if refinement is None:
            refinement = bool(meta.get("video_refinement", False))
        self.refinement = refinement and getattr(self.loaded.network, "refine", None) is not None
        base = self.loaded.network if self.refinement else without_refinement(self.loaded.network)
        calibration = self.loaded.metadata.get(REFINED_CALIBRATION_KEY if self.refinement else CALIBRATION_KEY)
        self.int8 = uses_int8(self.device, precision, calibration)
        if self.int8:  # not frozen: traced, it ran no faster and slowed at each new batch size
            try:
                self.network = quantized_network(base, calibration)
            except Exception as exc:  # a calibration of another network, or one this PyTorch cannot read
                if precision == "int8":
                    raise ModelFileError(f"Model file {self.loaded.path}: {exc}") from exc
                self.int8 = False  # auto: float32 then
        if not self.int8:
            own = copy.deepcopy(base) if base is self.loaded.network else base  # without_refinement copied already
            network = fuse_batchnorm(own).eval()
            network = network.to(self.device).to(memory_format=torch.channels_last)
            self.network = network.to(self.dtype)
            if self.dtype != torch.float32:
                self.network = with_float_output(self.network)
            if self.device.type == "cpu" and frozen:
                self.network = frozen_for_cpu(self.network, self.input_size, self.dtype)
        if self.device.type == "cpu" and "OMP_NUM_THREADS" not in os.environ:
            torch.set_num_threads(max(1, os.cpu_count() or 1))

    @property
    def model_hash(self) -> str:
        return self.loaded.sha256

    @property
    def arithmetic(self) -> str:
        """What the network computes in: int8, float32, bfloat16 or float16."""
        return "int8" if self.int8 else str(self.dtype).replace("torch.", "")

    @torch.inference_mode()
    def probability_maps(self, crops: np.ndarray, flip: bool | None = None) -> torch.Tensor:
        """crops (N, S, S, 3) uint8 RGB -> maps (N, C, S/4, S/4) float32 (probabilities or heatmaps). On CUDA each
        batch goes through page-locked host memory and is copied asynchronously. ``flip`` overrides ``self.flip``
        for this call."""
        flip = self.flip if flip is None else flip
        maps = []
        cuda = self.device.type == "cuda"
        for start in range(0, len(crops), self.batch_size):
            batch = torch.from_numpy(np.ascontiguousarray(crops[start:start + self.batch_size]))
            batch = batch.pin_memory().to(self.device, non_blocking=True) if cuda else batch.to(self.device)
            x = normalize_images(batch)
            x = x.contiguous() if self.int8 else x.contiguous(memory_format=torch.channels_last).to(self.dtype)
            out = self.codec.probabilities(self.network(x))
            if flip:
                flipped = self.codec.probabilities(self.network(x.flip(-1))).flip(-1)
                perm = list(FLIP_PERMUTATION) + list(range(K, flipped.shape[1]))
                out = (out + flipped[:, perm]) / 2
            maps.append(out.float())
        return torch.cat(maps) if maps else torch.empty(0)

    def predict_crops(self, crops: np.ndarray, with_support: bool = False, window: int | None = None,
                      flip: bool | None = None):
        """crops (N, S, S, 3) uint8 RGB -> keypoints (N, K, 2) in crop pixels, scores (N, K); ``with_support``
        adds each joint's support (N, K) (``codec.PixelClassCodec``; the score again for a heatmap codec),
        ``window`` overrides the codec's support window (``PixelClassCodec.decode_maps``) and ``flip`` the
        predictor's ``flip``. Scores are on the app's scale: the checkpoint's ``inference.score_scale``, if it has
        one, maps the network's raw scores there (``gymnast_pose.score_scale``); the support stays raw."""
        if len(crops) == 0:
            empty = np.zeros((0, K, 2), np.float32), np.zeros((0, K), np.float32)
            return (*empty, empty[1]) if with_support else empty
        maps = self.probability_maps(crops, flip)
        if isinstance(self.codec, PixelClassCodec):
            xy, scores, *support = self.codec.decode_maps(maps, self.bone_prior, with_support=with_support,
                                                          window=window)
        else:
            xy, scores = self.codec.decode_maps(maps, self.bone_prior)
            support = [scores.copy()] if with_support else []
        if self.score_scale is not None:
            scores = self.score_scale(scores)
        return (xy, scores, *support)

    def predict_regions(self, image: np.ndarray, regions: list[Region]) -> tuple[np.ndarray, np.ndarray]:
        """image (H, W, 3) uint8 RGB and N regions -> keypoints (N, K, 2) in image pixels, scores (N, K)."""
        crops, mats = crop_regions(image, regions, self.input_size)
        xy, scores = self.predict_crops(crops)
        return crop_to_image(xy, mats), scores

    def predict_image(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One image treated as one person's crop (letterboxed) -> keypoints (K, 2) image pixels, scores (K,)."""
        h, w = image.shape[:2]
        xy, scores = self.predict_regions(image, [Region.whole_image(w, h)])
        return xy[0], scores[0]

    def predict_images(self, images: list[np.ndarray], with_support: bool = False):
        """Several whole images, batched -> keypoints (N, K, 2) in each image's pixels, scores (N, K) (and the
        support (N, K) with ``with_support``, as ``predict_crops``)."""
        crops, mats = [], []
        for image in images:
            c, m = crop_regions(image, [Region.whole_image(image.shape[1], image.shape[0])], self.input_size)
            crops.append(c[0])
            mats.append(m[0])
        if not crops:
            return self.predict_crops(np.zeros((0, self.input_size, self.input_size, 3), np.uint8), with_support)
        xy, *rest = self.predict_crops(np.stack(crops), with_support)
        return (crop_to_image(xy, np.stack(mats)), *rest)
