"""Codecs: keypoints <-> network output maps, shared by training (encode) and inference (decode).

Symbols: K keypoints (``gymnast_pose.skeleton.K``), S the square input side in pixels, s the output stride,
H = W = S // s the output map side. Coordinates are 0-based with pixel centres on integers. Input pixel x maps to
the map coordinate u = (x + 0.5) / s - 0.5 and back with x = (u + 0.5) * s - 0.5.

``PixelClassCodec`` is the seed formulation (Pronichkin & Kumskov, "Human pose estimation as a classification
problem"): every output cell is classified into K + 1 classes, the K keypoints plus background (class index K). The
target is a class-index map (H, W) that holds k at the cell of keypoint k and K everywhere else. The network's
output, logits (K + 1, H, W), is turned into per-pixel probabilities by a softmax over classes. Keypoint k is placed
in the ``support_window`` x ``support_window`` block of cells with the most probability of class k (its *support*:
the network spreads a keypoint over the cells around it, and a lone strong cell is more often a false peak than a
block of fairly strong ones; 5 x 5 by default, chosen on training and validation images, REPORT.md section 4g; among
blocks of equal sum the one centred on the more probable cells wins), then at the most probable cell of the 3 x 3
cells around that block's centre, refined to sub-cell precision by their probability-weighted centroid. Its score is
that cell's probability (an honest probability, not a Gaussian "confidence"); ``decode_maps(...,
with_support=True)`` also gives the support, the mean probability of the 3 x 3 cells, which compares how sure two
looks at one person are. ``support_window = 1`` is the plain arg-max of single cells (the decoding before
2026-12-04).

``GaussianHeatmapCodec`` is the regression baseline: a target heatmap (K, H, W) per keypoint with a Gaussian of
sigma 1.5 cells at the keypoint, fitted with MSE. Decoding takes the arg-max and refines it with a parabola through the
log of the neighbouring values (exact for a Gaussian); the score is the heatmap's peak value.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import partial

import numpy as np
import torch

from gymnast_pose.bone_prior import apply_bone_prior
from gymnast_pose.skeleton import K


@dataclass(frozen=True)
class MapGeometry:
    """Input side S (pixels) and output stride s; the map side is S // s."""

    input_size: int = 192
    stride: int = 4

    @property
    def map_size(self) -> int:
        return self.input_size // self.stride

    def to_map(self, xy: np.ndarray) -> np.ndarray:
        return (np.asarray(xy, dtype=np.float64) + 0.5) / self.stride - 0.5

    def to_input(self, uv):
        return (uv + 0.5) * self.stride - 0.5


def _refine_peaks(maps: torch.Tensor, weights: torch.Tensor, mode: str = "centroid"):
    """Arg-max per channel of ``maps`` (B, C, H, W) refined to sub-cell precision around it.

    ``centroid``: the ``weights``-weighted mean position of the 3 x 3 neighbourhood (for probabilities).
    ``log_parabola``: per axis, the vertex of a parabola through the log of the three values (exact for a Gaussian).
    Returns (uv, peak): uv (B, C, 2) sub-cell map coordinates (u = column, v = row) and peak (B, C), the value of
    ``maps`` at the arg-max cell.
    """
    b, c, h, w = maps.shape
    flat = maps.reshape(b, c, h * w)
    peak, idx = flat.max(dim=2)
    row = torch.div(idx, w, rounding_mode="floor")
    col = idx - row * w
    offsets = torch.arange(-1, 2, device=maps.device)
    rr = (row[..., None, None] + offsets[:, None])  # (B, C, 3, 1)
    cc = (col[..., None, None] + offsets[None, :])  # (B, C, 1, 3)
    rr, cc = torch.broadcast_tensors(rr, cc)
    inside = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)  # cells beyond the border weigh 0
    cells = (rr.clamp(0, h - 1) * w + cc.clamp(0, w - 1)).reshape(b, c, 9)
    patch = weights.reshape(b, c, h * w).gather(2, cells).reshape(b, c, 3, 3).clamp_min(0).float()
    patch = patch * inside
    if mode == "log_parabola":
        logp = patch.clamp_min(1e-6).log()

        def vertex(lm, l0, lp):
            curvature = lm - 2 * l0 + lp
            offset = 0.5 * (lm - lp) / torch.where(curvature < -1e-6, curvature, torch.full_like(curvature, -1e6))
            return offset.clamp(-0.5, 0.5)

        du = vertex(logp[..., 1, 0], logp[..., 1, 1], logp[..., 1, 2])
        dv = vertex(logp[..., 0, 1], logp[..., 1, 1], logp[..., 2, 1])
        return torch.stack([col.float() + du, row.float() + dv], dim=-1), peak.float()
    total = patch.sum(dim=(2, 3)).clamp_min(1e-12)
    du = (patch * offsets[None, :].float()).sum(dim=(2, 3)) / total
    dv = (patch * offsets[:, None].float()).sum(dim=(2, 3)) / total
    uv = torch.stack([col.float() + du, row.float() + dv], dim=-1)
    return uv, peak.float()


