"""Readers for labelled pose data, all producing ``Sample``s in the LSP-14 keypoint order.

Supported sources:

* LSP / LSPET ``joints.mat``. LSPET stores (14, 3, N) as x, y, v with v = 1 labelled and v = 0 missing. The
  original LSP stores (3, 14, N) where every joint is labelled and the third row is an occlusion flag.
* COCO keypoint JSON (``person_keypoints_*.json``): COCO-17 is mapped to LSP-14; neck and head_top do not exist in
  COCO and are marked missing. Each person annotation with enough labelled keypoints is one sample, cropped later
  around its labelled joints.
* A folder a coach can make: images plus ``keypoints.json`` mapping each image's file name without extension to 14
  ``[x, y, v]`` triples in that image's pixels, LSP-14 order, v = 1 labelled, v = 0 missing. ``gymnast-pose pose
  DIR --json DIR/keypoints.json`` writes a first draft of this file (with scores in place of v) to correct by hand.

Coordinates are 0-based pixels of the original image.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io

from gymnast_pose.skeleton import JOINT_NAMES, K

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")

# LSP-14 index -> COCO-17 index (None: not in COCO).
COCO_TO_LSP: tuple[int | None, ...] = (16, 14, 12, 11, 13, 15, 10, 8, 6, 5, 7, 9, None, None)


@dataclass
class Sample:
    """One labelled person: keypoints (K, 2) float32 x, y in image pixels; labelled (K,) bool."""

    image_path: Path
    keypoints: np.ndarray
    labelled: np.ndarray
    name: str = ""


def lsp_index_range(first: int, last: int) -> range:
    """1-based inclusive image numbers (im00001 = 1) to 0-based indices into joints.mat."""
    return range(first - 1, last)


def read_lsp(root, indices=None) -> list[Sample]:
    """Read an LSP or LSPET folder (``joints.mat`` + ``images/imNNNNN.jpg``); ``indices`` are 0-based."""
    root = Path(root)
    joints = scipy.io.loadmat(root / "joints.mat")["joints"]
    if joints.shape[0] == 14 and joints.shape[1] == 3:  # LSPET: (14, 3, N), v = 1 labelled
        xy = joints[:, :2, :].transpose(2, 0, 1)
        labelled = joints[:, 2, :].T > 0.5
    elif joints.shape[0] == 3 and joints.shape[1] == 14:  # LSP: (3, 14, N), all labelled
        xy = joints[:2].transpose(2, 1, 0)
        labelled = np.ones(xy.shape[:2], dtype=bool)
    else:
        raise ValueError(f"Unexpected joints.mat shape {joints.shape} in {root}")
    n = xy.shape[0]
    indices = range(n) if indices is None else indices
    samples = []
    for i in indices:
        name = f"im{i + 1:05d}" if n > 2000 else f"im{i + 1:04d}"
        path = root / "images" / f"{name}.jpg"
        samples.append(Sample(path, xy[i].astype(np.float32), labelled[i].copy(), name))
    return samples


def read_coco(annotation_file, image_dir, min_keypoints: int = 8) -> list[Sample]:
    """Read a COCO keypoint JSON; people with fewer than ``min_keypoints`` labelled LSP joints are skipped."""
    data = json.loads(Path(annotation_file).read_text())
    files = {img["id"]: img["file_name"] for img in data["images"]}
    samples = []
    for ann in data["annotations"]:
        if ann.get("iscrowd", 0):
            continue
        coco = np.asarray(ann["keypoints"], dtype=np.float32).reshape(-1, 3)
        xy = np.zeros((K, 2), np.float32)
        labelled = np.zeros(K, bool)
        for lsp_index, coco_index in enumerate(COCO_TO_LSP):
            if coco_index is not None and coco[coco_index, 2] > 0:
                xy[lsp_index] = coco[coco_index, :2]
                labelled[lsp_index] = True
        if labelled.sum() >= min_keypoints:
            samples.append(Sample(Path(image_dir) / files[ann["image_id"]], xy, labelled, f"coco{ann['id']}"))
    return samples


def read_folder(folder) -> list[Sample]:
    """Read the coach folder format (see the module docstring)."""
    folder = Path(folder)
    labels = json.loads((folder / "keypoints.json").read_text())
    images = {p.stem: p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
    samples = []
    for stem, triples in sorted(labels.items()):
        arr = np.asarray(triples, dtype=np.float32)
        if arr.shape != (K, 3):
            raise ValueError(
                f"{folder / 'keypoints.json'}: '{stem}' needs {K} [x, y, v] triples ({', '.join(JOINT_NAMES)})")
        if stem not in images:
            raise FileNotFoundError(f"{folder}: no image named '{stem}' for its labels")
        samples.append(Sample(images[stem], arr[:, :2].copy(), arr[:, 2] > 0.5, stem))
    return samples


def read_dataset(spec: str) -> list[Sample]:
    """Parse a dataset spec string used by the training and evaluation scripts.

    ``lsp:PATH[:FIRST-LAST]`` (1-based inclusive image numbers), ``coco:ANNOTATIONS.json:IMAGE_DIR``,
    ``folder:PATH``.
    """
    kind, _, rest = spec.partition(":")
    if kind == "lsp":
        path, _, span = rest.partition(":")
        if span:
            first, last = (int(v) for v in span.split("-"))
            return read_lsp(path, lsp_index_range(first, last))
        return read_lsp(path)
    if kind == "coco":
        ann, _, image_dir = rest.partition(":")
        return read_coco(ann, image_dir)
    if kind == "folder":
        return read_folder(rest)
    raise ValueError(f"Unknown dataset spec '{spec}': use lsp:PATH[:A-B], coco:JSON:IMAGES or folder:PATH")
