"""The per-joint bar chart and the training curves of model_training.report_figures, from generated files."""

import json

import pytest

from gymnast_pose.skeleton import JOINT_NAMES

pytest.importorskip("matplotlib")
from model_training.report_figures import per_joint_bars, training_curves  # noqa: E402


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


def test_curves_take_one_label_per_log(tmp_path):
    logs = []
    for name, start in (("cls", 0.1), ("reg", 0.05)):
        log = tmp_path / "runs" / name / "log.jsonl"
        log.parent.mkdir(parents=True)
        log.write_text("\n".join(json.dumps({"epoch": e, "val_pck@0.2": start * e}) for e in (1, 2, 3)) + "\n")
        logs.append(str(log))
    out = tmp_path / "curves.png"
    training_curves(logs, out, labels=["classification", "regression"])
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="1 labels for 2 logs"):
        training_curves(logs, tmp_path / "y.png", labels=["classification"])
