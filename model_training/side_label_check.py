"""Find training crops whose left/right labels look swapped, and write a crop store with those labels exchanged.

LSPET's labels come from crowd workers, and on some images a worker's "left" is the viewer's left. For each crop of
a store (``crop_store``), the model predicts the joints (with flip averaging); per limb group (legs: hips, knees,
ankles; arms: shoulders, elbows, wrists) the mean distance of the labelled joints to the prediction is computed as
labelled and with the group's left and right exchanged, in units of the crop's torso (r_shoulder to l_hip). A group
is exchanged when that makes the mean distance smaller by more than ``--margin`` torso lengths and at least
``--min-joints`` of its joints are labelled. Crops inside ``--val-range`` are never changed, so validation stays
comparable. On LSPET im00001-09000 with the bundled stage-3 model and margin 0.3: 383 leg groups and 440 arm groups
(of 8,800 training crops) were exchanged. A stage trained on the result did not beat the model it started from
(model card, "tried and not shipped").

    python -m model_training.side_label_check data_cache/lspet_train_240.npz \\
        --out data_cache/lspet_train_208_sidefix.npz --apply-to data_cache/lspet_train_208.npz
"""

from __future__ import annotations

import argparse
import shutil
import warnings
from pathlib import Path

import cv2
import numpy as np

from gymnast_pose.inference import PosePredictor
from gymnast_pose.skeleton import JOINT_INDEX
from model_training.crop_store import CropStore
from model_training.train import split_indices

GROUPS = {
    "legs": (("r_ankle", "l_ankle"), ("r_knee", "l_knee"), ("r_hip", "l_hip")),
    "arms": (("r_wrist", "l_wrist"), ("r_elbow", "l_elbow"), ("r_shoulder", "l_shoulder")),
}


def exchanged(pairs) -> list[int]:
    order = list(range(len(JOINT_INDEX)))
    for right, left in pairs:
        order[JOINT_INDEX[right]], order[JOINT_INDEX[left]] = JOINT_INDEX[left], JOINT_INDEX[right]
    return order


def swapped_groups(predicted: np.ndarray, labels: np.ndarray, labelled: np.ndarray, margin: float,
                   min_joints: int) -> dict[str, np.ndarray]:
    """predicted, labels (N, K, 2) and labelled (N, K) bool in the same pixels -> per group (N,) bool: exchange."""
    torso = np.maximum(np.linalg.norm(labels[:, JOINT_INDEX["r_shoulder"]] - labels[:, JOINT_INDEX["l_hip"]], axis=-1),
                       10.0)
    result = {}
    for name, pairs in GROUPS.items():
        joints = [JOINT_INDEX[j] for pair in pairs for j in pair]
        errors = []
        for order in (list(range(labels.shape[1])), exchanged(pairs)):
            distance = np.linalg.norm(predicted - labels[:, order], axis=-1)
            distance = np.where(labelled[:, order], distance, np.nan)[:, joints]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a group without labelled joints: NaN, not exchanged
                errors.append(np.nanmean(distance, axis=1) / torso)
        count = labelled[:, joints].sum(axis=1)
        result[name] = (count >= min_joints) & np.nan_to_num(errors[1] < errors[0] - margin, nan=False)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("store", help="crop store the model looks at")
    parser.add_argument("--out", required=True, help="crop store to write, with the exchanged labels")
    parser.add_argument("--apply-to", default=None, help="another store of the same crops (e.g. a smaller side) "
                        "to copy and fix instead of --store")
    parser.add_argument("--model", default=None, help="checkpoint (default: the bundled model)")
    parser.add_argument("--margin", type=float, default=0.3)
    parser.add_argument("--min-joints", type=int, default=4)
    parser.add_argument("--val-range", default="8801-9000")
    args = parser.parse_args(argv)
    store = CropStore(args.store)
    predictor = PosePredictor(args.model, flip=True)
    size = predictor.input_size
    predicted = []
    for start in range(0, len(store), 256):
        crops = np.stack([cv2.resize(image, (size, size)) for image in store.images[start:start + 256]])
        xy, _ = predictor.predict_crops(crops)
        predicted.append(xy * (store.side / size))
    groups = swapped_groups(np.concatenate(predicted), store.keypoints, store.labelled, args.margin, args.min_joints)
    train, _ = split_indices(store.names, args.val_range)
    in_training = np.zeros(len(store), bool)
    in_training[train] = True
    target = Path(args.apply_to or args.store)
    with np.load(target) as source:
        arrays = dict(source)
    if not np.array_equal(arrays["names"], store.names):
        raise SystemExit(f"{target} does not hold the same crops as {args.store}")
    for name, pairs in GROUPS.items():
        flag = groups[name] & in_training
        order = exchanged(pairs)
        arrays["keypoints"][flag] = arrays["keypoints"][flag][:, order]
        arrays["labelled"][flag] = arrays["labelled"][flag][:, order]
        print(f"{name}: left and right exchanged on {int(flag.sum())} of {int(in_training.sum())} training crops")
    tmp = Path(args.out).with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    shutil.move(tmp, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
