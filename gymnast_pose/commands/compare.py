"""``gymnast-pose compare COACH STUDENT --report pairs.csv``: compare two performances and write CSV reports.

COACH and STUDENT are videos (analysed with the pose network, cached) or pose files saved by ``analyze``
(.npz, .json, .csv). Prints the overall score, the alignment found and the joints that deviate most.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gymnast_pose.cli import UserError
from gymnast_pose.commands.analyze import ProgressBar

POSE_FILE_SUFFIXES = (".npz", ".json", ".csv")


def parse_align(text: str) -> tuple[str, float | None]:
    """``dtw`` -> ("dtw", None); ``offset=1.5`` -> ("offset", 1.5); ``offset`` / ``offset=auto`` -> ("offset", None)."""
    text = text.strip().lower()
    if text == "dtw":
        return "dtw", None
    method, _, value = text.partition("=")
    if method == "offset":
        if value in ("", "auto"):
            return "offset", None
        try:
            return "offset", float(value)
        except ValueError:
            pass
    raise argparse.ArgumentTypeError(f"expected dtw, offset=SECONDS or offset=auto, not {text!r}")


def parse_range(text: str) -> tuple[int | None, int | None]:
    """``a:b`` (frames, b excluded; either may be left out) -> (a, b)."""
    start, colon, stop = text.partition(":")
    try:
        if not colon:
            raise ValueError
        return (int(start) if start.strip() else None, int(stop) if stop.strip() else None)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a frame range START:STOP such as 120:480, not {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("coach", type=Path, help="the coach's (reference) video, or its saved poses (.npz/.json/.csv)")
    parser.add_argument("student", type=Path, help="the student's video, or their saved poses")
    parser.add_argument("--report", type=Path, required=True, help="CSV file for the aligned frame pairs")
    parser.add_argument("--summary", type=Path, help="CSV file for the per-joint summary and the overall score")
    parser.add_argument(
        "--align",
        type=parse_align,
        default=("dtw", None),
        metavar="dtw|offset=S",
        help="dynamic time warping (default), a fixed offset in seconds (student time minus coach "
        "time), or offset=auto to find the best fixed offset",
    )
    parser.add_argument(
        "--band",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="largest tempo drift dynamic time warping may follow (default 2 s)",
    )
    parser.add_argument("--mirror", action="store_true", help="the student performs on the other side: flip them")
    parser.add_argument("--opposite-view", action="store_true",
                        help="the student was filmed from the other side of the athlete (e.g. from behind): flip the "
                        "picture but keep the student's own left and right")
    parser.add_argument("--coach-range", type=parse_range, metavar="A:B", help="compare only coach frames A to B-1")
    parser.add_argument("--student-range", type=parse_range, metavar="A:B", help="compare only student frames A..B-1")
    parser.add_argument("--threshold", type=float, default=0.3, help="ignore joints scored below this (default 0.3)")
    parser.add_argument("--remove-roll", action="store_true", help="remove a constant camera roll from each video")
    parser.add_argument("--device", default="auto", help="for videos: auto, cpu, cuda or mps")
    parser.add_argument("--no-cache", action="store_true", help="for videos: analyse again even if cached")


def load_poses(path: Path, role: str, device: str = "auto", use_cache: bool = True):
    """A ``PoseSequence`` from a pose file, or from a video through the pose network (imported only then)."""
    if not path.is_file():
        raise UserError(f"the {role}'s file {path} does not exist")
    if path.suffix.lower() in POSE_FILE_SUFFIXES:
        from gymnast_pose.sequence import PoseSequence, PoseSequenceError

        try:
            return PoseSequence.load(path)
        except PoseSequenceError as exc:
            raise UserError(str(exc)) from None
    try:
        from gymnast_pose.analysis import analyze_video
    except ImportError as exc:
        raise UserError(f"cannot analyse the video {path} here ({exc}); give a saved pose file instead") from None
    bar = ProgressBar(f"analysing {role}")
    try:
        return analyze_video(path, device=device, use_cache=use_cache, progress=bar.update)
    finally:
        bar.close()


def run(args: argparse.Namespace) -> int:
    from gymnast_pose.compare import CompareError, CompareOptions, compare_sequences
    from gymnast_pose.report import ReportWriteError, write_pairs_csv, write_summary_csv

    align, offset_s = args.align
    try:
        options = CompareOptions(
            align=align,
            offset_s=offset_s,
            band_s=args.band,
            mirror=args.mirror,
            opposite_view=args.opposite_view,
            coach_range=args.coach_range,
            student_range=args.student_range,
            confidence_threshold=args.threshold,
            remove_roll=args.remove_roll,
        )
    except CompareError as exc:
        raise UserError(str(exc)) from None
    coach = load_poses(args.coach, "coach", args.device, not args.no_cache)
    student = load_poses(args.student, "student", args.device, not args.no_cache)
    try:
        comparison = compare_sequences(coach, student, options)
        write_pairs_csv(comparison, args.report)
        if args.summary is not None:
            write_summary_csv(comparison, args.summary)
    except (CompareError, ReportWriteError) as exc:
        raise UserError(str(exc)) from None
    print(describe(comparison))
    from gymnast_pose.mirror_check import check_mirror

    suggestion = check_mirror(coach, student, comparison)
    if suggestion is not None:
        flag = "--" + suggestion.changed.replace("_", "-")
        print("Hint: " + suggestion.message(flag if suggestion.turn_on else f"{flag} (leave it out)"))
    print(f"Report: {args.report}" + (f"; summary: {args.summary}" if args.summary else ""))
    return 0


def describe(comparison) -> str:
    """A few lines for a coach: score, alignment, worst joints and angles."""
    c = comparison
    lines = [
        f"Similarity score: {c.score:.1f} / 100 (mean pose distance {c.mean_distance:.3f} torso lengths "
        f"over {c.num_pairs} aligned frame pairs)"
    ]
    if c.options.align == "dtw":
        lines.append(
            f"Alignment: dynamic time warping; median offset {c.offset_s:+.2f} s, student tempo "
            f"{c.tempo_ratio:.2f}x the coach's duration"
        )
    else:
        lines.append(f"Alignment: fixed offset {c.offset_s:+.3f} s (student time minus coach time)")
    worst = ", ".join(
        f"{s.name} {s.mean:.2f} (max {s.max:.2f} at coach {s.coach_time_at_max_s:.2f} s)"
        for s in c.worst_joints(3)
        if s.compared_pairs
    )
    lines.append(f"Largest joint deviations (torso lengths): {worst or 'none compared'}")
    angles = sorted((s for s in c.angles if s.compared_pairs), key=lambda s: -s.mean)[:3]
    if angles:
        lines.append("Largest angle differences: " + ", ".join(f"{s.name} {s.mean:.0f} deg" for s in angles))
    excluded = int(c.excluded_joints.sum())
    if excluded:
        lines.append(f"Excluded {excluded} joint comparisons below the confidence threshold or missing")
    return "\n".join(lines)
