"""Export a training checkpoint as the bundled model (resources/gymnast_pose.pt).

The weights are stored as float16 (half the size; loaded back as float32) and the checkpoint gains an ``inference``
section: the input side the app should use (the network is fully convolutional, so it can run at another size than
it was trained at; choose it on the validation images, never on the hold-out), whether the video tracker runs the
refinement stage too (``--video-refinement``; otherwise only still images do) and the hold-out evaluation, if given.

    python -m model_training.export_model runs/main128/best.pt resources/gymnast_pose.pt --input-size 192 \\
        --evaluation runs/holdout.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gymnast_pose.model import read_checkpoint, write_checkpoint_payload


def export(src, dst, input_size: int, evaluation: dict | None = None, video_refinement: bool = False) -> Path:
    payload = read_checkpoint(src)
    payload["state_dict"] = {k: v.half() if v.is_floating_point() else v for k, v in payload["state_dict"].items()}
    payload["inference"] = {"input_size": int(input_size)}
    if video_refinement:
        if not payload["model_config"].get("refine_channels"):
            raise SystemExit(f"{src} has no refinement stage for --video-refinement")
        payload["inference"]["video_refinement"] = True
    if evaluation:
        payload["evaluation"] = evaluation
    return write_checkpoint_payload(dst, payload)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source")
    p.add_argument("destination")
    p.add_argument("--input-size", type=int, default=192)
    p.add_argument("--video-refinement", action="store_true",
                   help="the video tracker runs the refinement stage too (default: still images only)")
    p.add_argument("--evaluation", default="", help="JSON written by model_training.evaluate --json")
    args = p.parse_args(argv)
    evaluation = None
    if args.evaluation:
        doc = json.loads(Path(args.evaluation).read_text())
        evaluation = {"data": doc["data"], "results": doc["results"]}
    out = export(args.source, args.destination, args.input_size, evaluation, args.video_refinement)
    print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MB)")


if __name__ == "__main__":
    main()
