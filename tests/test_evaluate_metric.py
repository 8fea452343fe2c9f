"""The PCK metric of model_training.evaluate: LSP torso convention, labelled joints only, the side-free diagnostic."""

import numpy as np
import pytest

from gymnast_pose.skeleton import FLIP_PERMUTATION, JOINT_INDEX
from model_training.evaluate import pck_table


def standing_people(n: int = 4) -> np.ndarray:
    """(n, K, 2) ground truth: a person whose l_shoulder-r_hip distance (the torso) is 100 px."""
    xs = np.array([-10, -10, -10, 10, 10, 10, -30, -25, -20, 20, 25, 30, 0, 0], np.float64)
    ys = np.array([200, 150, 100, 100, 150, 200, 100, 70, 40, 40, 70, 100, 35, 0], np.float64)
    person = np.stack([xs, ys], axis=1)
    person[JOINT_INDEX["l_shoulder"]] = person[JOINT_INDEX["r_hip"]] + (60.0, -80.0)  # 100 px away
    return np.repeat(person[None], n, axis=0) + np.arange(n)[:, None, None] * 500.0


def test_pck_counts_hits_within_alpha_torso_and_ignores_unlabelled_joints():
    gt = standing_people()
    labelled = np.ones(gt.shape[:2], bool)
    pred = gt.copy()
    pred[0, 0] += (15.0, 0.0)  # within 0.2 torso, not within 0.1
    pred[1, 1] += (0.0, 25.0)  # beyond 0.2 torso
    pred[2, 2] = np.nan  # nothing predicted: wrong
    labelled[3, 3] = False
    pred[3, 3] += 1000.0  # unlabelled: does not count
    table = pck_table(pred, gt, labelled)
    joints = labelled.sum()
    assert table["joints"] == joints and table["images"] == 4
    assert table["pck@0.2"]["all"] == pytest.approx((joints - 2) / joints)
    assert table["pck@0.1"]["all"] == pytest.approx((joints - 3) / joints)
    assert table["pck@0.2"]["r_knee"] == pytest.approx(3 / 4)


def test_side_free_diagnostic_forgives_only_a_whole_left_right_exchange():
    gt = standing_people()
    labelled = np.ones(gt.shape[:2], bool)
    pred = gt.copy()
    pred[0] = gt[0, FLIP_PERMUTATION]  # image 0: every left joint predicted as right and vice versa
    table = pck_table(pred, gt, labelled)
    assert table["pck@0.2"]["all"] < 1.0
    assert table["side_free"]["pck@0.2"]["all"] == pytest.approx(1.0)
    assert table["side_free"]["swapped_images"] == 1
    far = pred.copy()
    far[1] += 300.0  # wrong everywhere: exchanging sides does not help
    free = pck_table(far, gt, labelled)["side_free"]["pck@0.2"]["all"]
    assert free == pytest.approx(3 / 4)  # images 0, 2, 3 right; image 1 wrong either way
