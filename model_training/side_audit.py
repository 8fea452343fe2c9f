"""Look at the images where the side-free diagnostic forgives a left/right exchange, and tally a verdict on each.

``evaluate.py`` reports a side-free score next to PCK (``evaluate.pck_table``): each image counts the prediction
as given or with its left and right joints exchanged, whichever hits more labelled joints. The gap between the two
scores mixes three things: the network put the sides the wrong way round, the label did (LSPET's crowd-sourced
labels sometimes name the limbs from the viewer's side, or are garbled), or the network's skeleton is wrong
altogether and the exchange just happens to hit a few more joints. Only eyes can tell these apart, so this module
does the two mechanical parts:

* ``sheet``: a contact sheet of those images, each as a pair: the label (left tile) and the prediction (right
  tile), drawn as the app draws them (``render.draw_stickman``): right-side limbs orange, left-side blue, the neck
  and head white. A person's right is the viewer's left when they face the camera upright, the viewer's right
  when seen from behind or upside down facing the camera.
* ``tally``: given a JSON file of verdicts ``{"category": ["im08810", ...], ...}`` written by whoever looked, how
  many images and how many PCK@0.2 joints each category accounts for (the joints the exchange would win).

    python -m model_training.evaluate --model resources/gymnast_pose.pt --input-size 256 \\
        --data lsp:../shared/data/lspet:8801-9000 --json /tmp/val.json
    python -m model_training.side_audit sheet /tmp/val.json --data lsp:../shared/data/lspet:8801-9000 --out s.png
    python -m model_training.side_audit tally /tmp/val.json --data lsp:../shared/data/lspet:8801-9000 \\
        --verdicts model_training/figures/side_audit_validation.json

Use it on the validation images (8801-9000), not on the hold-out.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from gymnast_pose.render import draw_stickman
from gymnast_pose.skeleton import K
from model_training.datasets import Sample, read_dataset
from model_training.evaluate import joint_hits, load_rgb


def exchange_winners(pred: np.ndarray, gt: np.ndarray, labelled: np.ndarray, alpha: float = 0.2):
    """pred, gt (N, K, 2), labelled (N, K) -> (indices (M,) of the images where the exchanged prediction hits more
    joints, hits as given (M,), hits exchanged (M,), joints counted over all N images)."""
    hit, hit_exchanged, counted = joint_hits(pred, gt, labelled, alpha)
    given, exchanged = hit.sum(axis=1), hit_exchanged.sum(axis=1)
    chosen = np.flatnonzero(exchanged > given)
    return chosen, given[chosen], exchanged[chosen], int(counted.sum())


def draw_skeleton(image: np.ndarray, xy: np.ndarray, shown: np.ndarray, scale: float) -> np.ndarray:
    """image (H, W, 3) RGB uint8 (already resized by ``scale``), xy (K, 2) in original pixels, shown (K,) bool ->
    a copy with the app's stickman (``render.draw_stickman``) of the shown joints."""
    keypoints = np.concatenate([xy * scale, np.ones((K, 1))], axis=1)
    keypoints[~shown] = np.nan
    return draw_stickman(image.copy(), keypoints, threshold=0.0, width=2)


def pair_tile(image: np.ndarray, label_xy: np.ndarray, labelled: np.ndarray, pred_xy: np.ndarray, title: str,
              tile: int = 360) -> np.ndarray:
    """One image as [label | prediction], each letterboxed into a (tile, tile) square -> (tile, 2 tile, 3) RGB."""
    scale = tile / max(image.shape[:2])
    small = cv2.resize(image, (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))),
                       interpolation=cv2.INTER_AREA)
    halves = []
    for xy, shown in ((label_xy, labelled), (pred_xy, np.isfinite(pred_xy).all(axis=1))):
        canvas = np.zeros((tile, tile, 3), np.uint8)
        canvas[:small.shape[0], :small.shape[1]] = draw_skeleton(small, np.nan_to_num(xy), shown, scale)
        halves.append(canvas)
    pair = np.concatenate(halves, axis=1)
    cv2.putText(pair, title, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 2, cv2.LINE_AA)
    return pair


