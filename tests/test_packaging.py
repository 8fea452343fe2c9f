"""The bundled model reaches users of both installs: editable (repository resources/) and wheel (package data)."""

import sys
from pathlib import Path

import pytest

from gymnast_pose import model

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is Python 3.11+")
def test_wheel_maps_repository_resources_into_the_package():
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "gymnast_pose.resources" in config["packages"]
    assert config["package-dir"]["gymnast_pose.resources"] == "resources"
    shipped = config["package-data"]["gymnast_pose.resources"]
    for name in shipped:
        assert (ROOT / "resources" / name).is_file(), f"resources/{name} is listed as package data but missing"
    assert "gymnast_pose.pt" in shipped


def test_bundled_model_prefers_the_packaged_copy(tmp_path, monkeypatch):
    package = tmp_path / "site" / "gymnast_pose"
    (package / "resources").mkdir(parents=True)
    (package / "resources" / "gymnast_pose.pt").write_bytes(b"weights")
    monkeypatch.delenv("GYMNAST_POSE_MODEL", raising=False)
    monkeypatch.setattr(model, "__file__", str(package / "model.py"))
    assert model.bundled_model_path() == package / "resources" / "gymnast_pose.pt"


def test_bundled_model_falls_back_to_the_repository_folder(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    (repo / "gymnast_pose").mkdir(parents=True)
    (repo / "resources").mkdir()
    (repo / "resources" / "gymnast_pose.pt").write_bytes(b"weights")
    monkeypatch.delenv("GYMNAST_POSE_MODEL", raising=False)
    monkeypatch.setattr(model, "__file__", str(repo / "gymnast_pose" / "model.py"))
    assert model.bundled_model_path() == repo / "resources" / "gymnast_pose.pt"


def test_environment_variable_overrides_the_bundled_model(tmp_path, monkeypatch):
    monkeypatch.setenv("GYMNAST_POSE_MODEL", str(tmp_path / "mine.pt"))
    assert model.bundled_model_path() == tmp_path / "mine.pt"
