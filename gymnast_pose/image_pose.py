"""Poses for still images that each show one person: a look at the whole image, then a second look at the person.

Pass 1 letterboxes the whole image into the network's input (``PosePredictor.predict_images``). Pass 2 crops
squares around the joints pass 1 found with at least ``joint_threshold``: sides ``crop_scales`` x their extent (the
video tracker crops at 1.8 x, see ``gymnast_pose.tracking``; a tighter and a looser square catch people whose first
extent was too small or too large), so the person fills the input the way training crops did, and also the
tracker's square turned by 180 degrees (an upside-down athlete). Of all the looks the one whose joints have the
highest mean support wins, per image (the support is the mean probability of the 3 x 3 map cells around each joint,
``codec.PixelClassCodec``, so it compares across looks; choosing per joint instead mixes up left and right and
scored lower). The scores returned are the winning look's own.

On LSPET images 8801-9000 (training's validation split; never the hold-out): with the bundled model of 2026-11-25
(224 px, bfloat16) one look gives PCK@0.2 0.413, one 1.8 x crop upright and turned 0.468, and the three scales plus
the turn 0.498 (PCK@0.1 0.241 / 0.271 / 0.295); five scales (1.3-2.6) 0.497, per-joint choice 0.479. That is five
network runs per image instead of one.

Outputs as in ``gymnast_pose.inference``: keypoints (N, K, 2) float32 in each image's own pixels and scores (N, K).
"""

from __future__ import annotations

import numpy as np

from gymnast_pose.estimator import EstimatorConfig
from gymnast_pose.inference import PosePredictor, crop_regions, crop_to_image
from gymnast_pose.tracking import pose_box, region_around, turned

_TRACKER = EstimatorConfig()  # the second look crops as the video tracker does
CROP_SCALES = (1.5, _TRACKER.crop_scale, 2.2)


def predict_image_poses(
    predictor: PosePredictor, images: list[np.ndarray], refine: bool = True,
    crop_scales: tuple[float, ...] = CROP_SCALES, joint_threshold: float = _TRACKER.joint_threshold,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """images: N arrays (H, W, 3) uint8 RGB, one person each -> keypoints (N, K, 2), scores (N, K).

    ``refine=False`` is pass 1 alone (one network run per image). The turned look uses the tracker's scale.
    """
    xy, scores, support = predictor.predict_images(images, with_support=True)
    if not refine or not len(images):
        return xy, scores
    size = int(predictor.input_size)
    crops, mats, owners = [], [], []
    for i, image in enumerate(images):
        box = pose_box(xy[i], scores[i], joint_threshold)
        if box is None:  # too few joints to frame the person: keep the whole-image answer
            continue
        height, width = image.shape[:2]
        limits = {"min_side": 0.1 * max(width, height), "max_side": 1.5 * max(width, height)}
        regions = [region_around(box, scale, **limits) for scale in crop_scales]
        regions.append(turned(region_around(box, _TRACKER.crop_scale, **limits)))
        crop, mat = crop_regions(image, regions, size)
        crops.append(crop)
        mats.append(mat)
        owners += [i] * len(regions)
    if not owners:
        return xy, scores
    crop_xy, crop_scores, crop_support = predictor.predict_crops(np.concatenate(crops), with_support=True)
    crop_xy = crop_to_image(np.asarray(crop_xy, np.float64), np.concatenate(mats)).astype(np.float32)
    best = support.mean(axis=1)
    for j, i in enumerate(owners):  # the crops of all images were run in one batch
        quality = float(crop_support[j].mean())
        if quality > best[i]:
            best[i], xy[i], scores[i] = quality, crop_xy[j], crop_scores[j]
    return xy, scores
