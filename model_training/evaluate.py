"""Evaluate a checkpoint: PCK@0.2 and PCK@0.1 per joint (LSP torso convention) on any supported dataset.

Each image is treated as one person's crop, exactly as ``gymnast-pose pose`` does: the whole image is letterboxed
to the network's input, then the network looks again at a crop around the joints it found (upright and turned by
180 degrees; ``gymnast_pose.image_pose``; ``--single-pass`` skips that). No ground-truth box is used. A joint is
correct when its error is at most alpha x the distance between l_shoulder and r_hip (the LSP convention; the other
diagonal, r_shoulder to l_hip, stands in when one of them is not labelled, and images with neither are skipped).
Only labelled joints count.

    python -m model_training.evaluate --model resources/gymnast_pose.pt --data lsp:../shared/data/lspet:9001-10000

``--json`` writes the per-joint table and predictions; ``--mediapipe`` also runs MediaPipe Pose on the same images
(requires ``mediapipe==0.10.14``; see model_training/mediapipe_anchor.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import cv2
import numpy as np

from gymnast_pose.image_pose import AGREE_RADIUS, JOINT_THRESHOLD, predict_image_poses
from gymnast_pose.inference import PosePredictor
from gymnast_pose.skeleton import FLIP_PERMUTATION, JOINT_NAMES, PCK_TORSO_PAIR
from model_training.datasets import Sample, read_dataset

LIMB_JOINTS = tuple(range(12))  # every joint but neck and head_top (not defined in COCO/MediaPipe)


def torso_lengths(gt: np.ndarray, labelled: np.ndarray) -> np.ndarray:
    """gt (N, K, 2), labelled (N, K) -> torso length (N,) by the LSP convention, NaN where undefined."""
    a, b = PCK_TORSO_PAIR
    main = np.linalg.norm(gt[:, a] - gt[:, b], axis=1)
    other = np.linalg.norm(gt[:, 8] - gt[:, 3], axis=1)
    torso = np.where(labelled[:, a] & labelled[:, b], main, np.nan)
    return np.where(np.isnan(torso) & labelled[:, 8] & labelled[:, 3], other, torso)


def pck_table(pred: np.ndarray, gt: np.ndarray, labelled: np.ndarray, found: np.ndarray | None = None) -> dict:
    """pred, gt (N, K, 2); labelled (N, K); found (N,) False where a method returned no person (counted wrong).

    Returns {"pck@0.2": {joint: value, "all": v, "limbs": v}, "pck@0.1": {...}, "images": n, "joints": m,
    "side_free": {"pck@0.2": {"all": v, "limbs": v}, "pck@0.1": {...}, "swapped_images": n}}.

    ``side_free`` is a diagnostic, not the metric: each image is scored with the prediction's left and right joints
    as given or exchanged (``skeleton.FLIP_PERMUTATION``), whichever hits more joints. LSPET's crowd-sourced labels
    mix person-centric and viewer-centric sides on some images, and a person seen from behind looks much like one
    seen from the front, so this shows how much of the error is the side alone.
    """
    torso = torso_lengths(gt, labelled)
    ok = labelled & ~np.isnan(torso)[:, None]
    limbs = list(LIMB_JOINTS)
    table = {"images": int((~np.isnan(torso)).sum()), "joints": int(ok.sum())}
    side_free: dict = {}
    for alpha in (0.2, 0.1):
        hit, hit_swapped, _ = joint_hits(pred, gt, labelled, alpha, found)
        row = {name: float(hit[:, k].sum() / max(ok[:, k].sum(), 1)) for k, name in enumerate(JOINT_NAMES)}
        row["all"] = float(hit.sum() / max(ok.sum(), 1))
        row["limbs"] = float(hit[:, limbs].sum() / max(ok[:, limbs].sum(), 1))
        table[f"pck@{alpha}"] = row
        use_swapped = hit_swapped.sum(axis=1) > hit.sum(axis=1)
        best = np.where(use_swapped[:, None], hit_swapped, hit)
        side_free[f"pck@{alpha}"] = {"all": float(best.sum() / max(ok.sum(), 1)),
                                     "limbs": float(best[:, limbs].sum() / max(ok[:, limbs].sum(), 1))}
        if alpha == 0.2:
            side_free["swapped_images"] = int(use_swapped.sum())
    table["side_free"] = side_free
    return table


def joint_hits(pred: np.ndarray, gt: np.ndarray, labelled: np.ndarray, alpha: float,
               found: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pred, gt (N, K, 2), labelled (N, K) -> (hit, hit_exchanged, counted), each (N, K) bool.

    ``counted``: labelled joints of images with a torso length. ``hit``: counted joints within alpha x torso of the
    label; ``hit_exchanged``: the same with the prediction's left and right joints exchanged
    (``skeleton.FLIP_PERMUTATION``). A NaN prediction, or any joint of an image with ``found`` False, is a miss.
    """
    torso = torso_lengths(gt, labelled)
    counted = labelled & ~np.isnan(torso)[:, None]
    limit = alpha * np.nan_to_num(torso, nan=0)[:, None]
    hits = []
    for p in (pred, pred[:, FLIP_PERMUTATION]):
        err = np.linalg.norm(np.nan_to_num(p, nan=1e9) - gt, axis=2)
        if found is not None:
            err[~found] = np.inf
        hits.append((err <= limit) & counted)
    return hits[0], hits[1], counted


