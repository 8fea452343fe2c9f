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
