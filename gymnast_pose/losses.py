"""Training losses for the two formulations, both over the same network output layout.

``PixelClassLoss`` is the seed's per-pixel cross-entropy over K + 1 classes with its two remedies for the
imbalance between the K keypoint cells and the ~H * W background cells of every image:

* hard negative mining (as in SSD): of the background cells, only the ``neg_pos_ratio`` x (number of keypoint
  cells) with the highest loss in each image contribute; the easy background is left out;
* balancing: the foreground term (mean over keypoint cells) and the background term (mean over the kept background
  cells) are averaged separately and added, so that each is of the same order whatever their counts.

``mining_margin`` m > 0 leaves the background cells within m cells (Chebyshev distance) of a keypoint cell out of
the mined set and out of the loss: they are the hardest negatives by construction (a keypoint is never exactly
at a cell centre), and mining them drives the maps to one-cell spikes whose sub-cell position flickers on video.

With both remedies off it is the plain per-pixel cross-entropy averaged over all cells.

``HeatmapMSELoss`` is the regression baseline: mean squared error against Gaussian heatmaps, with joints that are
not labelled masked out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F


@dataclass
class PixelClassLoss:
    """logits (B, K + 1, H, W), target (B, H, W) int64 with background = K -> scalar loss."""

    background: int
    hard_negative_mining: bool = True
    neg_pos_ratio: float = 3.0
    balanced: bool = True
    mining_margin: int = 0

    def params(self) -> dict:
        return asdict(self)

    def __call__(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        ce = F.cross_entropy(logits.float(), target, reduction="none").flatten(1)  # (B, H*W)
        positive = (target != self.background).flatten(1)
        negative = ~positive
        if self.hard_negative_mining and self.mining_margin > 0:
            near = F.max_pool2d(positive.view_as(target).float()[:, None], 2 * self.mining_margin + 1,
                                stride=1, padding=self.mining_margin)
            negative = negative & (near.flatten(1) == 0)
        if self.hard_negative_mining:
            n_pos = positive.sum(dim=1, keepdim=True)
            n_keep = (n_pos.float() * self.neg_pos_ratio).clamp_min(self.neg_pos_ratio).long()
            neg_loss = ce.detach().masked_fill(~negative, -1.0)
            rank = neg_loss.argsort(dim=1, descending=True).argsort(dim=1)
            negative = negative & (rank < n_keep)
        if self.balanced:
            pos_term = (ce * positive).sum() / positive.sum().clamp_min(1)
            neg_term = (ce * negative).sum() / negative.sum().clamp_min(1)
            return pos_term + neg_term
        selected = positive | negative
        return (ce * selected).sum() / selected.sum().clamp_min(1)


@dataclass
class HeatmapMSELoss:
    """heatmaps (B, K, H, W), target (B, K, H, W), visible (B, K) -> scalar MSE over labelled joints."""

    def params(self) -> dict:
        return {}

    def __call__(self, output: torch.Tensor, target: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        err = (output.float() - target).pow(2).mean(dim=(2, 3))  # (B, K)
        mask = visible.float()
        return (err * mask).sum() / mask.sum().clamp_min(1)
