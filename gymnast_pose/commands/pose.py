"""``gymnast-pose pose IMAGE_OR_DIR... --json OUT.json``: keypoints for still images, each one person's crop.

Every image is letterboxed whole into the network, then the network looks again at a crop around the person it
found (``image_pose.predict_image_poses``; ``--single-pass`` skips the second look); each look is also run
mirrored and the two probability maps averaged (``--no-flip`` skips that). Images go in batches of ``BATCH``
images, so a folder of thousands of photos needs little memory. Folders are expanded to their image files
(``IMAGE_SUFFIXES``, not recursive), sorted by name. The JSON maps each image's file name without extension to its
14 keypoints ``[x, y, score]`` in LSP-14 order (``skeleton.JOINT_NAMES``), x and y in the image's own pixels (origin
top-left), score in [0, 1]. When two images share a name without extension, the later ones keep their extension
(and, if that still clashes, the path as given) and a warning says so.

Files that cannot be read as images are skipped with a warning line on stderr; if none can be read, the command
fails with exit status 2 and writes nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

import numpy as np

from gymnast_pose.cli import UserError
from gymnast_pose.commands.analyze import (
    ProgressBar,
    add_precision_argument,
    check_device,
    check_writable,
    quiet_opencv,
)
from gymnast_pose.files import temporary_next_to

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
BATCH = 32


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", type=Path, metavar="IMAGE_OR_DIR",
                        help=f"image files, or folders of images ({' '.join(IMAGE_SUFFIXES)})")
    parser.add_argument("--json", type=Path, required=True, metavar="OUT.json",
                        help="where to write {image name: [[x, y, score] x 14]} (LSP-14 order, image pixels)")
    parser.add_argument("--model", type=Path, metavar="PATH",
                        help="model checkpoint (default: the bundled model, or $GYMNAST_POSE_MODEL)")
    parser.add_argument("--device", default="auto", metavar="auto|cpu|cuda|mps",
                        help="where the network runs (default auto: CUDA, then MPS, then CPU)")
    parser.add_argument("--single-pass", action="store_true",
                        help="only look at the whole image (about 5x faster, less accurate)")
    parser.add_argument("--no-flip", dest="flip", action="store_false",
                        help="do not also run each look mirrored (about 2x faster, less accurate)")
    add_precision_argument(parser)


def expand_inputs(inputs: list[Path]) -> tuple[list[Path], list[Path]]:
    """(image files named directly, in the order given, and the image files of each folder, sorted by name; the
    folders without images). A file reached twice (named and inside a named folder) is kept once."""
    files: list[Path] = []
    empty: list[Path] = []
    for path in inputs:
        if path.is_dir():
            found = sorted((p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
                           key=lambda p: p.name)
            if not found:
                empty.append(path)
            files += found
        elif path.is_file():
            files.append(path)
        elif path.exists():
            raise UserError(f"{path} is neither an image file nor a folder")
        else:
            raise UserError(f"image or folder not found: {path}")
    unique, seen = [], set()
    for path in files:
        if (real := path.resolve()) not in seen:
            seen.add(real)
            unique.append(path)
    return unique, empty


def unique_keys(files: list[Path]) -> list[str]:
    """The JSON key of each file: its name without extension; on a clash its name, then the path as given."""
    keys: list[str] = []
    taken: set[str] = set()
    for path in files:
        for key in (path.stem, path.name, str(path)):
            if key not in taken:
                break
        else:
            raise UserError(f"{path} is given twice")
        if key != path.stem:
            print(f"warning: another image is already named {path.stem!r}; {path} is stored as {key!r}",
                  file=sys.stderr)
        taken.add(key)
        keys.append(key)
    return keys


def read_image(path: Path) -> np.ndarray | None:
    """The image at ``path`` as (H, W, 3) uint8 RGB, or None if it cannot be read as an image."""
    import cv2

    try:
        data = np.fromfile(path, dtype=np.uint8)  # also works for non-ASCII paths on Windows, unlike imread
    except OSError:
        return None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None or image.size == 0:
        return None
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _joint(xy: np.ndarray, score: float) -> list:
    x, y = float(xy[0]), float(xy[1])
    if not (math.isfinite(x) and math.isfinite(y)):
        return [None, None, 0.0]
    return [round(x, 2), round(y, 2), round(float(score), 4)]


def write_json_atomically(document: dict, path: Path) -> None:
    fd, temporary = temporary_next_to(path, f".{path.name}.", ".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(document, f, indent=1)
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)


def _load_predictor(args: argparse.Namespace):
    from gymnast_pose.inference import PosePredictor
    from gymnast_pose.model import ModelFileError

    try:
        return PosePredictor(args.model, device=check_device(args.device), precision=args.precision, flip=args.flip)
    except ModelFileError as exc:
        hint = "" if args.model or os.environ.get("GYMNAST_POSE_MODEL") else \
            " (give a model with --model PATH or the GYMNAST_POSE_MODEL environment variable)"
        raise UserError(f"{exc}{hint}") from None


def run(args: argparse.Namespace) -> int:
    check_device(args.device)
    quiet_opencv()
    files, empty = expand_inputs(args.inputs)
    if not files:
        raise UserError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {', '.join(str(p) for p in args.inputs)}")
    for folder in empty:
        print(f"warning: no images ({', '.join(IMAGE_SUFFIXES)}) in the folder {folder}", file=sys.stderr)
    check_writable(args.json, "JSON file", (".json",))
    keys = unique_keys(files)
    predictor = _load_predictor(args)
    from gymnast_pose.image_pose import predict_image_poses  # torch is imported once the arguments are checked
    results: dict[str, list] = {}
    skipped = 0
    bar = ProgressBar("images")
    try:
        for start in range(0, len(files), BATCH):
            batch, names = [], []
            for path, key in zip(files[start:start + BATCH], keys[start:start + BATCH]):
                image = read_image(path)
                if image is None:
                    bar.close()
                    print(f"warning: skipping {path}: not a readable image", file=sys.stderr)
                    skipped += 1
                    continue
                batch.append(image)
                names.append(key)
            if batch:
                xy, scores = predict_image_poses(predictor, batch, refine=not args.single_pass)
                for key, joints, joint_scores in zip(names, xy, scores):
                    results[key] = [_joint(p, s) for p, s in zip(joints, joint_scores)]
            bar.update(min(start + BATCH, len(files)), len(files))
    finally:
        bar.close()
    if not results:
        raise UserError(f"none of the {len(files)} files could be read as an image; nothing written")
    try:
        write_json_atomically(results, args.json)
    except OSError as exc:
        raise UserError(f"cannot write {args.json}: {exc.strerror or exc}") from None
    note = f" ({skipped} unreadable file{'s' if skipped != 1 else ''} skipped)" if skipped else ""
    print(f"Keypoints of {len(results)} image{'s' if len(results) != 1 else ''} written to {args.json}{note}")
    return 0
