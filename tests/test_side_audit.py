"""model_training.side_audit: which images the side exchange helps, the verdict tally, the contact sheet."""

import cv2
import numpy as np
import pytest

from gymnast_pose.skeleton import FLIP_PERMUTATION, JOINT_INDEX
from model_training.datasets import Sample
from model_training.side_audit import contact_sheet, exchange_winners, pair_tile, tally
from tests.test_evaluate_metric import standing_people


@pytest.fixture()
def people(tmp_path):
    """Four generated people (torso 100 px) in 120 x 80 images on disk; predictions exact except image 1, whose
    left and right joints are exchanged, and image 2, whose right wrist alone is 50 px off."""
    gt = standing_people(4) - np.arange(4)[:, None, None] * 500.0 + (40.0, 10.0)
    gt[..., 1] *= 0.5  # fits the 120 px tall image; the torso becomes a different but valid length
    samples = []
    for i in range(4):
        path = tmp_path / f"im{i:05d}.png"
        cv2.imwrite(str(path), np.full((120, 80, 3), 60 + 40 * i, np.uint8))
        samples.append(Sample(path, gt[i].astype(np.float32), np.ones(len(gt[i]), bool)))
    pred = gt.copy()
    pred[1] = gt[1, FLIP_PERMUTATION]
    pred[2, JOINT_INDEX["r_wrist"]] += (50.0, 0.0)
    return samples, pred, gt


def test_only_the_image_with_exchanged_sides_is_picked(people):
    samples, pred, gt = people
    labelled = np.ones(gt.shape[:2], bool)
    chosen, given, exchanged, counted = exchange_winners(pred, gt, labelled)
    assert list(chosen) == [1]
    assert exchanged[0] == 14 and given[0] < 14
    assert counted == 4 * 14


def test_tally_counts_the_joints_each_verdict_accounts_for(people):
    samples, pred, gt = people
    labelled = np.ones(gt.shape[:2], bool)
    _, given, exchanged, _ = exchange_winners(pred, gt, labelled)
    rows = tally(samples, pred, {"label_wrong": ["im00001"]})
    won = int(exchanged[0] - given[0])
    assert rows["label_wrong"] == {"images": 1, "joints_won": won, "pck_share": pytest.approx(won / 56)}
    assert rows["all"]["joints_won"] == won and "not judged" not in rows
    assert tally(samples, pred, {})["not judged"]["images"] == 1
    with pytest.raises(ValueError, match="im00002"):
        tally(samples, pred, {"label_wrong": ["im00002"]})  # the exchange does not help image 2


def test_pairs_show_label_and_prediction_side_by_side(people):
    samples, pred, _ = people
    image = cv2.cvtColor(cv2.imread(str(samples[1].image_path)), cv2.COLOR_BGR2RGB)
    pair = pair_tile(image, samples[1].keypoints, samples[1].labelled, pred[1], "im00001", tile=100)
    assert pair.shape == (100, 200, 3)
    right_red = (pair[..., 0] > 200) & (pair[..., 2] < 90)
    assert right_red[:, :100].any() and right_red[:, 100:].any()  # right limbs drawn in both halves
    assert contact_sheet(samples, pred, [0, 1, 2], columns=2, tile=50).shape == (100, 200, 3)
    assert contact_sheet(samples, pred, [], tile=50).shape == (50, 200, 3)
