"""``gymnast-pose pose IMAGE_OR_DIR... --json OUT.json`` run in-process with the tiny random-weights model."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from model_fixtures import stick_figure, write_tiny_model

import gymnast_pose.commands.pose as pose_command
from gymnast_pose.cli import main
from gymnast_pose.inference import PosePredictor
from gymnast_pose.skeleton import K


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return write_tiny_model(tmp_path_factory.mktemp("model") / "tiny.pt")


@pytest.fixture
def env(tmp_path, monkeypatch, tiny_model):
    monkeypatch.setenv("GYMNAST_POSE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("GYMNAST_POSE_MODEL", str(tiny_model))
    return tiny_model


def write_image(path, size=(96, 96), seed=0):
    """A stick-figure image of ``size`` (width, height), written with OpenCV (BGR on disk)."""
    image, _ = stick_figure(np.random.default_rng(seed), max(size))
    image = cv2.resize(image, size)
    image[: size[1] // 4, : size[0] // 3] = (0, 0, 255)  # a red patch, so that channel order matters
    assert cv2.imwrite(str(path), image)
    return path


@pytest.fixture
def folder(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    write_image(photos / "b_wide.png", (160, 90), 1)
    write_image(photos / "a_tall.jpg", (70, 120), 2)
    write_image(photos / "c_upper.JPEG", (64, 64), 3)
    write_image(photos / "d.bmp", (80, 80), 4)
    (photos / "notes.txt").write_text("not an image")
    (photos / "sub").mkdir()
    write_image(photos / "sub" / "nested.png")  # folders are not searched recursively
    return photos


def run_pose(*args) -> int:
    return main(["pose", *(str(a) for a in args)])


def test_folder_images_get_14_keypoints_in_their_own_pixels(env, folder, tmp_path, capsys):
    out = tmp_path / "out.json"
    assert run_pose(folder, "--json", out, "--device", "cpu") == 0
    document = json.loads(out.read_text())
    assert list(document) == ["a_tall", "b_wide", "c_upper", "d"]  # sorted, image suffixes only, any case
    predictor = PosePredictor(env, device="cpu", flip=True)  # each look is averaged with its mirror image
    for name, filename in [("a_tall", "a_tall.jpg"), ("b_wide", "b_wide.png"), ("d", "d.bmp")]:
        joints = np.array(document[name], dtype=np.float64)
        assert joints.shape == (K, 3) and np.isfinite(joints).all()
        assert np.all((joints[:, 2] >= 0) & (joints[:, 2] <= 1))
        rgb = cv2.cvtColor(cv2.imread(str(folder / filename)), cv2.COLOR_BGR2RGB)
        xy, scores = predictor.predict_image(rgb)  # one image on its own: the same numbers as in the batch
        np.testing.assert_allclose(joints[:, :2], xy, atol=0.01)
        np.testing.assert_allclose(joints[:, 2], scores, atol=1e-4)
        side = max(rgb.shape[:2])  # letterboxed whole: inside the padded square around the image
        pad_x, pad_y = (side - rgb.shape[1]) / 2, (side - rgb.shape[0]) / 2
        assert np.all((xy[:, 0] >= -pad_x - 1) & (xy[:, 0] <= rgb.shape[1] + pad_x))
        assert np.all((xy[:, 1] >= -pad_y - 1) & (xy[:, 1] <= rgb.shape[0] + pad_y))
    assert f"Keypoints of 4 images written to {out}" in capsys.readouterr().out


def test_files_and_folders_mix_and_a_file_is_counted_once(env, folder, tmp_path):
    out = tmp_path / "out.json"
    assert run_pose(folder / "d.bmp", folder, folder / "sub" / "nested.png", "--json", out) == 0
    assert list(json.loads(out.read_text())) == ["d", "a_tall", "b_wide", "c_upper", "nested"]


def test_unreadable_images_are_skipped_with_a_warning(env, folder, tmp_path, capsys):
    (folder / "broken.png").write_bytes(b"\x89PNG but then nothing useful")
    (folder / "empty.jpg").write_bytes(b"")
    out = tmp_path / "out.json"
    assert run_pose(folder, "--json", out) == 0
    assert list(json.loads(out.read_text())) == ["a_tall", "b_wide", "c_upper", "d"]
    captured = capsys.readouterr()
    warnings = [line for line in captured.err.replace("\r", "\n").splitlines() if line.startswith("warning")]
    assert warnings == [f"warning: skipping {folder / 'broken.png'}: not a readable image",
                        f"warning: skipping {folder / 'empty.jpg'}: not a readable image"]
    assert "(2 unreadable files skipped)" in captured.out


def test_same_name_with_another_extension_keeps_its_extension(env, tmp_path, capsys):
    write_image(tmp_path / "jump.png", seed=1)
    write_image(tmp_path / "jump.jpg", seed=2)
    out = tmp_path / "out.json"
    assert run_pose(tmp_path, "--json", out) == 0
    assert list(json.loads(out.read_text())) == ["jump", "jump.png"]
    assert "stored as 'jump.png'" in capsys.readouterr().err


def test_no_flip_runs_each_look_once(env, folder, tmp_path, monkeypatch):
    flips = []
    real = PosePredictor.probability_maps

    def spy(self, crops, flip=None):
        flips.append(self.flip if flip is None else flip)
        return real(self, crops, flip)

    monkeypatch.setattr(PosePredictor, "probability_maps", spy)
    assert run_pose(folder, "--json", tmp_path / "a.json") == 0
    assert run_pose(folder, "--json", tmp_path / "b.json", "--no-flip") == 0
    assert flips[0] and not flips[-1]
    assert json.loads((tmp_path / "a.json").read_text()) != json.loads((tmp_path / "b.json").read_text())


def test_images_are_batched(env, folder, tmp_path, monkeypatch):
    sizes = []
    real = PosePredictor.predict_images

    def spy(self, images, **options):
        sizes.append(len(images))
        return real(self, images, **options)

    monkeypatch.setattr(PosePredictor, "predict_images", spy)
    monkeypatch.setattr(pose_command, "BATCH", 3)
    assert run_pose(folder, "--json", tmp_path / "out.json") == 0
    assert sizes == [3, 1]


# ---- errors -----------------------------------------------------------------------------------------------------
def one_line_error(capfd, *expected):
    err = capfd.readouterr().err
    lines = [line for line in err.replace("\r", "\n").splitlines() if line.strip() and not line.startswith("[")]
    assert "Traceback" not in err and len(lines) == 1, err
    assert lines[0].startswith("gymnast-pose pose: error: ")
    assert all(text in lines[0] for text in expected), lines[0]


def test_no_readable_image_fails_and_writes_nothing(env, tmp_path, capfd):
    (tmp_path / "bad.png").write_text("text")
    out = tmp_path / "out.json"
    assert run_pose(tmp_path / "bad.png", "--json", out) == 2
    err = capfd.readouterr().err
    assert "warning: skipping" in err and "none of the 1 files could be read as an image" in err
    assert "Traceback" not in err and not out.exists()


@pytest.mark.parametrize("args, message", [
    (["{tmp}/missing.png", "--json", "{tmp}/out.json"], "not found"),
    (["{tmp}/empty_folder", "--json", "{tmp}/out.json"], "no images (.jpg, .jpeg, .png, .bmp, .webp) in"),
    (["{tmp}/a.png", "--json", "{tmp}/no_such_folder/out.json"], "does not exist"),
    (["{tmp}/a.png", "--json", "{tmp}/out.txt"], "must end in .json"),
    (["{tmp}/a.png", "--json", "{tmp}/out.json", "--device", "tpu"], "unknown device"),
    (["{tmp}/a.png", "--json", "{tmp}/out.json", "--model", "{tmp}/garbage.pt"], "corrupt"),
])  # fmt: skip
def test_bad_arguments_are_one_line(env, tmp_path, capfd, args, message):
    write_image(tmp_path / "a.png")
    (tmp_path / "empty_folder").mkdir()
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint" * 20)
    assert run_pose(*(a.format(tmp=tmp_path) for a in args)) == 2
    one_line_error(capfd, message)
    assert not (tmp_path / "out.json").exists()
