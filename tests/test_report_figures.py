"""The per-joint bar chart of model_training.report_figures, from evaluate.py-style JSON files."""

import json

import pytest

from gymnast_pose.skeleton import JOINT_NAMES

pytest.importorskip("matplotlib")
from model_training.report_figures import per_joint_bars  # noqa: E402


def table(value):
    rows = {name: value for name in (*JOINT_NAMES, "limbs", "all")}
    return {"pck@0.2": rows, "pck@0.1": rows}


def test_bars_from_two_files_with_three_methods(tmp_path):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text(json.dumps({"results": {"gymnast_pose": table(0.5)}}))
    second.write_text(json.dumps({"results": {"gymnast_pose": table(0.6), "mediapipe": table(0.55)}}))
    out = tmp_path / "figs" / "joints.png"
    per_joint_bars([str(first), str(second)], out, ["before", "after", "MediaPipe"])
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="2 labels for 3 methods"):
        per_joint_bars([str(first), str(second)], tmp_path / "x.png", ["before", "after"])
