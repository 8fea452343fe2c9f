"""Give a trained EfficientNet-Lite0 pose network the basic network's fast stem (the ``lite0_basic_stem`` encoder).

On two CPU cores Lite0 spends about two thirds of its time at strides 2 and 4, in depthwise convolutions over
large maps; the basic network's stem and stage 0 (full 3x3 convolutions, 24 and 32 channels) do the same job at a
fraction of the cost. This script builds the hybrid and seeds every layer from trained weights:

- stem and stage 0's basic block from a basic-block checkpoint (``--stem-from``, e.g. the bundled model);
- Lite0's stages 1-3, the feature pyramid, the head and the refinement from a Lite0 checkpoint (``--lite0``);
- the 1x1 adapter between them (32 -> 24 channels) by least squares, so that on training crops its output
  reproduces what Lite0's own stage 0 gave (R^2 per channel is printed);
- optionally (``--distill-steps N``) the stem, stage 0 and adapter are then trained for N batches to reproduce
  Lite0's stage-0 output (``distill_stem``; everything else fixed), which the least-squares map alone does poorly.

The grafted checkpoint is then fine-tuned as a whole (``train.py --arch lite0_basic_stem --init GRAFT``)::

    python -m model_training.graft_stem --lite0 runs/lite0_192/last.pt --stem-from resources/gymnast_pose.pt \\
        --store data_cache/lspet_train_240.npz --out runs/graft.pt
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, replace

import cv2
import numpy as np
import torch

from gymnast_pose.model import (
    STEM_STAGE_WIDTH,
    PoseNet,
    load_checkpoint,
    normalize_images,
    read_checkpoint,
    save_checkpoint,
)
from model_training.crop_store import CropStore


def graft_network(lite0: PoseNet, stem_source: PoseNet) -> PoseNet:
    """The hybrid with ``stem_source``'s stem and stage-0 block and everything after stage 0 from ``lite0``; the
    adapter is left as initialised (see ``fit_adapter``)."""
    if lite0.config.encoder != "efficientnet_lite0":
        raise SystemExit("--lite0 must be a checkpoint with the efficientnet_lite0 encoder")
    if stem_source.config.block != "basic" or stem_source.config.encoder or \
            stem_source.config.stage_channels[0] != STEM_STAGE_WIDTH:
        raise SystemExit(f"--stem-from must be a basic-block network whose stage 0 has {STEM_STAGE_WIDTH} channels")
    config = replace(lite0.config, encoder="lite0_basic_stem", stem_channels=stem_source.config.stem_channels)
    hybrid = PoseNet(config)
    state = {k: v for k, v in lite0.state_dict().items() if not k.startswith(("stem.", "stages.0."))}
    state.update({k: v for k, v in stem_source.state_dict().items() if k.startswith(("stem.", "stages.0.0."))})
    missing, unexpected = hybrid.load_state_dict(state, strict=False)
    if unexpected or any(not k.startswith("stages.0.1.") for k in missing):
        raise SystemExit(f"the checkpoints do not fit the hybrid: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return hybrid


def training_batches(store: CropStore, count: int, input_size: int, batch: int = 32):
    """Normalised (B, 3, S, S) batches of the store's first ``count`` crops, resized to ``input_size``."""
    for start in range(0, count, batch):
        yield resized_batch(store, range(start, min(count, start + batch)), input_size)


def resized_batch(store: CropStore, indices, input_size: int) -> torch.Tensor:
    """The store's crops at ``indices``, resized to ``input_size``: normalised (B, 3, S, S)."""
    images = [cv2.resize(store.images[i], (input_size, input_size), interpolation=cv2.INTER_AREA) for i in indices]
    return normalize_images(torch.from_numpy(np.stack(images)))


class ShuffledBatches:
    """Normalised (B, 3, S, S) batches of the store's first ``count`` crops, in a fresh random order on every pass
    (B = min(batch, count); an incomplete last batch is dropped)."""

    def __init__(self, store: CropStore, count: int, input_size: int, batch: int = 32, seed: int = 0):
        self.store, self.count, self.input_size, self.batch = store, count, input_size, min(batch, count)
        self.rng = np.random.default_rng(seed)

    def __iter__(self):
        order = self.rng.permutation(self.count)
        for start in range(0, self.count - self.batch + 1, self.batch):
            yield resized_batch(self.store, order[start:start + self.batch], self.input_size)


