"""Batch augmentation in torch (runs on the training device, CPU or CUDA).

``augment_batch`` turns stored person crops (see ``crop_store``) into network inputs of side S with random
geometry and colour, and moves the keypoints with them:

* rotation: mostly upright (normal, sd ``rotation_sd`` degrees), but with probability ``p_any_rotation`` any angle
  including upside down, because gymnasts invert;
* scale: the person's size as a fraction of the input side, log-uniform in ``person_fraction``; with probability
  ``p_small`` much smaller (``small_fraction``), as an athlete in a wide video frame;
* translation: the person anywhere that keeps their box inside the input (plus jitter);
* flip: horizontal with probability 0.5, swapping left and right joints (``skeleton.FLIP_PERMUTATION``);
* colour: brightness, contrast, saturation, grey, noise;
* background: input pixels that fall outside the original photo get a smooth random texture or a heavily blurred
  other photo, not black borders;
* occlusion (off unless ``p_occlude`` > 0): with that probability a rectangle of ``occlude_fraction`` of the input
  side (each edge drawn on its own) is covered by a piece of another augmented crop of the batch (real texture,
  often another person's limbs) or by a smooth texture. The joints under it keep their labels: the network has to
  place a limb it cannot see from the rest of the body, as LSPET's annotators did.

Shapes: images uint8 (B, R, R, 3); keypoints (B, K, 2) crop pixels; labelled (B, K) bool; valid (B, 4) x0, y0, x1,
y1. Returns float images (B, 3, S, S) in [0, 1], keypoints (B, K, 2) in input pixels, visible (B, K) bool (labelled
and inside the input).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from gymnast_pose.skeleton import FLIP_PERMUTATION


@dataclass
class AugmentConfig:
    rotation_sd: float = 25.0
    p_any_rotation: float = 0.2
    person_fraction: tuple[float, float] = (0.45, 0.95)
    p_small: float = 0.15
    small_fraction: tuple[float, float] = (0.15, 0.45)
    p_flip: float = 0.5
    brightness: float = 0.3
    contrast: float = 0.3
    saturation: float = 0.4
    p_grey: float = 0.05
    noise: float = 0.03
    p_occlude: float = 0.0
    occlude_fraction: tuple[float, float] = (0.15, 0.45)

    def params(self) -> dict:
        return asdict(self)


def _pixel_to_norm(size: int, device) -> torch.Tensor:
    """3 x 3 matrix from pixel coordinates (centres on integers) to grid_sample's [-1, 1] (align_corners=False)."""
    s = 2.0 / size
    return torch.tensor([[s, 0, s / 2 - 1], [0, s, s / 2 - 1], [0, 0, 1]], device=device)


def random_transforms(keypoints, labelled, crop_side: int, out_size: int, cfg: AugmentConfig, gen=None):
    """Sample per-image 3 x 3 matrices (B, 3, 3) mapping crop pixels to input pixels, and flip flags (B,)."""
    b, device = keypoints.shape[0], keypoints.device

    def rand(*shape):
        return torch.rand(*shape, device=device, generator=gen)

    def randn(*shape):
        return torch.randn(*shape, device=device, generator=gen)

    big = labelled.any(dim=1, keepdim=True) & labelled
    inf = torch.tensor(float("inf"), device=device)
    lo = torch.where(big[..., None], keypoints, inf).amin(dim=1)
    hi = torch.where(big[..., None], keypoints, -inf).amax(dim=1)
    centre = (lo + hi) / 2
    extent = (hi - lo).amax(dim=1).clamp_min(16.0)

    angle = randn(b) * math.radians(cfg.rotation_sd)
    anywhere = rand(b) < cfg.p_any_rotation
    angle = torch.where(anywhere, (rand(b) * 2 - 1) * math.pi, angle)
    lo_f, hi_f = cfg.person_fraction
    frac = torch.exp(math.log(lo_f) + rand(b) * (math.log(hi_f) - math.log(lo_f)))
    small = rand(b) < cfg.p_small
    slo, shi = cfg.small_fraction
    frac = torch.where(small, torch.exp(math.log(slo) + rand(b) * (math.log(shi) - math.log(slo))), frac)
    scale = frac * out_size / extent
    flip = rand(b) < cfg.p_flip
    room = (1 - frac).clamp_min(0) * out_size / 2
    shift = (rand(b, 2) * 2 - 1) * room[:, None] + randn(b, 2) * 0.03 * out_size

    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    fx = torch.where(flip, -1.0, 1.0)
    m = torch.zeros(b, 3, 3, device=device)
    m[:, 0, 0], m[:, 0, 1] = cos * fx, -sin
    m[:, 1, 0], m[:, 1, 1] = sin * fx, cos
    m[:, 2, 2] = 1
    out_centre = (out_size - 1) / 2 + shift
    m[:, :2, 2] = out_centre - (m[:, :2, :2] @ centre[:, :, None])[..., 0]
    return m, flip


