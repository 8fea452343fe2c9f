"""CSV reports of a ``Comparison``: one row per aligned frame pair, and a per-joint summary.

Both files are plain CSV (the first line is the header, no comment lines) so that spreadsheets and ``csv`` /
pandas read them as they are; units are part of the column names: ``_s`` seconds, ``_deg`` degrees, distances in
torso lengths (see ``gymnast_pose.compare``), angles as in ``gymnast_pose.angles``. Empty cells mean "not
compared" (a joint below the confidence threshold or missing). Files are written atomically: the text goes to a
temporary file next to the target, which then replaces it, so a failure never leaves a half-written report.

Pairs file columns: ``coach_frame, coach_time_s, student_frame, student_time_s, pose_distance,
excluded_joints``, then ``<joint>_distance`` for every joint, then ``<angle>_coach_deg, <angle>_student_deg,
<angle>_diff_deg`` for every angle (difference = student - coach, the short way round).

Summary file columns: ``item, unit, mean, max, coach_frame_at_max, coach_time_at_max_s, student_frame_at_max,
student_time_at_max_s, excluded_pairs, compared_pairs``. Rows: ``overall_score`` (0-100, in ``mean``),
``pose_distance``, then ``<joint>_distance`` per joint and ``<angle>_abs_diff`` per angle.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from gymnast_pose.compare import Comparison, DeviationSummary
from gymnast_pose.files import temporary_next_to

SUMMARY_COLUMNS = (
    "item", "unit", "mean", "max", "coach_frame_at_max", "coach_time_at_max_s", "student_frame_at_max",
    "student_time_at_max_s", "excluded_pairs", "compared_pairs",
)  # fmt: skip


class ReportWriteError(OSError):
    """A report could not be written; the message names the path and the reason."""


def pair_columns(comparison: Comparison) -> list[str]:
    """Header of the per-pair CSV, in order."""
    columns = ["coach_frame", "coach_time_s", "student_frame", "student_time_s", "pose_distance", "excluded_joints"]
    columns += [f"{name}_distance" for name in comparison.joint_names]
    for name in comparison.angle_names:
        columns += [f"{name}_coach_deg", f"{name}_student_deg", f"{name}_diff_deg"]
    return columns


def _formatted(values: np.ndarray, decimals: int) -> list[str]:
    """Fixed-point text of a (P,) float array, an empty string for NaN."""
    return ["" if math.isnan(v) else f"{v:.{decimals}f}" for v in np.asarray(values, dtype=np.float64).tolist()]


def pair_rows(comparison: Comparison) -> list[list[str]]:
    """Body of the per-pair CSV: P rows of text cells, matching ``pair_columns``."""
    c = comparison
    cells = [
        [str(v) for v in c.coach_frames.tolist()], _formatted(c.coach_times_s, 4),
        [str(v) for v in c.student_frames.tolist()], _formatted(c.student_times_s, 4),
        _formatted(c.pose_distance, 4), [str(v) for v in c.excluded_joints.tolist()],
    ]  # fmt: skip
    cells += [_formatted(c.joint_distance[:, k], 4) for k in range(len(c.joint_names))]
    for a in range(len(c.angle_names)):
        cells += [
            _formatted(c.coach_angles_deg[:, a], 1),
            _formatted(c.student_angles_deg[:, a], 1),
            _formatted(c.angle_diff_deg[:, a], 1),
        ]
    return [list(row) for row in zip(*cells)]


def _summary_row(item: str, summary: DeviationSummary) -> list[str]:
    def number(value: float, decimals: int) -> str:
        return "" if math.isnan(value) else f"{value:.{decimals}f}"

    decimals = 1 if summary.unit == "deg" else 4
    compared = summary.pair_of_max >= 0
    return [
        item, summary.unit, number(summary.mean, decimals), number(summary.max, decimals),
        str(summary.coach_frame_at_max) if compared else "", number(summary.coach_time_at_max_s, 4),
        str(summary.student_frame_at_max) if compared else "", number(summary.student_time_at_max_s, 4),
        str(summary.excluded_pairs), str(summary.compared_pairs),
    ]  # fmt: skip


def summary_rows(comparison: Comparison) -> list[list[str]]:
    """Body of the summary CSV, matching ``SUMMARY_COLUMNS``."""
    c = comparison
    finite = np.isfinite(c.pose_distance)
    worst = int(np.nanargmax(c.pose_distance))
    overall = DeviationSummary(
        "pose_distance", "torso_lengths", c.mean_distance, float(c.pose_distance[worst]), worst,
        int(c.coach_frames[worst]), float(c.coach_times_s[worst]), int(c.student_frames[worst]),
        float(c.student_times_s[worst]), int((~finite).sum()), int(finite.sum()),
    )  # fmt: skip
    rows = [["overall_score", "points_0_to_100", f"{c.score:.1f}", "", "", "", "", "", "", str(int(finite.sum()))]]
    rows.append(_summary_row("pose_distance", overall))
    rows += [_summary_row(f"{s.name}_distance", s) for s in c.joints]
    rows += [_summary_row(f"{s.name}_abs_diff", s) for s in c.angles]
    return rows


def write_csv_atomically(path: str | os.PathLike, header: Iterable[str], rows: Iterable[Iterable[str]]) -> Path:
    """Write a CSV to ``path`` through a temporary file and ``os.replace``; ``ReportWriteError`` on failure."""
    path = Path(path)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    if path.is_dir():
        raise ReportWriteError(f"Cannot write the report to {path}: it is a folder, give a file name")
    if not path.parent.is_dir():
        raise ReportWriteError(f"Cannot write the report to {path}: the folder {path.parent} does not exist")
    try:
        fd, temporary = temporary_next_to(path, f".{path.name}.", ".tmp")
    except OSError as exc:
        raise ReportWriteError(f"Cannot write the report to {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text.getvalue())
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise ReportWriteError(f"Cannot write the report to {path}: {exc.strerror or exc}") from exc
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def write_pairs_csv(comparison: Comparison, path: str | os.PathLike) -> Path:
    """The per-aligned-pair report (see the module docstring) at ``path``; returns the path."""
    return write_csv_atomically(path, pair_columns(comparison), pair_rows(comparison))


def write_summary_csv(comparison: Comparison, path: str | os.PathLike) -> Path:
    """The per-joint / per-angle summary with the overall score (see the module docstring) at ``path``."""
    return write_csv_atomically(path, SUMMARY_COLUMNS, summary_rows(comparison))