@torch.no_grad()
def fit_adapter(hybrid: PoseNet, lite0: PoseNet, batches) -> np.ndarray:
    """Set the adapter (1x1 convolution + batch norm after the stage-0 block) to the least-squares map from the
    hybrid's block output (B, 32, H, W) to Lite0's stage-0 output (B, 24, H, W); returns R^2 per output channel."""
    hybrid.eval()
    lite0.eval()
    xtx, xty, yy, ysum, n = 0.0, 0.0, 0.0, 0.0, 0
    for x in batches:
        source = hybrid.stages[0][0](hybrid.stem(x)).permute(0, 2, 3, 1).reshape(-1, STEM_STAGE_WIDTH).double()
        target = lite0.stages[0](lite0.stem(x)).permute(0, 2, 3, 1).reshape(source.shape[0], -1).double()
        source = torch.cat([source, torch.ones(len(source), 1, dtype=torch.float64)], dim=1)
        xtx, xty = xtx + source.T @ source, xty + source.T @ target
        yy, ysum, n = yy + (target ** 2).sum(0), ysum + target.sum(0), n + len(target)
    solution = torch.linalg.solve(xtx + 1e-6 * torch.eye(len(xtx), dtype=torch.float64), xty)  # (33, 24)
    residual = yy - 2 * (solution * xty).sum(0) + (solution * (xtx @ solution)).sum(0)
    variance = yy - ysum ** 2 / n
    conv, norm = hybrid.stages[0][1]
    conv.weight.copy_(solution[:-1].T.reshape(conv.weight.shape).float())
    norm.weight.fill_(1.0)
    norm.bias.copy_(solution[-1].float())
    norm.running_mean.zero_()
    norm.running_var.fill_(1.0 - norm.eps)  # the batch norm passes its input through, plus the fitted constant
    return (1.0 - residual / variance).numpy()


def stage0_r2(hybrid: PoseNet, lite0: PoseNet, batches) -> np.ndarray:
    """R^2 per channel (24,) of the hybrid's stage-0 output (after the adapter) against Lite0's stage-0 output."""
    hybrid.eval()
    lite0.eval()
    err, total, total_sq, n = 0.0, 0.0, 0.0, 0
    with torch.no_grad():
        for x in batches:
            target = lite0.stages[0](lite0.stem(x)).double()
            err = err + ((hybrid.stages[0](hybrid.stem(x)).double() - target) ** 2).sum(dim=(0, 2, 3))
            total, total_sq = total + target.sum(dim=(0, 2, 3)), total_sq + (target ** 2).sum(dim=(0, 2, 3))
            n += target.numel() // target.shape[1]
    return (1.0 - err / (total_sq - total ** 2 / n)).numpy()


def distill_stem(hybrid: PoseNet, lite0: PoseNet, batches, steps: int, lr: float = 1e-3) -> list[float]:
    """Train only the hybrid's stem and stage 0 (adapter included) so that their output (B, 24, H, W) matches
    Lite0's stage-0 output on the same images (mean squared error; Lite0 fixed). The batch norms keep their
    statistics (eval mode; their scales and shifts are trained), so what the loss sees is what inference computes.
    ``batches`` yields normalised (B, 3, S, S) images and is cycled; returns the loss of every step."""
    lite0.eval()
    hybrid.eval()
    cheap = torch.nn.ModuleList([hybrid.stem, hybrid.stages[0]])
    optimiser = torch.optim.Adam(cheap.parameters(), lr=lr)
    losses, step = [], 0
    while step < steps:
        before = step
        for x in batches:
            with torch.no_grad():
                target = lite0.stages[0](lite0.stem(x))
            loss = torch.nn.functional.mse_loss(hybrid.stages[0](hybrid.stem(x)), target)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
            step += 1
            if step == steps:
                break
        if step == before:
            raise ValueError("distill_stem: no batches to train on")
    return losses


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lite0", required=True, help="a trained checkpoint with the efficientnet_lite0 encoder")
    parser.add_argument("--stem-from", required=True, help="a trained basic-block checkpoint (stage 0: 32 channels)")
    parser.add_argument("--store", required=True, help="crop store whose first --samples crops fit the adapter")
    parser.add_argument("--samples", type=int, default=512)
    parser.add_argument("--input-size", type=int, default=192)
    parser.add_argument("--distill-steps", type=int, default=0,
                        help="then train the stem and stage 0 this many batches to match Lite0's stage 0")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    lite0, stem_source = load_checkpoint(args.lite0), load_checkpoint(args.stem_from)
    hybrid = graft_network(lite0.network, stem_source.network)
    store = CropStore(args.store)
    r2 = fit_adapter(hybrid, lite0.network, training_batches(store, min(args.samples, len(store.images)),
                                                             args.input_size))
    print(f"adapter fitted on {args.samples} crops at {args.input_size} px: R^2 per channel mean {r2.mean():.3f}, "
          f"min {r2.min():.3f}, max {r2.max():.3f}")
    if args.distill_steps:
        count = min(len(store.images), max(args.samples, 2048))  # the store's first crops: training images
        batches = ShuffledBatches(store, count, args.input_size)
        losses = distill_stem(hybrid, lite0.network, batches, args.distill_steps)
        r2 = stage0_r2(hybrid, lite0.network, training_batches(store, min(args.samples, len(store.images)),
                                                                args.input_size))
        print(f"distilled {args.distill_steps} batches (loss {np.mean(losses[:10]):.4f} -> "
              f"{np.mean(losses[-10:]):.4f}): R^2 per channel mean {r2.mean():.3f}, min {r2.min():.3f}")
    payload = read_checkpoint(args.lite0)
    training = {"grafted": {"lite0": args.lite0, "stem_from": args.stem_from, "stage0_r2_mean": float(r2.mean()),
                            "adapter_samples": args.samples, "input_size": args.input_size,
                            "distill_steps": args.distill_steps},
                "lite0_training": payload.get("training", {})}
    save_checkpoint(args.out, hybrid, lite0.codec, metrics={}, training=training)
    print(f"wrote {args.out} ({asdict(hybrid.config)['encoder']}, stem from {args.stem_from})")


if __name__ == "__main__":
    main()