def smooth_background(b: int, size: int, device, gen=None) -> torch.Tensor:
    """Random low-frequency colour textures (B, 3, size, size) in [0, 1]."""
    cells = int(torch.randint(2, 9, (1,), generator=gen, device=device if gen is not None else "cpu").item())
    grid = torch.rand(b, 3, cells, cells, device=device, generator=gen)
    tex = F.interpolate(grid, size=(size, size), mode="bicubic", align_corners=False).clamp(0, 1)
    flat = torch.rand(b, 3, 1, 1, device=device, generator=gen)
    use_flat = (torch.rand(b, 1, 1, 1, device=device, generator=gen) < 0.3).float()
    return use_flat * flat + (1 - use_flat) * tex


def colour_jitter(x: torch.Tensor, cfg: AugmentConfig, gen=None) -> torch.Tensor:
    """x (B, 3, S, S) in [0, 1] -> jittered copy in [0, 1]."""
    b, device = x.shape[0], x.device

    def factor(amount):
        return 1 + (torch.rand(b, 1, 1, 1, device=device, generator=gen) * 2 - 1) * amount

    grey = x.mul(torch.tensor([0.299, 0.587, 0.114], device=device).view(1, 3, 1, 1)).sum(1, keepdim=True)
    x = grey + (x - grey) * factor(cfg.saturation)
    mean = grey.mean(dim=(2, 3), keepdim=True)
    x = mean + (x - mean) * factor(cfg.contrast)
    x = x * factor(cfg.brightness)
    to_grey = torch.rand(b, 1, 1, 1, device=device, generator=gen) < cfg.p_grey
    x = torch.where(to_grey, x.mean(1, keepdim=True).expand_as(x), x)
    x = x + torch.randn(x.shape, device=device, generator=gen) * cfg.noise * torch.rand(b, 1, 1, 1, device=device,
                                                                                        generator=gen)
    return x.clamp(0, 1)


def occlude(x: torch.Tensor, cfg: AugmentConfig, gen=None, centres: torch.Tensor | None = None) -> torch.Tensor:
    """Cover a random rectangle of some images of x (B, 3, S, S) in [0, 1] (see the module docstring).

    ``centres`` (B, 2) input pixels x, y: where each rectangle is centred (``augment_batch`` passes a random joint of
    the person, so the rectangle hides part of the body); without it the rectangle lies anywhere in the input.

    Draws no random numbers when ``cfg.p_occlude`` is 0, so configurations without occlusion reproduce exactly.
    """
    if cfg.p_occlude <= 0:
        return x
    b, _, size, _ = x.shape
    device = x.device

    def rand(*shape):
        return torch.rand(*shape, device=device, generator=gen)

    lo, hi = cfg.occlude_fraction
    wh = (lo + (hi - lo) * rand(b, 2)) * size  # (B, 2) rectangle width, height in pixels
    if centres is None:  # (B, 2) top-left x, y, keeping the rectangle inside
        corner = rand(b, 2) * (size - wh)
    else:
        corner = torch.minimum(torch.maximum(centres.to(x.dtype) - wh / 2, torch.zeros_like(wh)), size - wh)
    coords = torch.arange(size, device=device, dtype=x.dtype) + 0.5
    in_x = (coords[None] >= corner[:, :1]) & (coords[None] < corner[:, :1] + wh[:, :1])  # (B, S)
    in_y = (coords[None] >= corner[:, 1:]) & (coords[None] < corner[:, 1:] + wh[:, 1:])
    mask = (in_y[:, :, None] & in_x[:, None, :]) & (rand(b, 1, 1) < cfg.p_occlude)  # (B, S, S)
    shift = [int(v) for v in (rand(2) * size).long()]
    patch = x.roll(1, dims=0).roll(shifts=shift, dims=(2, 3))
    texture = smooth_background(b, size, device, gen)
    patch = torch.where(rand(b, 1, 1, 1) < 0.7, patch, texture)
    return torch.where(mask[:, None], patch, x)