def _window_sums(maps: torch.Tensor, window: int) -> torch.Tensor:
    """maps (B, C, H, W) -> the sum of each cell's ``window`` x ``window`` block (odd; zero beyond the border)."""
    if window <= 1:
        return maps
    return torch.nn.functional.avg_pool2d(maps, window, 1, window // 2, count_include_pad=True) * window**2


def _block_support(probs: torch.Tensor, window: int) -> torch.Tensor:
    """probs (B, K, H, W) -> the ``window`` block sums, ties broken by the centred smaller blocks: for 5 x 5, the
    sum of the 5 x 5 block + 1e-3 x its centre 3 x 3 block + 1e-6 x its centre cell (float64), so that of the blocks
    that hold a lone cell, or a 3 x 3 patch, the one centred on it wins."""
    support = torch.zeros_like(probs, dtype=torch.float64)
    for level, side in enumerate(range(window, 0, -2)):
        support += _window_sums(probs.double(), side) * 1e-3**level
    return support


def _near(probs: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """probs (B, K, H, W) kept only on the 3 x 3 cells around each keypoint's cell ``uv.round()`` (B, K, 2)."""
    _, _, h, w = probs.shape
    cell = uv.round().long()
    rows = torch.arange(h, device=probs.device)[None, None, :, None]
    cols = torch.arange(w, device=probs.device)[None, None, None, :]
    near = ((rows - cell[..., 1, None, None]).abs() <= 1) & ((cols - cell[..., 0, None, None]).abs() <= 1)
    return probs * near


def _settle(probs: torch.Tensor, uv: torch.Tensor, found: torch.Tensor):
    """Each keypoint at the most probable of the 3 x 3 cells around its chosen cell, refined to sub-cell precision.

    probs (B, K, H, W); uv (B, K, 2) map coordinates of the chosen cells; found (B, K) bool, False where nothing
    was found (those keep ``uv`` and get score 0). Returns uv (B, K, 2), peak (B, K) and the 3 x 3 mean (B, K).
    """
    masked = _near(probs, uv)
    new_uv, peak = _refine_peaks(masked, masked)
    found = found & (peak > 0)
    zero = torch.zeros_like(peak)
    mean3 = masked.sum(dim=(2, 3)) / 9
    return torch.where(found[..., None], new_uv, uv), torch.where(found, peak, zero), torch.where(found, mean3, zero)


@dataclass(frozen=True)
class PixelClassCodec:
    """Per-pixel (K + 1)-way classification: target (H, W) int64 class indices, background = K."""

    input_size: int = 192
    stride: int = 4
    support_window: int = 5
    name: str = "pixel_class"

    @property
    def geometry(self) -> MapGeometry:
        return MapGeometry(self.input_size, self.stride)

    @property
    def out_channels(self) -> int:
        return K + 1

    def params(self) -> dict:
        return asdict(self)

    def encode(self, keypoints: np.ndarray, visible: np.ndarray) -> np.ndarray:
        """keypoints (K, 2) x, y in input pixels; visible (K,) bool -> class map (H, W) int64.

        Keypoints that are not visible or fall outside the map leave the map untouched (background). When two
        keypoints land on one cell, the later index wins.
        """
        side = self.geometry.map_size
        target = np.full((side, side), K, dtype=np.int64)
        cells = np.rint(self.geometry.to_map(keypoints)).astype(np.int64)
        for k in range(K):
            u, v = cells[k]
            if visible[k] and 0 <= u < side and 0 <= v < side:
                target[v, u] = k
        return target

    def encode_batch(self, keypoints: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        """Torch version of ``encode`` for training: keypoints (B, K, 2), visible (B, K) -> (B, H, W) int64."""
        side = self.geometry.map_size
        b = keypoints.shape[0]
        cells = torch.round((keypoints + 0.5) / self.stride - 0.5).long()
        ok = visible & (cells >= 0).all(dim=2) & (cells < side).all(dim=2)
        flat = cells[..., 1] * side + cells[..., 0]
        target = torch.full((b, side * side), K, dtype=torch.long, device=keypoints.device)
        rows = torch.arange(b, device=keypoints.device)
        for k in range(K):
            sel = ok[:, k]
            target[rows[sel], flat[sel, k]] = k
        return target.view(b, side, side)

    def probabilities(self, output: torch.Tensor) -> torch.Tensor:
        """Logits (B, K + 1, H, W) -> per-pixel class probabilities of the same shape (softmax over classes)."""
        return torch.softmax(output.float(), dim=1)

    @torch.no_grad()
    def decode_batch(self, output: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Logits (B, K + 1, H, W) -> keypoints (B, K, 2) in input pixels and scores (B, K) in [0, 1]."""
        return self.decode_maps(self.probabilities(output))

    @torch.no_grad()
    def decode_maps(self, probs: torch.Tensor, bone_prior: bool = False, with_support: bool = False,
                    window: int | None = None):
        """Probabilities (B, K + 1, H, W) (e.g. averaged over test-time flips) -> keypoints (B, K, 2) in input
        pixels and scores (B, K), as in the module docstring; ``with_support`` adds the support (B, K) in [0, 1].
        ``window`` overrides ``support_window`` (the video tracker decodes with 1, ``estimator.EstimatorConfig``).

        ``bone_prior``: a limb joint beyond any bone's reach of its parent takes the best block within reach
        (``gymnast_pose.bone_prior``; the app's default, off for training's validation curves).
        """
        probs = probs[:, :K].float()
        window = self.support_window if window is None else window
        support = _block_support(probs, window)
        uv, best = _refine_peaks(support, probs)
        if bone_prior:
            uv, best, _ = apply_bone_prior(support, uv, best, _refine_peaks)
        if window > 1:
            uv, peak, mean3 = _settle(probs, uv, best > 0)
        else:  # the plain arg-max, refined by the centroid of its own 3 x 3 cells
            peak, mean3 = best, _near(probs, uv).sum(dim=(2, 3)) / 9 * (best > 0)
        xy = self.geometry.to_input(uv).cpu().numpy().astype(np.float32)
        if with_support:
            return xy, peak.cpu().numpy().astype(np.float32), mean3.cpu().numpy().astype(np.float32)
        return xy, peak.cpu().numpy().astype(np.float32)

    def decode(self, output: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Logits (K + 1, H, W) of one image -> keypoints (K, 2) and scores (K,)."""
        xy, score = self.decode_batch(output[None])
        return xy[0], score[0]


@dataclass(frozen=True)
class GaussianHeatmapCodec:
    """Regression baseline: target heatmaps (K, H, W) float32 with Gaussians of ``sigma`` cells, peak 1."""

    input_size: int = 192
    stride: int = 4
    sigma: float = 1.5
    name: str = "gaussian_heatmap"

    @property
    def geometry(self) -> MapGeometry:
        return MapGeometry(self.input_size, self.stride)

    @property
    def out_channels(self) -> int:
        return K

    def params(self) -> dict:
        return asdict(self)

    def encode(self, keypoints: np.ndarray, visible: np.ndarray) -> np.ndarray:
        """keypoints (K, 2) in input pixels; visible (K,) bool -> heatmaps (K, H, W); invisible joints are all zero."""
        side = self.geometry.map_size
        uv = self.geometry.to_map(keypoints)
        grid = np.arange(side, dtype=np.float64)
        gx = np.exp(-((grid[None, :] - uv[:, :1]) ** 2) / (2 * self.sigma**2))  # (K, W)
        gy = np.exp(-((grid[None, :] - uv[:, 1:]) ** 2) / (2 * self.sigma**2))  # (K, H)
        maps = gy[:, :, None] * gx[:, None, :]
        inside = (uv >= -0.5).all(axis=1) & (uv < side - 0.5).all(axis=1)
        maps[~(np.asarray(visible, dtype=bool) & inside)] = 0.0
        return maps.astype(np.float32)

    def encode_batch(self, keypoints: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        """Torch version of ``encode`` for training: keypoints (B, K, 2), visible (B, K) -> (B, K, H, W) float32."""
        side = self.geometry.map_size
        uv = (keypoints.float() + 0.5) / self.stride - 0.5
        grid = torch.arange(side, device=keypoints.device, dtype=torch.float32)
        gx = torch.exp(-((grid - uv[..., :1]) ** 2) / (2 * self.sigma**2))  # (B, K, W)
        gy = torch.exp(-((grid - uv[..., 1:]) ** 2) / (2 * self.sigma**2))  # (B, K, H)
        inside = ((uv >= -0.5) & (uv < side - 0.5)).all(dim=2) & visible
        return gy[..., :, None] * gx[..., None, :] * inside[..., None, None].float()

    def probabilities(self, output: torch.Tensor) -> torch.Tensor:
        """Heatmaps (B, K, H, W) as they are (the regression outputs are not probabilities)."""
        return output.float()

    @torch.no_grad()
    def decode_batch(self, output: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Heatmaps (B, K, H, W) -> keypoints (B, K, 2) in input pixels and scores (B, K) = peak heights."""
        return self.decode_maps(output)

    @torch.no_grad()
    def decode_maps(self, maps: torch.Tensor, bone_prior: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Heatmaps (B, K, H, W) -> keypoints (B, K, 2), scores (B, K); ``bone_prior`` as for ``PixelClassCodec``."""
        maps = maps.float()
        uv, peak = _refine_peaks(maps, maps, mode="log_parabola")
        if bone_prior:
            uv, peak, _ = apply_bone_prior(maps, uv, peak, partial(_refine_peaks, mode="log_parabola"))
        xy = self.geometry.to_input(uv)
        return xy.cpu().numpy().astype(np.float32), peak.cpu().numpy().astype(np.float32)

    def decode(self, output: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        xy, score = self.decode_batch(output[None])
        return xy[0], score[0]


CODECS = {"pixel_class": PixelClassCodec, "gaussian_heatmap": GaussianHeatmapCodec}


def codec_from_params(params: dict):
    """Rebuild a codec from ``codec.params()`` (as stored in checkpoints)."""
    params = dict(params)
    cls = CODECS[params.pop("name")]
    return cls(**params)
