"""Tests of gymnast_pose.report (CSV reports) and the ``compare`` command."""

from __future__ import annotations

import argparse
import csv
import os
import sys
import types

import numpy as np
import pytest
from test_compare_synthetic import make_sequence, squat_sequence

from gymnast_pose.angles import ANGLE_NAMES
from gymnast_pose.cli import COMMANDS, UserError
from gymnast_pose.commands import compare as compare_command
from gymnast_pose.compare import CompareOptions, compare_sequences
from gymnast_pose.report import SUMMARY_COLUMNS, ReportWriteError, write_pairs_csv, write_summary_csv
from gymnast_pose.skeleton import JOINT_INDEX, JOINT_NAMES


def read_csv(path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def comparison():
    coach = squat_sequence(3.0, 30.0, yaw_deg=10)
    keypoints = squat_sequence(3.0, 25.0, yaw_deg=30, delay_s=0.2).keypoints.copy()
    keypoints[5:9, JOINT_INDEX["l_wrist"], 2] = 0.05
    return compare_sequences(coach, make_sequence(keypoints, 25.0), CompareOptions())


def test_pairs_csv_has_the_documented_columns_and_values(comparison, tmp_path):
    path = write_pairs_csv(comparison, tmp_path / "pairs.csv")
    rows = read_csv(path)
    assert len(rows) == comparison.num_pairs
    header = list(rows[0])
    assert header[:5] == ["coach_frame", "coach_time_s", "student_frame", "student_time_s", "pose_distance"]
    for joint in JOINT_NAMES:
        assert f"{joint}_distance" in header
    for angle in ANGLE_NAMES:
        assert {f"{angle}_coach_deg", f"{angle}_student_deg", f"{angle}_diff_deg"} <= set(header)
    p = 7
    row = rows[p]
    assert int(row["coach_frame"]) == comparison.coach_frames[p]
    assert int(row["student_frame"]) == comparison.student_frames[p]
    assert float(row["student_time_s"]) == pytest.approx(comparison.student_times_s[p], abs=1e-4)
    assert float(row["pose_distance"]) == pytest.approx(comparison.pose_distance[p], abs=1e-4)
    assert float(row["r_knee_diff_deg"]) == pytest.approx(comparison.angle_diff_deg[p, 6], abs=0.06)
    excluded = [r for r in rows if r["l_wrist_distance"] == ""]
    assert len(excluded) == int(np.isnan(comparison.joint_distance[:, JOINT_INDEX["l_wrist"]]).sum()) > 0
    assert all(r["l_elbow_student_deg"] == "" for r in excluded)


def test_summary_csv_has_score_and_every_joint_and_angle(comparison, tmp_path):
    rows = read_csv(write_summary_csv(comparison, tmp_path / "summary.csv"))
    assert tuple(rows[0]) == SUMMARY_COLUMNS
    by_item = {r["item"]: r for r in rows}
    assert float(by_item["overall_score"]["mean"]) == pytest.approx(comparison.score, abs=0.05)
    assert float(by_item["pose_distance"]["mean"]) == pytest.approx(comparison.mean_distance, abs=1e-4)
    for joint, summary in zip(JOINT_NAMES, comparison.joints):
        row = by_item[f"{joint}_distance"]
        assert row["unit"] == "torso_lengths"
        assert float(row["max"]) == pytest.approx(summary.max, abs=1e-4)
        assert float(row["coach_time_at_max_s"]) == pytest.approx(summary.coach_time_at_max_s, abs=1e-4)
    assert int(by_item["l_wrist_distance"]["excluded_pairs"]) > 0
    assert all(f"{angle}_abs_diff" in by_item for angle in ANGLE_NAMES)


def test_identical_performances_report_a_score_of_100(tmp_path):
    coach = squat_sequence(2.0, 30.0)
    rows = read_csv(write_summary_csv(compare_sequences(coach, coach), tmp_path / "s.csv"))
    assert rows[0]["item"] == "overall_score" and rows[0]["mean"] == "100.0"


def test_unwritable_paths_give_a_clear_error_and_leave_nothing_behind(comparison, tmp_path):
    with pytest.raises(ReportWriteError, match="no_such_folder"):
        write_pairs_csv(comparison, tmp_path / "no_such_folder" / "pairs.csv")
    with pytest.raises(ReportWriteError, match="is a folder"):
        write_pairs_csv(comparison, tmp_path)
    if os.name == "posix" and os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        try:
            with pytest.raises(ReportWriteError, match="locked"):
                write_summary_csv(comparison, locked / "summary.csv")
        finally:
            locked.chmod(0o700)
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["locked"])


