"""Run the report's experiments side by side on one machine (one GPU is plenty for this small network).

Runs (all on the same crop store, network, augmentation and validation split):

* ``main``: the bundled model's recipe (pixel classification, balanced loss without mining, the lighter
  augmentation of resources/MODEL_CARD.md) trained for ``--main-minutes`` with a wall-clock cosine schedule;
* ``cls``, ``reg``: pixel classification vs the Gaussian-heatmap regression baseline, same number of epochs;
* ``no_hnm``, ``hnm20``, ``no_balance``, ``plain_ce``: ablations of the seed's two remedies for class imbalance
  (``hnm20`` keeps 20 instead of 3 background pixels per keypoint pixel).

First every run is probed for ``--probe-seconds`` concurrently to measure its images/s; the comparison epoch count
is then chosen so the slowest comparison run finishes within ``--compare-minutes``. Every run writes its own folder
under ``--out`` (log.jsonl, best.pt, last.pt). ``--export DIR`` writes float16 copies of the best checkpoints.

    python -m model_training.experiments --store data_cache/lspet_train_192.npz --out runs/exp
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

MAIN_RUN = ["--hard-negative-mining", "false",
            "--augment", json.dumps({"p_any_rotation": 0.08, "p_small": 0.08, "rotation_sd": 20})]
COMPARISON_RUNS = {
    "cls": [],
    "reg": ["--formulation", "gaussian_heatmap"],
    "no_hnm": ["--hard-negative-mining", "false"],
    "hnm20": ["--neg-pos-ratio", "20"],
    "no_balance": ["--balanced", "false"],
    "plain_ce": ["--hard-negative-mining", "false", "--balanced", "false"],
}


def _launch(name: str, args: list[str], out: Path, log_name: str) -> subprocess.Popen:
    (out / name).mkdir(parents=True, exist_ok=True)
    log = open(out / name / log_name, "w")
    cmd = [sys.executable, "-m", "model_training.train", "--out", str(out / name), *args]
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)


def export_half(src: Path, dst: Path) -> None:
    """Copy a checkpoint with its floating-point weights stored as float16 (half the bytes)."""
    payload = torch.load(src, map_location="cpu", weights_only=True)
    payload["state_dict"] = {k: v.half() if v.is_floating_point() else v for k, v in payload["state_dict"].items()}
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, dst)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", required=True)
    p.add_argument("--out", default="runs/exp")
    p.add_argument("--probe-seconds", type=float, default=40)
    p.add_argument("--compare-minutes", type=float, default=11)
    p.add_argument("--main-minutes", type=float, default=21)
    p.add_argument("--train-images", type=int, default=8800)
    p.add_argument("--max-epochs", type=int, default=200)
    p.add_argument("--export", default="")
    args = p.parse_args(argv)
    out = Path(args.out)
    common = ["--store", args.store, "--seed", "0"]
    runs = {"main": MAIN_RUN, **COMPARISON_RUNS}

    probe_args = ["--probe-s", str(args.probe_seconds)]
    probes = {n: _launch(n, [*common, *a, *probe_args], out, "probe.txt") for n, a in runs.items()}
    speed = {}
    for name, proc in probes.items():
        proc.wait()
        lines = (out / name / "probe.txt").read_text().strip().splitlines()
        speed[name] = json.loads(lines[-1])["probe_images_per_s"]
    slowest = min(speed[n] for n in COMPARISON_RUNS)
    epochs = max(1, min(args.max_epochs, int(slowest * args.compare_minutes * 60 / args.train_images)))
    plan = {"probe_images_per_s": speed, "comparison_epochs": epochs, "main_minutes": args.main_minutes}
    (out / "plan.json").write_text(json.dumps(plan, indent=1))
    print(json.dumps(plan), flush=True)

    procs = {"main": _launch("main", [*common, *MAIN_RUN, "--schedule-min", str(args.main_minutes)], out, "train.txt")}
    for name, extra in COMPARISON_RUNS.items():
        procs[name] = _launch(name, [*common, *extra, "--epochs", str(epochs)], out, "train.txt")
    t0 = time.time()
    for name, proc in procs.items():
        proc.wait()
        print(f"{name} finished with {proc.returncode} after {(time.time() - t0) / 60:.1f} min", flush=True)
        if args.export and (out / name / "best.pt").exists():
            export_half(out / name / "best.pt", Path(args.export) / f"{name}.pt")


if __name__ == "__main__":
    main()
