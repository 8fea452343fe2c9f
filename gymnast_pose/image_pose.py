"""Poses for still images that each show one person: a look at the whole image, then a second look at the person.

Pass 1 letterboxes the whole image into the network's input (``PosePredictor.predict_images``). Pass 2 crops a
square around the joints pass 1 found with at least ``joint_threshold`` (side ``crop_scale`` x their extent, as the
video tracker crops, see ``gymnast_pose.tracking``), so the person fills the input the way training crops did, and
also tries that crop turned by 180 degrees (an upside-down athlete). Of the passes the one with the highest mean
joint score wins, per image. On LSPET images 8801-9000 (training's validation split) the second look raised the
bundled model's PCK@0.2 from 0.387 to 0.424 and PCK@0.1 from 0.217 to 0.241 (2026-11-25), for three network runs
per image instead of one.

Outputs as in ``gymnast_pose.inference``: keypoints (N, K, 2) float32 in each image's own pixels and scores (N, K).
"""

from __future__ import annotations

import numpy as np

from gymnast_pose.estimator import EstimatorConfig, PoseEstimator
from gymnast_pose.inference import PosePredictor
from gymnast_pose.tracking import pose_box, region_around, turned

_TRACKER = EstimatorConfig()  # the second look crops as the video tracker does


def predict_image_poses(
    predictor: PosePredictor, images: list[np.ndarray], refine: bool = True,
    crop_scale: float = _TRACKER.crop_scale, joint_threshold: float = _TRACKER.joint_threshold,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """images: N arrays (H, W, 3) uint8 RGB, one person each -> keypoints (N, K, 2), scores (N, K).

    ``refine=False`` is pass 1 alone (one network run per image).
    """
    xy, scores = predictor.predict_images(images)
    if not refine or not len(images):
        return xy, scores
    jobs, owners = [], []
    for i, image in enumerate(images):
        box = pose_box(xy[i], scores[i], joint_threshold)
        if box is None:  # too few joints to frame the person: keep the whole-image answer
            continue
        height, width = image.shape[:2]
        region = region_around(box, crop_scale, min_side=0.1 * max(width, height), max_side=1.5 * max(width, height))
        for r in (region, turned(region)):
            jobs.append((image, r))
            owners.append(i)
    best = scores.mean(axis=1)
    crop_xy, crop_scores = PoseEstimator(predictor, _TRACKER).infer(jobs)  # crops of all images, batched together
    for j, i in enumerate(owners):
        quality = float(crop_scores[j].mean())
        if quality > best[i]:
            best[i], xy[i], scores[i] = quality, crop_xy[j], crop_scores[j]
    return xy, scores
