"""Calibrate a checkpoint for 8-bit CPU inference (``gymnast_pose.quantized``) and store the result in it.

The activation ranges are measured on crops made the way the app makes them, from *training* images only (never
the validation or hold-out images): each image letterboxed whole (the first look of ``gymnast-pose pose`` and of
the video search), and cropped around its labelled joints at the tracker's scale, upright and turned by 180
degrees (the tracked crop and the upside-down look). The checkpoint is rewritten atomically with an
``int8_calibration`` entry (the network as the video tracker runs it, without a refinement stage) and, for a
network with a refinement stage, an ``int8_calibration_refined`` entry (the whole network, as still images run
it); its weights are untouched, so float inference is bit for bit the same.

    python -m model_training.calibrate_int8 resources/gymnast_pose.pt --data lsp:../shared/data/lspet:1-300
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from gymnast_pose.estimator import EstimatorConfig
from gymnast_pose.inference import Region, crop_regions
from gymnast_pose.model import (
    load_checkpoint,
    normalize_images,
    read_checkpoint,
    without_refinement,
    write_checkpoint_payload,
)
from gymnast_pose.quantized import CALIBRATION_KEY, REFINED_CALIBRATION_KEY, calibrate
from gymnast_pose.tracking import pose_box, region_around, turned
from model_training.datasets import Sample, read_dataset
from model_training.evaluate import load_rgb


def calibration_crops(samples: list[Sample], input_size: int, crop_scale: float = EstimatorConfig().crop_scale,
                      ) -> Iterator[np.ndarray]:
    """Per sample: crops (N, S, S, 3) uint8 RGB: the letterboxed image, then (when at least 4 joints are labelled)
    the square around them at ``crop_scale`` upright and turned by 180 degrees."""
    for sample in samples:
        image = load_rgb(sample)
        height, width = image.shape[:2]
        regions = [Region.whole_image(width, height)]
        box = pose_box(sample.keypoints, sample.labelled.astype(np.float32), 0.5)
        if box is not None:
            upright = region_around(box, crop_scale, 16.0)
            regions += [upright, turned(upright)]
        yield crop_regions(image, regions, input_size)[0]


def batches_of(crops: Iterator[np.ndarray], size: int = 32) -> Iterator[torch.Tensor]:
    """Crops regrouped into normalised batches (B, 3, S, S) float32."""
    pending: list[np.ndarray] = []
    for group in crops:
        pending.extend(group)
        while len(pending) >= size:
            yield normalize_images(torch.from_numpy(np.stack(pending[:size])))
            pending = pending[size:]
    if pending:
        yield normalize_images(torch.from_numpy(np.stack(pending)))


def store_calibration(path, calibration: dict, data: str, refined: dict | None = None) -> Path:
    """Rewrite checkpoint ``path`` with ``calibration`` (plus the data it came from) under ``int8_calibration``
    and ``refined`` under ``int8_calibration_refined`` (removed when None)."""
    payload = read_checkpoint(path)
    payload[CALIBRATION_KEY] = {**calibration, "data": data}
    payload.pop(REFINED_CALIBRATION_KEY, None)
    if refined is not None:
        payload[REFINED_CALIBRATION_KEY] = {**refined, "data": data}
    return write_checkpoint_payload(path, payload)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="checkpoint to calibrate and rewrite (e.g. resources/gymnast_pose.pt)")
    p.add_argument("--data", required=True, help="training images only, e.g. lsp:../shared/data/lspet:1-300")
    p.add_argument("--input-size", type=int, default=None, help="crop side (default: the model's inference size)")
    args = p.parse_args(argv)
    loaded = load_checkpoint(args.checkpoint)
    size = int(args.input_size or loaded.metadata.get("inference", {}).get("input_size") or 256)
    samples = read_dataset(args.data)
    calibration = calibrate(without_refinement(loaded.network), batches_of(calibration_crops(samples, size)), size)
    refined = None
    if getattr(loaded.network, "refine", None) is not None:
        refined = calibrate(loaded.network, batches_of(calibration_crops(samples, size)), size)
    out = store_calibration(args.checkpoint, calibration, args.data, refined)
    print(f"calibrated on {calibration['crops']} crops of {len(samples)} images at {size} px; wrote {out} "
          f"({out.stat().st_size / 2**20:.1f} MB)")


if __name__ == "__main__":
    main()
