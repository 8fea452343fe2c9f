"""Figures for model_training/REPORT.md.

* ``confidence_maps``: for a few hold-out images, the classification model's per-pixel keypoint probability
  (1 - p(background), i.e. the sum over the 14 keypoint classes) next to the regression model's heatmaps (maximum
  over the 14 channels), both after the same training budget, overlaid on the image.
* ``training_curves``: validation PCK@0.2 per epoch for each run's log.jsonl.
* ``per_joint_bars``: PCK@0.2 per joint of several methods, from ``evaluate.py --json`` files (every method in each
  file: ``gymnast_pose``, ``mediapipe``, a checkpoint's name), as grouped bars; a method without a joint (MediaPipe
  has no head top) leaves its bar out.

    python -m model_training.report_figures maps --cls runs/cls/best.pt --reg runs/reg/best.pt \\
        --data lsp:../shared/data/lspet:9001-10000 --out model_training/figures/confidence_maps.png
    python -m model_training.report_figures curves runs/cls/log.jsonl runs/reg/log.jsonl --out curves.png \\
        [--labels classification regression]
    python -m model_training.report_figures joints before.json after.json --labels before after mediapipe \\
        --out per_joint.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from gymnast_pose.inference import PosePredictor, Region, crop_regions
from gymnast_pose.skeleton import EDGES, JOINT_NAMES, K
from model_training.datasets import read_dataset


def _overlay(crop: np.ndarray, heat: np.ndarray) -> np.ndarray:
    """crop (S, S, 3) RGB uint8, heat (h, w) in [0, 1] -> RGB overlay (S, S, 3)."""
    heat = cv2.resize(heat.astype(np.float32), crop.shape[:2][::-1], interpolation=cv2.INTER_NEAREST)
    colour = cv2.applyColorMap((np.clip(heat, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)[..., ::-1]
    return (0.35 * crop + 0.65 * colour).astype(np.uint8)


def _skeleton(crop: np.ndarray, xy: np.ndarray) -> np.ndarray:
    out = crop.copy()
    for a, b in EDGES:
        cv2.line(out, tuple(int(v) for v in xy[a]), tuple(int(v) for v in xy[b]), (60, 255, 60), 2, cv2.LINE_AA)
    for k in range(K):
        cv2.circle(out, tuple(int(v) for v in xy[k]), 3, (255, 60, 60) if k in (0, 1, 2, 6, 7, 8) else (60, 160, 255),
                   -1, cv2.LINE_AA)
    return out


def confidence_maps(cls_model, reg_model, data: str, out, count: int = 4, seed: int = 0, input_size: int = 192):
    samples = read_dataset(data)
    rng = np.random.default_rng(seed)
    chosen = [samples[i] for i in rng.choice(len(samples), count, replace=False)]
    cls, reg = PosePredictor(cls_model, "cpu", input_size), PosePredictor(reg_model, "cpu", input_size)
    rows = []
    for s in chosen:
        image = cv2.cvtColor(cv2.imread(str(s.image_path)), cv2.COLOR_BGR2RGB)
        crop, _ = crop_regions(image, [Region.whole_image(image.shape[1], image.shape[0])], input_size)
        p_cls = cls.probability_maps(crop)[0].numpy()
        p_reg = reg.probability_maps(crop)[0].numpy()
        xy_cls, _ = cls.predict_crops(crop)
        xy_reg, _ = reg.predict_crops(crop)
        rows.append(np.concatenate([
            _skeleton(crop[0], xy_cls[0]), _overlay(crop[0], p_cls[:K].sum(0)),
            _skeleton(crop[0], xy_reg[0]), _overlay(crop[0], p_reg.max(0)),
        ], axis=1))
    sheet = np.concatenate(rows, axis=0)
    labels = ["classification: skeleton", "classification: 1 - p(bg)",
              "regression: skeleton", "regression: max heatmap"]
    bar = np.full((28, sheet.shape[1], 3), 255, np.uint8)
    for i, text in enumerate(labels):
        cv2.putText(bar, text, (i * input_size + 6, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), cv2.cvtColor(np.concatenate([bar, sheet]), cv2.COLOR_RGB2BGR))


def training_curves(logs: list[str], out, key: str = "val_pck@0.2", labels: list[str] | None = None):
    """One line of ``key`` per epoch for each log.jsonl -> PNG ``out``; ``labels`` names the lines in log order
    (default: the run's folder, or what follows ``_log_`` in a copied log's name)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 3.6), dpi=120)
    if labels and len(labels) != len(logs):
        raise ValueError(f"{len(labels)} labels for {len(logs)} logs")
    for i, log in enumerate(logs):
        rows = [json.loads(line) for line in Path(log).read_text().splitlines() if line.strip()]
        stem = Path(log).stem
        # runs/NAME/log.jsonl -> NAME; figures/<anything>_log_NAME.jsonl -> NAME
        name = labels[i] if labels else Path(log).parent.name if stem == "log" else stem.split("_log_", 1)[-1]
        ax.plot([r["epoch"] for r in rows], [r[key] for r in rows], label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel(key + " (validation crops)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    fig.tight_layout()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)


def per_joint_bars(jsons: list[str], out, labels: list[str] | None = None, alpha: str = "pck@0.2"):
    """Grouped bars of ``alpha`` per joint (JOINT_NAMES order, then the 12 limbs and all 14) -> PNG ``out``.

    Methods are taken in file order and, within a file, in the order evaluate.py wrote them; ``labels`` renames
    them in that order. MediaPipe's "all" (it has no head top) and its head top are left out.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = [(name, table[alpha]) for path in jsons
               for name, table in json.loads(Path(path).read_text())["results"].items()]
    names = labels or [name for name, _ in methods]
    if len(names) != len(methods):
        raise ValueError(f"{len(names)} labels for {len(methods)} methods")
    rows = [*JOINT_NAMES, "limbs", "all"]
    fig, ax = plt.subplots(figsize=(11, 3.8), dpi=120)
    width = 0.8 / len(methods)
    for m, ((source, table), label) in enumerate(zip(methods, names)):
        skip = {"head_top", "all"} if source == "mediapipe" else set()
        xs = [i + (m - (len(methods) - 1) / 2) * width for i, row in enumerate(rows) if row not in skip]
        ax.bar(xs, [table[row] for row in rows if row not in skip], width, label=label)
    ax.set_xticks(range(len(rows)), [r.replace("_", " ") for r in rows], rotation=45, ha="right")
    ax.set_ylabel(alpha.upper() + " (hold-out)")
    ax.set_ylim(0, 1)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(ncols=len(methods), loc="upper left", fontsize=8)
    fig.tight_layout()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    m = sub.add_parser("maps")
    m.add_argument("--cls", required=True)
    m.add_argument("--reg", required=True)
    m.add_argument("--data", required=True)
    m.add_argument("--out", required=True)
    m.add_argument("--count", type=int, default=4)
    c = sub.add_parser("curves")
    c.add_argument("logs", nargs="+")
    c.add_argument("--labels", nargs="*", default=None)
    c.add_argument("--out", required=True)
    j = sub.add_parser("joints")
    j.add_argument("jsons", nargs="+")
    j.add_argument("--labels", nargs="*", default=None)
    j.add_argument("--out", required=True)
    args = p.parse_args(argv)
    if args.what == "maps":
        confidence_maps(args.cls, args.reg, args.data, args.out, args.count)
    elif args.what == "joints":
        per_joint_bars(args.jsons, args.out, args.labels)
    else:
        training_curves(args.logs, args.out, labels=args.labels)


if __name__ == "__main__":
    main()
