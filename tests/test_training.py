"""Training plumbing on generated stick figures: dataset folder -> crop store -> augmentation -> train/resume."""

import json

import numpy as np
import pytest
import torch

from gymnast_pose.codec import PixelClassCodec
from gymnast_pose.losses import PixelClassLoss
from gymnast_pose.model import load_checkpoint
from gymnast_pose.skeleton import FLIP_PERMUTATION, K
from model_training import train as train_module
from model_training.augment import AugmentConfig, augment_batch, occlude
from model_training.crop_store import CropStore, build_crop_store
from model_training.datasets import read_dataset, read_folder
from model_training.train import TrainConfig, TrainingClock, to_network_input, train
from tests.model_fixtures import TINY_CONFIG, tiny_network, write_folder_dataset


def make_store(tmp_path, n=12):
    folder = write_folder_dataset(tmp_path / "labels", n)
    samples = read_folder(folder)
    build_crop_store(samples, tmp_path / "store.npz", side=64, workers=1)
    return CropStore(tmp_path / "store.npz", workers=1)


def test_folder_dataset_and_crop_store_keep_keypoints_on_the_figure(tmp_path):
    store = make_store(tmp_path)
    assert store.images.shape == (12, 64, 64, 3) and store.keypoints.shape == (12, K, 2)
    # the joints were drawn as green dots: the crop pixel at each keypoint is greenish
    px = np.array([store.images[i, int(round(y)), int(round(x))] for i in range(12)
                   for x, y in store.keypoints[i]])
    assert (px[:, 1] > px[:, 0]).mean() > 0.6
    assert len(read_dataset(f"folder:{tmp_path / 'labels'}")) == 12


def test_augmentation_moves_keypoints_with_the_pixels(tmp_path):
    store = make_store(tmp_path)
    torch.manual_seed(0)
    t = lambda a: torch.from_numpy(a)  # noqa: E731
    x, kp, vis = augment_batch(t(store.images), t(store.keypoints), t(store.labelled), t(store.valid), 64,
                               AugmentConfig(brightness=0, contrast=0, saturation=0, noise=0, p_grey=0))
    assert x.shape == (12, 3, 64, 64) and kp.shape == (12, K, 2)
    img = (x.permute(0, 2, 3, 1).numpy() * 255)
    hits = [img[i, int(round(y)), int(round(xx))] for i in range(12) for k, (xx, y) in enumerate(kp[i].numpy())
            if vis[i, k]]
    hits = np.array(hits)
    assert (hits[:, 1] > hits[:, 0]).mean() > 0.5


def test_flip_permutation_swaps_sides_in_augmentation(tmp_path):
    store = make_store(tmp_path, 2)
    cfg = AugmentConfig(rotation_sd=0, p_any_rotation=0, p_small=0, p_flip=1.0, person_fraction=(0.7, 0.7))
    t = lambda a: torch.from_numpy(a)  # noqa: E731
    _, kp, _ = augment_batch(t(store.images), t(store.keypoints), t(store.labelled), t(store.valid), 64, cfg)
    # The figure faces the camera (its right side on the image's left). Its mirror image is again a person facing
    # the camera, so after relabelling with FLIP_PERMUTATION the right ankle must still be on the image's left.
    assert FLIP_PERMUTATION[0] == 5
    assert np.all(kp[:, 0, 0].numpy() < kp[:, 5, 0].numpy())
    assert np.all(kp[:, 8, 0].numpy() < kp[:, 9, 0].numpy())