def load_rgb(sample: Sample) -> np.ndarray:
    image = cv2.imread(str(sample.image_path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"cannot read {sample.image_path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def predict_samples(predictor: PosePredictor, samples: list[Sample], batch: int = 64, refine: bool = True,
                    agree_radius: float = AGREE_RADIUS, joint_threshold: float = JOINT_THRESHOLD):
    """Run the predictor on whole images (``image_pose.predict_image_poses``: a second look at the person, framed by
    the joints scoring at least ``joint_threshold``, unless ``refine`` is False; looks that agree within
    ``agree_radius`` averaged) -> keypoints (N, K, 2), scores (N, K), images/s."""
    preds, scores, t0 = [], [], time.perf_counter()
    for start in range(0, len(samples), batch):
        images = [load_rgb(s) for s in samples[start:start + batch]]
        xy, sc = predict_image_poses(predictor, images, refine=refine, agree_radius=agree_radius,
                                     joint_threshold=joint_threshold)
        preds.append(xy)
        scores.append(sc)
    rate = len(samples) / (time.perf_counter() - t0)
    return np.concatenate(preds), np.concatenate(scores), rate


def format_table(results: dict[str, dict]) -> str:
    """Markdown table: one row per joint (+ all, limbs), one PCK@0.2 / PCK@0.1 column pair per method."""
    methods = list(results)
    head = "| joint | " + " | ".join(f"{m} PCK@0.2 | {m} PCK@0.1" for m in methods) + " |"
    lines = [head, "|---" * (1 + 2 * len(methods)) + "|"]
    for name in (*JOINT_NAMES, "limbs", "all"):
        cells = [f"{results[m]['pck@0.2'][name]:.3f} | {results[m]['pck@0.1'][name]:.3f}" for m in methods]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", required=True, help="checkpoint(s); repeat to compare")
    p.add_argument("--data", required=True, help="dataset spec, e.g. lsp:../shared/data/lspet:9001-10000")
    p.add_argument("--input-size", type=int, default=None)
    p.add_argument("--flip", action=argparse.BooleanOptionalAction, default=True,
                   help="average each look with its mirror image, as `pose` does (default on)")
    p.add_argument("--single-pass", action="store_true",
                   help="only the whole-image pass (default: also a second look at the person, as `pose` does)")
    p.add_argument("--no-bone-prior", action="store_true",
                   help="decode each joint's best cell anywhere (gymnast_pose.bone_prior is on by default)")
    p.add_argument("--support-window", type=int, default=None,
                   help="decode each joint in the n x n block of most probability (codec.PixelClassCodec; 1 = the "
                        "single most probable cell; default: the checkpoint's codec)")
    p.add_argument("--agree-radius", type=float, default=AGREE_RADIUS,
                   help="average the looks whose joint lies within this fraction of the winning look's extent "
                        "(image_pose; 0 = the winning look alone)")
    p.add_argument("--joint-threshold", type=float, default=JOINT_THRESHOLD,
                   help="the score a joint needs to help frame the second look (the app's tracker uses the same; a "
                        "model trained without the balanced loss scores far lower, REPORT 3d, unless its file has a "
                        "score scale: export_model --match-scores-of)")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="auto", help="auto, fp32, bf16, fp16 or int8 (inference.uses_int8)")
    p.add_argument("--mediapipe", action="store_true")
    p.add_argument("--json", default="")
    args = p.parse_args(argv)
    samples = read_dataset(args.data)
    gt = np.stack([s.keypoints for s in samples])
    labelled = np.stack([s.labelled for s in samples])
    results, extra = {}, {}
    stems = [Path(m).stem for m in args.model]
    names = [Path(m).stem if stems.count(Path(m).stem) == 1 else Path(m).parent.name for m in args.model]
    for model, name in zip(args.model, names):
        predictor = PosePredictor(model, args.device, input_size=args.input_size, flip=args.flip,
                                  precision=args.precision, bone_prior=not args.no_bone_prior)
        if args.support_window is not None and hasattr(predictor.codec, "support_window"):
            predictor.codec = dataclasses.replace(predictor.codec, support_window=args.support_window)
        xy, sc, rate = predict_samples(predictor, samples, refine=not args.single_pass,
                                        agree_radius=args.agree_radius, joint_threshold=args.joint_threshold)
        results[name] = pck_table(xy, gt, labelled)
        extra[name] = {"images_per_s": rate, "input_size": predictor.input_size, "flip": args.flip,
                       "support_window": getattr(predictor.codec, "support_window", None),
                       "bone_prior": not args.no_bone_prior, "second_look": not args.single_pass,
                       "agree_radius": args.agree_radius, "joint_threshold": args.joint_threshold,
                       "predictions": xy.tolist(), "scores": sc.tolist()}
        free = results[name]["side_free"]
        print(f"{name}: PCK@0.2 {results[name]['pck@0.2']['all']:.3f}  PCK@0.1 {results[name]['pck@0.1']['all']:.3f}"
              f"  ({rate:.0f} images/s incl. decoding); with left/right free per image: PCK@0.2 "
              f"{free['pck@0.2']['all']:.3f}, limbs {free['pck@0.2']['limbs']:.3f} ({free['swapped_images']} images "
              "swapped)", flush=True)
    if args.mediapipe:
        from model_training.mediapipe_anchor import run_mediapipe

        xy, found = run_mediapipe([s.image_path for s in samples])
        results["mediapipe"] = pck_table(xy, gt, labelled, found)
        extra["mediapipe"] = {"no_person_fraction": float(1 - found.mean())}
        print(f"mediapipe: PCK@0.2 limbs {results['mediapipe']['pck@0.2']['limbs']:.3f}, "
              f"no person in {100 * (1 - found.mean()):.1f}% of images")
    print(format_table(results))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"data": args.data, "results": results, "details": extra}))


if __name__ == "__main__":
    main()