def test_a_failed_write_keeps_the_previous_report(comparison, tmp_path, monkeypatch):
    path = tmp_path / "pairs.csv"
    path.write_text("previous report\n")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(ReportWriteError, match="No space left"):
        write_pairs_csv(comparison, path)
    assert path.read_text() == "previous report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["pairs.csv"]


def run_compare(argv: list[str]) -> int:
    """What ``gymnast-pose compare ...`` does, without needing the other subcommands to be importable."""
    parser = argparse.ArgumentParser(prog="gymnast-pose compare")
    compare_command.add_arguments(parser)
    try:
        return compare_command.run(parser.parse_args(argv))
    except UserError as exc:
        print(f"error: {exc}")
        return 2


@pytest.fixture()
def pose_files(tmp_path):
    coach = tmp_path / "coach.npz"
    student = tmp_path / "student.json"
    squat_sequence(3.0, 30.0).save(coach)
    squat_sequence(3.0, 25.0, yaw_deg=25, delay_s=0.3).save(student)
    return coach, student


def test_cli_compares_pose_files_and_prints_score_and_worst_joints(pose_files, tmp_path, capsys):
    coach, student = pose_files
    report, summary = tmp_path / "pairs.csv", tmp_path / "summary.csv"
    argv = [str(coach), str(student), "--report", str(report), "--summary", str(summary)]
    assert run_compare(argv) == 0
    out = capsys.readouterr().out
    assert "Similarity score:" in out and "Largest joint deviations" in out
    assert read_csv(report) and read_csv(summary)[0]["item"] == "overall_score"
    argv = [
        str(coach),
        str(student),
        "--report",
        str(report),
        "--align",
        "offset=auto",
        "--coach-range",
        "10:80",
        "--student-range",
        "5:",
        "--remove-roll",
    ]
    assert run_compare(argv) == 0
    assert "fixed offset +0.433 s" in capsys.readouterr().out  # 0.3 s delay + 10/30 s - 5/25 s of the ranges
    assert int(read_csv(report)[0]["coach_frame"]) == 10
    assert run_compare([*argv[:4], "--mirror", "--align", "offset=0.5", "--band", "1"]) == 0
    assert run_compare([*argv[:4], "--opposite-view"]) == 0


def test_cli_reports_bad_input_in_one_line(pose_files, tmp_path, capsys):
    coach, student = pose_files
    assert run_compare([str(coach), str(tmp_path / "missing.npz"), "--report", str(tmp_path / "r.csv")]) == 2
    assert "missing.npz does not exist" in capsys.readouterr().out
    assert run_compare([str(coach), str(student), "--report", str(tmp_path / "nowhere" / "r.csv")]) == 2
    assert "nowhere" in capsys.readouterr().out
    assert run_compare([str(coach), str(student), "--report", str(tmp_path / "r.csv"), "--coach-range", "0:999"]) == 2
    assert "range 0:999" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        run_compare([str(coach), str(student), "--report", "r.csv", "--align", "sideways"])
    assert "offset=SECONDS" in capsys.readouterr().err


def test_cli_analyses_videos_through_the_analysis_module_only_when_given_a_video(pose_files, tmp_path, monkeypatch):
    coach, _ = pose_files
    video = tmp_path / "student.mp4"
    video.write_bytes(b"not really a video")
    calls = []

    def fake_analyze_video(path, *, device="auto", use_cache=True, progress=None):
        calls.append((path, device, use_cache))
        progress(1, 1)
        return squat_sequence(3.0, 30.0, yaw_deg=15)

    monkeypatch.setitem(sys.modules, "gymnast_pose.analysis", types.SimpleNamespace(analyze_video=fake_analyze_video))
    argv = [str(coach), str(video), "--report", str(tmp_path / "r.csv"), "--device", "cpu", "--no-cache"]
    assert run_compare(argv) == 0
    assert calls == [(video, "cpu", False)]


def test_cli_argument_parsers():
    assert compare_command.parse_align("dtw") == ("dtw", None)
    assert compare_command.parse_align("offset=-1.25") == ("offset", -1.25)
    assert compare_command.parse_align("offset=auto") == ("offset", None)
    assert compare_command.parse_range("12:40") == (12, 40)
    assert compare_command.parse_range(":40") == (None, 40)
    with pytest.raises(argparse.ArgumentTypeError):
        compare_command.parse_range("12")


def test_the_main_entry_point_dispatches_to_compare(pose_files, tmp_path):
    for name in COMMANDS:
        pytest.importorskip(f"gymnast_pose.commands.{name}")
    from gymnast_pose.cli import main

    coach, student = pose_files
    assert main(["compare", str(coach), str(student), "--report", str(tmp_path / "r.csv")]) == 0
    assert main(["compare", str(coach), str(tmp_path / "nope.npz"), "--report", str(tmp_path / "r.csv")]) == 2