def test_occlusion_covers_one_rectangle():
    torch.manual_seed(0)
    x = torch.rand(6, 3, 48, 48)
    same = occlude(x, AugmentConfig(p_occlude=0.0))
    assert same is x  # no occlusion: untouched, and no random numbers drawn
    gen = torch.Generator().manual_seed(1)
    out = occlude(x, AugmentConfig(p_occlude=1.0, occlude_fraction=(0.2, 0.4)), gen)
    changed = (out != x).any(dim=1)  # (B, S, S)
    for i in range(6):
        ys, xs = torch.nonzero(changed[i], as_tuple=True)
        assert len(ys) > 0
        h, w = int(ys.max() - ys.min() + 1), int(xs.max() - xs.min() + 1)
        assert 0.2 * 48 - 1 <= h <= 0.4 * 48 + 1 and 0.2 * 48 - 1 <= w <= 0.4 * 48 + 1
        assert changed[i].sum() <= h * w  # one rectangle, nothing outside it
    half = occlude(x, AugmentConfig(p_occlude=0.5), torch.Generator().manual_seed(2))
    untouched = ~(half != x).flatten(1).any(dim=1)
    assert 0 < int(untouched.sum()) < 6  # about half of the images stay whole
    centres = torch.tensor([[5.0, 5.0], [24.0, 24.0], [40.0, 10.0], [47.0, 47.0], [12.0, 30.0], [30.0, 12.0]])
    around = occlude(x, AugmentConfig(p_occlude=1.0), torch.Generator().manual_seed(3), centres=centres)
    for i, (cx, cy) in enumerate(centres.long().tolist()):
        assert (around[i, :, cy, cx] != x[i, :, cy, cx]).any()  # the rectangle covers the joint it is centred on


def test_occlusion_leaves_the_keypoints_and_their_labels_as_they_were(tmp_path):
    store = make_store(tmp_path)
    t = lambda a: torch.from_numpy(a)  # noqa: E731
    results = [augment_batch(t(store.images), t(store.keypoints), t(store.labelled), t(store.valid), 64,
                             AugmentConfig(p_occlude=p), torch.Generator().manual_seed(4)) for p in (0.0, 1.0)]
    (x0, kp0, vis0), (x1, kp1, vis1) = results
    assert torch.equal(kp0, kp1) and torch.equal(vis0, vis1)  # covered joints stay labelled, nothing moves
    assert not torch.equal(x0, x1)


def test_loss_decreases_on_a_tiny_set(tmp_path):
    store = make_store(tmp_path, 8)
    torch.manual_seed(0)
    net, codec, loss_fn = tiny_network(), PixelClassCodec(64, 4), PixelClassLoss(K)
    t = lambda a: torch.from_numpy(a)  # noqa: E731
    x, kp, vis = augment_batch(t(store.images), t(store.keypoints), t(store.labelled), t(store.valid), 64,
                               AugmentConfig(), train=False)
    target = codec.encode_batch(kp, vis)
    opt = torch.optim.Adam(net.parameters(), 3e-3)
    losses = []
    for _ in range(40):
        loss = loss_fn(net(to_network_input(x)), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:3])


def test_train_writes_self_describing_checkpoints_and_resumes(tmp_path):
    make_store(tmp_path)
    cfg = TrainConfig(store=str(tmp_path / "store.npz"), out=str(tmp_path / "run"), input_size=64, epochs=2,
                      batch_size=4, val_range="11-12", model=dict(TINY_CONFIG), device="cpu")
    history = list(train(cfg, "test"))
    assert [m["epoch"] for m in history] == [1, 2]
    loaded = load_checkpoint(tmp_path / "run" / "last.pt")
    assert loaded.metadata["training"]["epochs_done"] == 2
    assert loaded.metadata["training"]["config"]["input_size"] == 64
    cfg.epochs, cfg.resume = 3, str(tmp_path / "run" / "resume.pt")
    resumed = list(train(cfg, "test"))
    assert [m["epoch"] for m in resumed] == [3]
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in log] == [1, 2, 3]