def contact_sheet(samples: list[Sample], pred: np.ndarray, indices, columns: int = 2, tile: int = 360) -> np.ndarray:
    """The pairs of ``indices`` in rows of ``columns`` -> RGB sheet; an empty list gives one black row."""
    pairs = [pair_tile(load_rgb(samples[i]), samples[i].keypoints, samples[i].labelled, pred[i],
                       samples[i].image_path.stem, tile) for i in indices]
    blank = np.zeros((tile, 2 * tile, 3), np.uint8)
    pairs = pairs or [blank] * columns
    pairs += [blank] * (-len(pairs) % columns)
    rows = [np.concatenate(pairs[r:r + columns], axis=1) for r in range(0, len(pairs), columns)]
    return np.concatenate(rows, axis=0)


def tally(samples: list[Sample], pred: np.ndarray, verdicts: dict[str, list[str]], alpha: float = 0.2) -> dict:
    """verdicts {category: [image stems]} -> {category: {"images", "joints_won", "pck_share"}, "all": {...}}, where
    joints_won counts the labelled joints the exchange would add and pck_share divides it by all counted joints."""
    gt = np.stack([s.keypoints for s in samples])
    labelled = np.stack([s.labelled for s in samples])
    chosen, given, exchanged, counted = exchange_winners(pred, gt, labelled, alpha)
    won = {samples[i].image_path.stem: int(e - g) for i, g, e in zip(chosen, given, exchanged)}
    unknown = sorted({stem for stems in verdicts.values() for stem in stems} - set(won))
    if unknown:
        raise ValueError(f"not among the images the exchange helps: {', '.join(unknown)}")
    out = {}
    for category, stems in verdicts.items():
        joints = sum(won[s] for s in stems)
        out[category] = {"images": len(stems), "joints_won": joints, "pck_share": joints / max(counted, 1)}
    judged = {s for stems in verdicts.values() for s in stems}
    rest = [s for s in won if s not in judged]
    if rest:
        joints = sum(won[s] for s in rest)
        out["not judged"] = {"images": len(rest), "joints_won": joints, "pck_share": joints / max(counted, 1)}
    total = sum(won.values())
    out["all"] = {"images": len(won), "joints_won": total, "pck_share": total / max(counted, 1)}
    return out


def _load(evaluation: str, data: str, method: str | None) -> tuple[list[Sample], np.ndarray]:
    report = json.loads(Path(evaluation).read_text())
    details = report["details"]
    name = method or next(n for n, d in details.items() if "predictions" in d)
    pred = np.asarray(details[name]["predictions"], np.float64)
    samples = read_dataset(data)
    if len(samples) != len(pred):
        raise SystemExit(f"{evaluation} has {len(pred)} predictions, {data} has {len(samples)} images")
    return samples, pred


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=("sheet", "tally"))
    p.add_argument("evaluation", help="an evaluate.py --json file")
    p.add_argument("--data", required=True, help="the dataset spec it was run on")
    p.add_argument("--method", default=None, help="which method of that file (default: the first with predictions)")
    p.add_argument("--out", default="", help="sheet: PNG to write")
    p.add_argument("--tile", type=int, default=360, help="sheet: side of each half of a pair, in pixels")
    p.add_argument("--only", default="", help="sheet: comma-separated image stems instead of all the exchanges")
    p.add_argument("--verdicts", default="", help="tally: JSON {category: [image stems]}")
    args = p.parse_args(argv)
    samples, pred = _load(args.evaluation, args.data, args.method)
    if args.what == "sheet":
        if not args.out:
            raise SystemExit("sheet needs --out")
        gt, labelled = np.stack([s.keypoints for s in samples]), np.stack([s.labelled for s in samples])
        chosen = exchange_winners(pred, gt, labelled)[0]
        if args.only:
            stems = [s.image_path.stem for s in samples]
            chosen = [stems.index(x) for x in args.only.split(",")]
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(args.out, cv2.cvtColor(contact_sheet(samples, pred, chosen, tile=args.tile), cv2.COLOR_RGB2BGR))
        print(f"{len(chosen)} images -> {args.out}")
        return 0
    if not args.verdicts:
        raise SystemExit("tally needs --verdicts")
    verdicts = json.loads(Path(args.verdicts).read_text())["verdicts"]
    for category, row in tally(samples, pred, verdicts).items():
        print(f"{category}: {row['images']} images, {row['joints_won']} joints won by the exchange "
              f"(PCK@0.2 {row['pck_share']:.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
