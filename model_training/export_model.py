"""Export a training checkpoint as the bundled model (resources/gymnast_pose.pt).

The weights are stored as float16 (half the size; loaded back as float32) and the checkpoint gains an ``inference``
section: the input side the app should use (the network is fully convolutional, so it can run at another size than
it was trained at; choose it on the validation images, never on the hold-out), whether the video tracker runs the
refinement stage too (``--video-refinement``; otherwise only still images do) and the hold-out evaluation, if given.

    python -m model_training.export_model runs/main128/best.pt resources/gymnast_pose.pt --input-size 192 \\
        --evaluation runs/holdout.json

A model trained with another loss than the bundled one (plain cross-entropy, mining, Gaussian regression) scores
its joints on another scale, and the app's thresholds were set on the bundled model's. ``--match-scores-of
REFERENCE --match-data SPEC`` runs both models once over whole images of SPEC (choose validation images, never the
hold-out) and stores in the file the map that puts the new model's scores on the reference's scale by quantile
matching (``inference.score_scale``; ``gymnast_pose.score_scale``):

    python -m model_training.export_model runs/plain_ce/last.pt runs/plain_ce.pt --input-size 256 \\
        --match-scores-of resources/gymnast_pose.pt --match-data lsp:../shared/data/lspet:8801-9000
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from gymnast_pose.inference import PosePredictor
from gymnast_pose.model import read_checkpoint, write_checkpoint_payload
from gymnast_pose.score_scale import ScoreScale, matching_scale
from model_training.datasets import read_dataset
from model_training.evaluate import load_rgb


def whole_image_scores(predictor: PosePredictor, images: list[np.ndarray], batch: int = 32) -> np.ndarray:
    """images: N RGB uint8 arrays -> (N, K) float32 scores of one look at each whole image (no mirror)."""
    parts = [predictor.predict_images(images[i:i + batch])[1] for i in range(0, len(images), batch)]
    return np.concatenate(parts)


def score_scale_matching(src, reference, images: list[np.ndarray], input_size: int,
                         reference_input_size: int | None = None) -> ScoreScale:
    """The map from ``src``'s raw joint scores (at ``input_size``) to ``reference``'s (app-scale) scores on the
    same whole images, by quantile matching (``score_scale.matching_scale``)."""
    own = PosePredictor(src, input_size=input_size, raw_scores=True)
    ref = PosePredictor(reference, input_size=reference_input_size)
    return matching_scale(whole_image_scores(own, images), whole_image_scores(ref, images))


def export(src, dst, input_size: int, evaluation: dict | None = None, video_refinement: bool = False,
           score_scale: ScoreScale | None = None) -> Path:
    payload = read_checkpoint(src)
    payload["state_dict"] = {k: v.half() if v.is_floating_point() else v for k, v in payload["state_dict"].items()}
    payload["inference"] = {"input_size": int(input_size)}
    if video_refinement:
        if not payload["model_config"].get("refine_channels"):
            raise SystemExit(f"{src} has no refinement stage for --video-refinement")
        payload["inference"]["video_refinement"] = True
    if score_scale is not None:
        payload["inference"]["score_scale"] = score_scale.to_metadata()
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
    p.add_argument("--match-scores-of", default="", metavar="REFERENCE",
                   help="put the scores on this model's scale (the app's thresholds were set on the bundled model)")
    p.add_argument("--match-data", default="", metavar="SPEC",
                   help="images for --match-scores-of, e.g. lsp:../shared/data/lspet:8801-9000 (validation)")
    args = p.parse_args(argv)
    scale = None
    if args.match_scores_of:
        if not args.match_data:
            raise SystemExit("--match-scores-of needs --match-data")
        images = [load_rgb(s) for s in read_dataset(args.match_data)]
        scale = score_scale_matching(args.source, args.match_scores_of, images, args.input_size)
        shown = ", ".join(f"{r:.3f}->{a:.3f}" for r, a in list(zip(scale.raw, scale.app))[::8])
        print(f"score scale from {len(images)} images: {shown}")
    evaluation = None
    if args.evaluation:
        doc = json.loads(Path(args.evaluation).read_text())
        evaluation = {"data": doc["data"], "results": doc["results"]}
    out = export(args.source, args.destination, args.input_size, evaluation, args.video_refinement, scale)
    print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MB)")


if __name__ == "__main__":
    main()
