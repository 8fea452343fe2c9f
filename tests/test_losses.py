"""The per-pixel classification loss with hard negative mining and balancing, and the MSE baseline."""

import torch

from gymnast_pose.losses import HeatmapMSELoss, PixelClassLoss
from gymnast_pose.skeleton import K


def make_batch(b=2, side=16):
    target = torch.full((b, side, side), K, dtype=torch.long)
    for i in range(b):
        for k in range(K):
            target[i, k % side, (3 * k) % side] = k
    return target


def test_hard_negative_mining_keeps_only_the_hardest_background():
    target = make_batch(1)
    logits = torch.zeros(1, K + 1, 16, 16)
    logits[:, K] = 10.0  # background confidently right everywhere ...
    logits[0, K, 15, 15] = -10.0  # ... except one hard pixel
    logits[0, 0, 15, 15] = 10.0
    mined = PixelClassLoss(K, hard_negative_mining=True, neg_pos_ratio=1.0, balanced=True)(logits, target)
    all_neg = PixelClassLoss(K, hard_negative_mining=False, balanced=True)(logits, target)
    # With mining the one hard negative dominates the background term; averaged over all it is diluted.
    assert mined > all_neg


def test_mining_margin_leaves_the_cells_next_to_a_keypoint_out():
    target = torch.full((1, 16, 16), K, dtype=torch.long)
    target[0, 8, 8] = 3
    logits = torch.zeros(1, K + 1, 16, 16)
    logits[:, K] = 10.0
    logits[0, 3, 8, 8], logits[0, K, 8, 8] = 10.0, 0.0  # the keypoint itself is right
    logits[0, 3, 8, 9], logits[0, K, 8, 9] = 10.0, 0.0  # its neighbour looks like it too: the hardest negative
    logits[0, 3, 2, 2], logits[0, K, 2, 2] = 10.0, 0.0  # a false peak far away: just as hard
    def loss(margin, far_peak=True):
        lg = logits.clone()
        if not far_peak:
            lg[0, 3, 2, 2], lg[0, K, 2, 2] = 0.0, 10.0
        return PixelClassLoss(K, True, neg_pos_ratio=1.0, balanced=True, mining_margin=margin)(lg, target)
    # Without a margin the neighbour fills the one mined slot, and the far peak is not punished.
    assert torch.isclose(loss(0), loss(0, far_peak=False))
    # With a margin of one cell the neighbour is left out and the mined slot goes to the far peak.
    assert loss(1) > loss(1, far_peak=False) + 1.0


def test_balancing_gives_foreground_and_background_equal_weight():
    target = make_batch(1)
    logits = torch.zeros(1, K + 1, 16, 16)
    balanced = PixelClassLoss(K, hard_negative_mining=False, balanced=True)(logits, target)
    plain = PixelClassLoss(K, hard_negative_mining=False, balanced=False)(logits, target)
    uniform = torch.log(torch.tensor(float(K + 1)))
    assert torch.isclose(balanced, 2 * uniform) and torch.isclose(plain, uniform)


def test_losses_decrease_when_fitting_a_tiny_problem():
    torch.manual_seed(0)
    target = make_batch(2)
    for loss_fn in (PixelClassLoss(K), PixelClassLoss(K, False, 3.0, False)):
        logits = torch.zeros(2, K + 1, 16, 16, requires_grad=True)
        opt = torch.optim.Adam([logits], lr=0.1)
        first = loss_fn(logits, target).item()
        for _ in range(50):
            opt.zero_grad()
            loss = loss_fn(logits, target)
            loss.backward()
            opt.step()
        assert loss.item() < 0.2 * first


def test_mse_ignores_unlabelled_joints():
    out = torch.zeros(1, K, 8, 8)
    target = torch.ones(1, K, 8, 8)
    visible = torch.zeros(1, K, dtype=torch.bool)
    assert HeatmapMSELoss()(out, target, visible) == 0
    visible[0, 0] = True
    assert HeatmapMSELoss()(out, target, visible) == 1