def augment_batch(images, keypoints, labelled, valid, out_size: int, cfg: AugmentConfig, gen=None,
                  train: bool = True):
    """Augment a batch (see the module docstring). With ``train=False`` the crop is only resized to S."""
    b, r = images.shape[0], images.shape[1]
    device = images.device
    if train:
        m, flip = random_transforms(keypoints, labelled, r, out_size, cfg, gen)
    else:
        s = out_size / r
        m = torch.tensor([[s, 0, (s - 1) / 2], [0, s, (s - 1) / 2], [0, 0, 1]], device=device).expand(b, 3, 3)
        flip = torch.zeros(b, dtype=torch.bool, device=device)
    inv = torch.linalg.inv(m)
    theta = _pixel_to_norm(r, device) @ inv @ torch.linalg.inv(_pixel_to_norm(out_size, device))
    src = images.permute(0, 3, 1, 2).float().div_(255)
    grid = F.affine_grid(theta[:, :2], [b, 3, out_size, out_size], align_corners=False)
    out = F.grid_sample(src, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if train:
        px = (grid + 1) * r / 2 - 0.5  # (B, S, S, 2) crop pixel coordinates
        inside = ((px[..., 0] >= valid[:, None, None, 0]) & (px[..., 0] <= valid[:, None, None, 2])
                  & (px[..., 1] >= valid[:, None, None, 1]) & (px[..., 1] <= valid[:, None, None, 3]))
        bg = smooth_background(b, out_size, device, gen)
        # Half of the time: another photo of the batch, heavily blurred (real colours, no recognisable person).
        other = F.interpolate(src.roll(1, dims=0), size=(out_size // 8, out_size // 8), mode="area")
        other = F.interpolate(other, size=(out_size, out_size), mode="bicubic", align_corners=False).clamp(0, 1)
        use_other = torch.rand(b, 1, 1, 1, device=device, generator=gen) < 0.5
        bg = torch.where(use_other, other.flip(-1), bg)
        out = torch.where(inside[:, None], out, bg)
    kp = (m[:, :2, :2] @ keypoints.transpose(1, 2) + m[:, :2, 2:]).transpose(1, 2)
    if train:
        if cfg.p_occlude > 0:  # centred on a random labelled joint (any joint where none is labelled)
            weights = labelled.float() + 1e-6
            pick = torch.multinomial(weights, 1, generator=gen)[:, 0]
            out = occlude(out, cfg, gen, centres=kp[torch.arange(b, device=device), pick])
        out = colour_jitter(out, cfg, gen)
    perm = torch.tensor(FLIP_PERMUTATION, device=device)
    kp = torch.where(flip[:, None, None], kp[:, perm], kp)
    lab = torch.where(flip[:, None], labelled[:, perm], labelled)
    inside_kp = (kp >= -0.5).all(dim=2) & (kp <= out_size - 0.5).all(dim=2)
    return out, kp, lab & inside_kp
