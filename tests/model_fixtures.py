"""Small generated models and data for tests: no test needs ../shared or the bundled model."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from gymnast_pose.codec import PixelClassCodec
from gymnast_pose.model import PoseNet, PoseNetConfig, save_checkpoint
from gymnast_pose.skeleton import EDGES, K

TINY_CONFIG = dict(stem_channels=8, stage_channels=(8, 16, 16, 32), stage_blocks=(1, 1, 1, 1), decoder_channels=16)


def tiny_network(out_channels: int = K + 1, block: str = "inverted_residual") -> PoseNet:
    return PoseNet(PoseNetConfig(out_channels=out_channels, block=block, **TINY_CONFIG))


def write_tiny_model(path, input_size: int = 64) -> Path:
    """A random-weights pixel-classification checkpoint (about 20k parameters)."""
    save_checkpoint(path, tiny_network(), PixelClassCodec(input_size, 4), training={"note": "test fixture"})
    return Path(path)


def stick_figure(rng: np.random.Generator, size: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """A random standing stick figure: image (size, size, 3) uint8 BGR and keypoints (K, 2)."""
    cx, top, h = size / 2 + rng.uniform(-8, 8), size * 0.15, size * 0.7
    y = lambda f: top + f * h  # noqa: E731
    kp = np.array([
        [cx - 6, y(1.0)], [cx - 6, y(0.78)], [cx - 5, y(0.55)], [cx + 5, y(0.55)], [cx + 6, y(0.78)], [cx + 6, y(1.0)],
        [cx - 16, y(0.5)], [cx - 13, y(0.35)], [cx - 8, y(0.2)], [cx + 8, y(0.2)], [cx + 13, y(0.35)],
        [cx + 16, y(0.5)], [cx, y(0.15)], [cx, y(0.0)],
    ], np.float32) + rng.normal(0, 1.0, (K, 2)).astype(np.float32)
    image = np.full((size, size, 3), 200, np.uint8)
    for a, b in EDGES:
        cv2.line(image, tuple(int(v) for v in kp[a]), tuple(int(v) for v in kp[b]), (40, 40, 160), 2)
    for k in range(K):
        cv2.circle(image, tuple(int(v) for v in kp[k]), 2, (0, 120 + 9 * k, 0), -1)
    return image, kp


def write_folder_dataset(folder, n: int = 12, seed: int = 0) -> Path:
    """Images img0001.png ... and keypoints.json in the coach folder format (v = 1 for every joint)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    labels = {}
    for i in range(1, n + 1):
        image, kp = stick_figure(rng)
        cv2.imwrite(str(folder / f"img{i:04d}.png"), image)
        labels[f"img{i:04d}"] = [[float(x), float(y), 1.0] for x, y in kp]
    (folder / "keypoints.json").write_text(json.dumps(labels))
    return folder
