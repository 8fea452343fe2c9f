"""The pose network and the comparison engine on the real clips in ../shared/data/videos (no ground truth there).

For every clip: analyse it (cached), write a contact sheet of stills with the stickman (``--sheets DIR``), and
measure how steady the skeleton is. Then check the comparison engine where the answer is known:

* **tracking**: the fraction of frames where the athlete was found (mean joint score >= the tracker's person
  threshold) and the mean joint score;
* **jitter** (``sequence.jitter_ratio``: median frame-to-frame joint movement / median torso length) on each clip's
  stillest second. The second is chosen on the *raw* network output (lowest median movement over a 1-s window),
  then the jitter of the raw and of the smoothed (One-Euro) track is measured on that same window;
* **four synchronised cameras** (multiview/cam01..04): the offset between cam01 and each other camera should be
  close to 0 s. Measured two ways, as the clips are and again with the view settings the mirror check suggests
  (``mirror_check.check_mirror`` on the DTW comparison: for the cameras behind the athlete, the opposite view):
  the median offset of the automatic (DTW) alignment, which the app shows and its *Use offset found* takes, and
  the best constant offset (``align=offset``, estimated). A DTW path starts and ends at the clips' corners, so a
  near-zero median of two equally long clips could come from those anchors alone; the check therefore also cuts
  10 and 20 frames off the start of one clip, where the median must move by that much;
* **same movement vs different movement**: similarity scores (DTW alignment) of squat vs squat and squat vs
  handstand pairs; the squatters should score closer to each other;
* **agreement with MediaPipe** (``--mediapipe``, needs ``.venv-mediapipe``): MediaPipe Pose in tracking mode on
  every frame of every clip; per clip the median distance between our smoothed limb joints and MediaPipe's, in
  MediaPipe torso lengths, and the fraction within 0.2 torso. No ground truth exists for these people (none of them
  is in LSPET), so this is a check that both models see the same body, not an accuracy; where they disagree the
  contact sheets tell which one is wrong.

Results go to ``--out`` (JSON) and a readable summary is printed.

    python benchmarks/real_clips.py --model resources/gymnast_pose.pt --sheets docs/contact_sheets \\
        --out benchmarks/results/real_clips.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from gymnast_pose.analysis import AnalysisOptions, analyze_video
from gymnast_pose.commands.analyze import PRECISION_CHOICES
from gymnast_pose.compare import CompareError, CompareOptions, compare_sequences
from gymnast_pose.estimator import EstimatorConfig
from gymnast_pose.mirror_check import check_mirror
from gymnast_pose.sequence import jitter_ratio

VIDEOS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "videos"
CLIPS = {
    "squat_side_a": "squat/yuyoujiang_squat.mp4",
    "squat_front": "squat/rohanx01_squat.mp4",
    "squat_side_b": "squat/ikramaliokz_squat.mp4",
    "handstand_grass": "gymnastics/gym-coach_handstand.mp4",
    "handstand_wall": "gymnastics/myoxyn_wall_handstand.mp4",
    "run_indoor": "running/indoor_track_run.mp4",
    "run_outdoor": "running/outdoor_run.mp4",
    "cam01": "multiview/cam01.mp4",
    "cam02": "multiview/cam02.mp4",
    "cam03": "multiview/cam03.mp4",
    "cam04": "multiview/cam04.mp4",
    "platform": "exercise/platform_exercise.mp4",
}
SCORE_PAIRS = [("squat_side_a", "squat_side_b"), ("squat_side_a", "squat_front"), ("squat_side_b", "squat_front"),
               ("squat_side_a", "handstand_grass"), ("squat_side_a", "handstand_wall"),
               ("squat_side_b", "handstand_grass"), ("squat_side_b", "handstand_wall"),
               ("squat_front", "handstand_grass"), ("squat_front", "handstand_wall")]


def stillest_window(raw_xy: np.ndarray, fps: float) -> tuple[int, int]:
    """[start, stop) of the 1-s window of ``raw_xy`` (T, K, 2) with the lowest median joint movement per frame."""
    length = max(2, int(round(fps)))
    steps = np.linalg.norm(np.diff(raw_xy, axis=0), axis=-1)  # (T-1, K), NaN where a joint is missing
    best, best_start = np.inf, 0
    for start in range(0, max(1, len(raw_xy) - length + 1), max(1, length // 4)):
        window = steps[start:start + length - 1]
        if np.isfinite(window).mean() < 0.5:
            continue
        value = float(np.nanmedian(window))
        if value < best:
            best, best_start = value, start
    return best_start, min(len(raw_xy), best_start + length)


def mediapipe_agreement(path: Path, smooth) -> dict:
    """MediaPipe on every frame of ``path`` vs our ``smooth`` poses (see the module docstring)."""
    from bench_video import agreement  # this folder is on sys.path when the script runs

    from model_training.mediapipe_anchor import run_mediapipe_frames

    xy, found, _ = run_mediapipe_frames(path)
    n = min(len(xy), smooth.num_frames)
    result = agreement(smooth.keypoints[:n], xy[:n], found[:n])
    result["mediapipe_found_fraction"] = round(float(found.mean()), 3) if len(found) else 0.0
    return result


def analyse_clip(name: str, root: Path, rel: str, model: str | None, sheets: Path | None,
                 precision: str = "auto", input_size: int | None = None, flip: bool = False) -> tuple[dict, object]:
    path = root / rel
    t0 = time.perf_counter()
    options = AnalysisOptions(model_path=model, smooth=False, precision=precision, input_size=input_size, flip=flip)
    raw = analyze_video(path, options=options)  # gaps filled, not smoothed
    seconds = time.perf_counter() - t0
    defaults = AnalysisOptions()
    smooth = raw.smoothed(defaults.min_cutoff, defaults.beta, defaults.d_cutoff, defaults.median_s)  # as the app
    threshold = EstimatorConfig().person_threshold
    found = np.nanmean(np.where(np.isfinite(raw.keypoints[..., 0]), raw.keypoints[..., 2], 0.0), axis=1) >= threshold
    start, stop = stillest_window(raw.xy, raw.fps)
    row = {"file": rel, "frames": raw.num_frames, "fps": round(raw.fps, 3),
           "size": list(raw.frame_size), "first_analysis_s": round(seconds, 1),
           "found_fraction": round(float(found.mean()), 3),
           "mean_joint_score": round(float(raw.keypoints[..., 2].mean()), 3),
           "still_window_s": [round(start / raw.fps, 2), round(stop / raw.fps, 2)],
           "jitter_raw": round(jitter_ratio(raw, start, stop), 4),
           "jitter_smoothed": round(jitter_ratio(smooth, start, stop), 4)}
    if sheets is not None:
        from gymnast_pose.render import contact_sheet

        sheets.mkdir(parents=True, exist_ok=True)
        contact_sheet(path, smooth, 8, sheets / f"{name}.jpg", 1200)
    return row, smooth


def imposed_shift_check(coach, student, options, cuts=(10, 20)) -> dict[str, float]:
    """The automatic (DTW) alignment's median offset, in frames, after cutting the first ``cut`` frames of one
    video: a synchronised pair should then read -cut (student cut) or +cut (coach cut) plus its own offset."""
    found = {}
    for cut in cuts:
        for side, field in (("student", "student_range"), ("coach", "coach_range")):
            c = compare_sequences(coach, student, replace(options, align="dtw", offset_s=0.0, **{field: (cut, None)}))
            found[f"{side}_cut_{cut}"] = round(c.offset_s * c.coach_fps, 1)
    return found


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="checkpoint (default: the bundled model)")
    p.add_argument("--videos", type=Path, default=VIDEOS)
    p.add_argument("--sheets", type=Path, default=None, help="folder for one contact sheet (JPEG) per clip")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/real_clips.json"))
    p.add_argument("--precision", default="auto", choices=PRECISION_CHOICES,
                   help="the network's arithmetic (auto: as the app chooses on this machine)")
    p.add_argument("--input-size", type=int, default=None, help="network input (default: as the app chooses)")
    p.add_argument("--flip", action="store_true", help="run every crop also mirrored (analyze --flip)")
    p.add_argument("--clips", nargs="*", choices=list(CLIPS), default=None,
                   help="analyse only these clips (default: those the checks need)")
    p.add_argument("--mediapipe", action="store_true", help="also measure agreement with MediaPipe on every clip")
    p.add_argument("--only", nargs="*", choices=["multiview", "scores"], default=["multiview", "scores"],
                   help="which checks to run (each analyses only the clips it needs)")
    args = p.parse_args(argv)
    if not args.videos.is_dir():
        print(f"no videos at {args.videos}: nothing to do")
        return 0
    clips_of = {"multiview": {"cam01", "cam02", "cam03", "cam04"},
                "scores": {name for pair in SCORE_PAIRS for name in pair}}  # the clips each check needs
    needed = set().union(*(clips_of[check] for check in args.only))
    if args.only == ["multiview", "scores"]:
        needed = set(CLIPS)
    if args.clips is not None:  # only these clips, and only the checks they are enough for
        needed = set(args.clips)
        args.only = [check for check in args.only if clips_of[check] <= needed]
    clips, poses = {}, {}
    for name, rel in CLIPS.items():
        if name not in needed:
            continue
        clips[name], poses[name] = analyse_clip(name, args.videos, rel, args.model, args.sheets, args.precision,
                                                   args.input_size, args.flip)
        if args.mediapipe:
            clips[name]["mediapipe"] = mediapipe_agreement(args.videos / rel, poses[name])
            m = clips[name]["mediapipe"]
            if m["median_limb_distance_torso"] is not None:
                print(f"{name:16s} vs MediaPipe: median limb distance {m['median_limb_distance_torso']:.3f} torso, "
                      f"{100 * m['fraction_within_0.2_torso']:.0f} % within 0.2 torso "
                      f"(MediaPipe found the person in {100 * m['mediapipe_found_fraction']:.0f} % of frames)")
        c = clips[name]
        print(f"{name:16s} {c['frames']:5d} frames  found {100 * c['found_fraction']:5.1f} %  score "
              f"{c['mean_joint_score']:.2f}  jitter raw {c['jitter_raw']:.4f} smoothed {c['jitter_smoothed']:.4f} "
              f"(still {c['still_window_s'][0]:.1f}-{c['still_window_s'][1]:.1f} s)  {c['first_analysis_s']:.0f} s",
              flush=True)
    offsets = {}
    for cam in ("cam02", "cam03", "cam04") if "multiview" in args.only else ():
        row = offsets[f"cam01-{cam}"] = {}
        try:
            plain = compare_sequences(poses["cam01"], poses[cam], CompareOptions(align="dtw"))
            suggestion = check_mirror(poses["cam01"], poses[cam], plain)
            views = {"as_is": CompareOptions(align="offset", offset_s=None)}
            if suggestion is not None:
                views["suggested"] = CompareOptions(align="offset", offset_s=None, mirror=suggestion.mirror,
                                                    opposite_view=suggestion.opposite_view)
            for view, options in views.items():
                c = compare_sequences(poses["cam01"], poses[cam], options)
                warp = compare_sequences(poses["cam01"], poses[cam], replace(options, align="dtw", offset_s=0.0))
                row[view] = {"offset_s": round(c.offset_s, 4), "score": round(c.score, 1),
                             "offset_frames": round(c.offset_s * c.coach_fps, 2), "mirror": options.mirror,
                             "opposite_view": options.opposite_view, "mean_distance": round(c.mean_distance, 3),
                             "dtw_median_offset_frames": round(warp.offset_s * warp.coach_fps, 2),
                             "dtw_imposed_shift_frames": imposed_shift_check(poses["cam01"], poses[cam], options)}
                print(f"cam01 vs {cam} ({view}{', opposite view' if options.opposite_view else ''}"
                      f"{', mirrored' if options.mirror else ''}): best constant offset {c.offset_s:+.3f} s "
                      f"({c.offset_s * c.coach_fps:+.1f} frames), score {c.score:.1f}; automatic (DTW) median "
                      f"offset {warp.offset_s * warp.coach_fps:+.1f} frames; imposed shifts -> found "
                      f"{row[view]['dtw_imposed_shift_frames']}")
        except CompareError as exc:
            row["error"] = str(exc)
            print(f"cam01 vs {cam}: {exc}")
    scores = {}
    for a, b in SCORE_PAIRS if "scores" in args.only else ():
        try:
            c = compare_sequences(poses[a], poses[b], CompareOptions(align="dtw"))
        except CompareError as exc:
            scores[f"{a} vs {b}"] = {"error": str(exc)}
            print(f"{a} vs {b}: {exc}")
            continue
        scores[f"{a} vs {b}"] = {"score": round(c.score, 1), "mean_distance": round(c.mean_distance, 3)}
        print(f"{a} vs {b}: score {c.score:.1f}, mean distance {c.mean_distance:.3f} torso lengths")
    result = {"model": args.model or "bundled", "precision": args.precision, "flip": args.flip,
              "load_average": os.getloadavg(), "clips": clips,
              "multiview_offsets": offsets, "scores": scores}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