def test_training_clock_skips_pauses_and_resumes_where_it_stopped(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(train_module.time, "time", lambda: now[0])
    clock = TrainingClock(start_s=120.0, max_gap_s=30.0)
    now[0] += 10
    assert clock.tick() == 130.0
    now[0] += 600  # paused with SIGSTOP for ten minutes: counts as 30 s
    assert clock.tick() == 160.0
    now[0] += 5
    assert clock.tick() == 165.0


def test_resume_stores_the_schedule_clock(tmp_path):
    make_store(tmp_path)
    cfg = TrainConfig(store=str(tmp_path / "store.npz"), out=str(tmp_path / "run"), input_size=64, schedule_min=0.02,
                      batch_size=4, val_range="11-12", model=dict(TINY_CONFIG), device="cpu", precision="fp32")
    history = list(train(cfg, "test"))
    state = torch.load(tmp_path / "run" / "resume.pt", weights_only=True)
    assert state["epoch"] == history[-1]["epoch"]
    assert state["elapsed_s"] > 0
    assert abs(state["elapsed_s"] / 60 - history[-1]["elapsed_min"]) < 0.01  # the log rounds to 0.01 min
    cfg.resume = str(tmp_path / "run" / "resume.pt")
    cfg.schedule_min = 0.5 * state["elapsed_s"] / 60  # a schedule the stored clock has already passed
    assert list(train(cfg, "test")) == []  # so the resumed run has nothing left to train


def test_refinement_trains_alone_on_top_of_a_frozen_network(tmp_path):
    make_store(tmp_path)
    base = dict(store=str(tmp_path / "store.npz"), input_size=64, epochs=1, batch_size=4, val_range="11-12",
                device="cpu", precision="fp32")
    list(train(TrainConfig(out=str(tmp_path / "plain"), model=dict(TINY_CONFIG), **base), "test"))
    before = load_checkpoint(tmp_path / "plain" / "last.pt").network.state_dict()
    cfg = TrainConfig(out=str(tmp_path / "refined"), init=str(tmp_path / "plain" / "last.pt"), freeze="backbone",
                      model={**TINY_CONFIG, "refine_channels": 8, "refine_dilations": [1, 2]}, **base)
    list(train(cfg, "test"))
    after = load_checkpoint(tmp_path / "refined" / "last.pt").network.state_dict()
    for key, value in before.items():  # weights and batch-norm statistics of the frozen part are untouched
        assert torch.equal(after[key], value), key
    assert after["refine.out.weight"].abs().sum() > 0  # the zero-initialised correction has learned something
    cfg.freeze, cfg.out = "head", str(tmp_path / "other")
    with pytest.raises(SystemExit, match="unknown --freeze"):
        list(train(cfg, "test"))


def test_added_blocks_start_as_the_identity(tmp_path):
    """A basic-block network grown by blocks at the end of its stages computes what the checkpoint computed;
    a network that does not fit (a stage made narrower) is refused."""
    from gymnast_pose.model import PoseNet, PoseNetConfig, save_checkpoint
    small_cfg = PoseNetConfig(out_channels=K + 1, block="basic", **TINY_CONFIG)
    small = PoseNet(small_cfg).eval()
    for module in small.modules():  # non-trivial batch-norm statistics, so the check is not vacuous
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
    path = tmp_path / "small.pt"
    save_checkpoint(path, small, PixelClassCodec(input_size=64))
    grown = PoseNet(PoseNetConfig(out_channels=K + 1, block="basic", **{**TINY_CONFIG, "stage_blocks": (1, 2, 1, 3)}))
    train_module.init_from(grown, str(path))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(grown.eval()(x), small(x), atol=1e-5)
    assert grown.stages[3][2].block[-1][1].weight.abs().sum() == 0
    narrow = PoseNet(PoseNetConfig(out_channels=K + 1, block="basic",
                                   **{**TINY_CONFIG, "stage_channels": (8, 16, 16, 16)}))
    with pytest.raises((SystemExit, RuntimeError)):
        train_module.init_from(narrow, str(path))


def test_init_without_refinement_takes_the_base_network(tmp_path):
    """A network built without a refinement stage, initialised from a checkpoint that has one, computes what that
    checkpoint's base network (``without_refinement``) computes."""
    from gymnast_pose.model import PoseNet, PoseNetConfig, save_checkpoint, without_refinement
    refined = PoseNet(PoseNetConfig(out_channels=K + 1, block="basic", refine_channels=8, refine_dilations=(1, 2),
                                    **TINY_CONFIG)).eval()
    torch.nn.init.normal_(refined.refine.out.weight, std=0.5)  # a correction that changes the output
    path = tmp_path / "refined.pt"
    save_checkpoint(path, refined, PixelClassCodec(input_size=64))
    base = PoseNet(PoseNetConfig(out_channels=K + 1, block="basic", **TINY_CONFIG))
    train_module.init_from(base, str(path))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = without_refinement(load_checkpoint(path).network).eval()(x)
        assert not torch.allclose(refined(x), expected, atol=1e-3)
        assert torch.allclose(base.eval()(x), expected, atol=1e-5)
