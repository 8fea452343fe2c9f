"""Poses for still images that each show one person: a look at the whole image, then a second look at the person.

Pass 1 letterboxes the whole image into the network's input (``PosePredictor.predict_images``). Pass 2 crops
squares around the joints pass 1 found with at least ``joint_threshold``: sides ``crop_scales`` x their extent (the
video tracker crops at 1.8 x, see ``gymnast_pose.tracking``; a tighter and a looser square catch people whose first
extent was too small or too large), so the person fills the input the way training crops did, and also the
tracker's square turned by 180 degrees (an upside-down athlete). Of all the looks the one whose joints have the
highest mean support wins, per image (the support is the mean probability of the 3 x 3 map cells around each joint,
``codec.PixelClassCodec``, so it compares across looks; choosing per joint instead mixes up left and right and
scored lower). Each of the winner's joints is then the support-weighted mean of that joint in every look that
places it within ``agree_radius`` x the winner's extent (the larger side of its joints' bounding box) of the
winner's position: looks that agree are averaged, a look that found another limb is ignored (REPORT.md section
4g: on validation PCK@0.2 0.586 -> 0.590, on training images 0.647 -> 0.655). The scores returned are the
winning look's own.

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
JOINT_THRESHOLD = _TRACKER.joint_threshold  # the score a joint needs to help frame the second look
CROP_SCALES = (1.5, _TRACKER.crop_scale, 2.2)
AGREE_RADIUS = 0.06  # of the winning look's extent; chosen on training and validation images


def predict_image_poses(
    predictor: PosePredictor, images: list[np.ndarray], refine: bool = True,
    crop_scales: tuple[float, ...] = CROP_SCALES, joint_threshold: float = JOINT_THRESHOLD,
    agree_radius: float = AGREE_RADIUS,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """images: N arrays (H, W, 3) uint8 RGB, one person each -> keypoints (N, K, 2), scores (N, K).

    ``refine=False`` is pass 1 alone (one network run per image). The turned look uses the tracker's scale.
    ``agree_radius=0`` keeps the winning look's joints as they are.
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
    owners = np.asarray(owners)
    for i in np.unique(owners):  # the crops of all images were run in one batch
        mine = np.flatnonzero(owners == i)
        look_xy = np.concatenate([xy[i][None], crop_xy[mine]])
        look_support = np.concatenate([support[i][None], crop_support[mine]])
        winner = int(np.argmax(look_support.mean(axis=1)))
        if winner > 0:
            scores[i] = crop_scores[mine[winner - 1]]
        xy[i] = fuse_agreeing_looks(look_xy, look_support, winner, agree_radius)
    return xy, scores


def fuse_agreeing_looks(look_xy: np.ndarray, look_support: np.ndarray, winner: int, radius: float) -> np.ndarray:
    """look_xy (L, K, 2) one person's joints as seen by L looks, look_support (L, K) -> joints (K, 2) float32.

    Joint k is the mean of ``look_xy[:, k]`` over the looks within ``radius`` x the winner's extent of the winner's
    joint k, weighted by their support; the winner always counts, so ``radius=0`` returns its joints.
    """
    base = look_xy[winner].astype(np.float64)
    finite = np.isfinite(base).all(axis=1)
    if radius <= 0 or finite.sum() < 2:
        return look_xy[winner].astype(np.float32)
    extent = float(np.ptp(base[finite], axis=0).max())
    points = np.nan_to_num(look_xy.astype(np.float64), nan=np.inf)
    near = np.linalg.norm(points - base[None], axis=2) <= radius * extent  # (L, K)
    near[winner] = True
    weight = np.where(near, np.maximum(look_support.astype(np.float64), 1e-9), 0.0)
    fused = (weight[..., None] * np.where(near[..., None], points, 0.0)).sum(axis=0) / weight.sum(axis=0)[:, None]
    fused[~finite] = base[~finite]
    return fused.astype(np.float32)
