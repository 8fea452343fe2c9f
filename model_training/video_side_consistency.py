"""Left and right kept consistent over a video: an experiment (tried on the real clips, not shipped; REPORT 4l).

The network decides left and right on every frame alone, from appearance. Seen from behind, or with the legs
together, it sometimes gives the right leg's label to the left leg for a few frames and then changes back. A
person's limbs cannot change places between two frames, so a video might tell what a single image cannot: an
exchange shows up as every joint of a limb group jumping onto its twin at once, and jumping back later.

Per limb group (``SIDE_GROUPS``: the arms are shoulders, elbows and wrists; the legs hips, knees and ankles), every
frame has two states: the labels as the network gave them (0), or that group's left and right exchanged (1). One
Viterbi pass per group picks the states that minimise

    sum over frames of  motion(t)  +  switch_cost * (number of frames in state 1)

``order=1``: motion is each joint's displacement from frame t - 1 (a jump costs its length once at each end).
``order=2``: motion is each joint's acceleration, x(t) - 2 x(t - 1) + x(t - 2), so that two legs passing each other
at speed (a runner's stride) read as a crossing rather than as two legs bouncing off each other; the states then
run over pairs of frames. Distances are in torso lengths (the clip's median ``skeleton.PCK_TORSO_PAIR``), each
joint's share capped at ``max_step``; joints missing on a frame add nothing, and a frame where the whole group is
missing breaks the chain. The network's labels win unless exchanging a run of n frames saves more than
``n * switch_cost`` of motion. With ``score_weight`` > 0 each frame's exchange costs ``switch_cost + score_weight
* s`` instead, s the mean score of the group's joints on that frame: the network's own certainty protects its
labels, and the frames where its probability was split between the two limbs are the cheap ones to exchange.

It cannot mend an athlete read mirrored on every frame (nothing jumps), a group whose twins lie on top of each
other (both labellings cost the same), or both labels of a pair put on the same foot (no exchange helps).

The check (``main``) analyses the real clips of ``benchmarks/real_clips.py`` (the pose cache makes a second run
fast), runs MediaPipe Pose on every frame (``.venv-mediapipe``), and counts per group and frame MediaPipe's
verdict: "exchanged" where our group with left and right exchanged lies closer to MediaPipe's by more than
``--margin`` MediaPipe torso lengths (mean over the group's joints), "as given" where the reverse holds. MediaPipe
is no ground truth, but it tracks with temporal smoothing and keeps its sides steady over a clip.

    python -m model_training.video_side_consistency --out benchmarks/results/side_consistency.json
    python -m model_training.video_side_consistency --costs 0 0.05 --score-weights 0.2 0.4 0.8 \
        --out benchmarks/results/side_consistency_scored.json

Arrays follow ``PoseSequence``: keypoints (T, K, 3) = x, y in pixels, score; a missing joint is NaN, NaN, 0.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from gymnast_pose.skeleton import JOINT_INDEX, PCK_TORSO_PAIR

SIDE_GROUPS: dict[str, tuple[tuple[int, int], ...]] = {
    "arms": tuple((JOINT_INDEX[f"r_{j}"], JOINT_INDEX[f"l_{j}"]) for j in ("shoulder", "elbow", "wrist")),
    "legs": tuple((JOINT_INDEX[f"r_{j}"], JOINT_INDEX[f"l_{j}"]) for j in ("hip", "knee", "ankle")),
}
DEFAULT_SWITCH_COST = 0.05  # torso lengths of motion a frame's exchange must save
DEFAULT_MAX_STEP = 1.0  # cap, in torso lengths, of one joint's share of a frame's motion


def _capped_sum(vectors: np.ndarray, scale: float, max_step: float) -> np.ndarray:
    """Sum over the joint axis (-2) of min(|v| / scale, max_step); NaN vectors add 0. (..., J, 2) -> (...)."""
    lengths = np.minimum(np.linalg.norm(vectors, axis=-1) / scale, max_step)
    return np.where(np.isfinite(lengths), lengths, 0.0).sum(axis=-1)


def group_states(xy: np.ndarray, pairs: tuple[tuple[int, int], ...], scale: float,
                 switch_cost: float | np.ndarray = DEFAULT_SWITCH_COST, max_step: float = DEFAULT_MAX_STEP,
                 order: int = 1) -> np.ndarray:
    """(T,) bool, True on the frames where exchanging ``pairs``' left and right makes the group move least.

    ``xy`` (T, K, 2) pixel positions, NaN where missing; ``pairs`` (right, left) joint indices exchanged together;
    ``scale`` pixels per torso length; ``order`` 1 (displacement) or 2 (acceleration), see the module docstring;
    ``switch_cost`` one cost for every frame, or (T,) a cost per frame.
    """
    right, left = [r for r, _ in pairs], [b for _, b in pairs]
    options = np.stack([xy[:, right + left], xy[:, left + right]], axis=1)  # (T, state, J, 2)
    count = len(xy)
    if count == 0:
        return np.zeros(0, dtype=bool)
    present = np.isfinite(options[:, 0, :, 0]).any(axis=1)  # (T,)
    unary = np.zeros((count, 2))  # unary[t, state]
    unary[:, 1] = switch_cost
    # step[t - 1, a, b]: displacement from state a at t - 1 to state b at t
    step = _capped_sum(options[1:, None] - options[:-1, :, None], scale, max_step)  # (T-1, 2, 2)
    if order == 2:  # accel[t - 2, z, a, b]: states z, a, b at t - 2, t - 1, t
        accel = _capped_sum(options[2:, None, None] - 2 * options[1:-1, None, :, None] + options[:-2, :, None, None],
                            scale, max_step)
    # cost[a, b]: the best total ending in state a at t - 1 and b at t (order 1 keeps a = b's predecessor free)
    cost = np.full((2, 2), np.inf)
    cost[0] = unary[0] * present[0]
    back = np.zeros((count, 2, 2), dtype=np.int8)  # the state at t - 2 of the best path through (a, b) at t - 1, t
    for t in range(1, count):
        if present[t] and present[t - 1]:
            if order == 2 and t >= 2 and present[t - 2]:
                total = cost[:, :, None] + accel[t - 2]  # (z, a, b)
            else:
                total = cost[:, :, None] + step[t - 1][None]
            back[t] = np.argmin(total, axis=0)
            new = np.take_along_axis(total, back[t][None].astype(np.int64), 0)[0]
        else:  # nothing links t - 1 and t: go on from the cheapest way into each state of t - 1
            back[t] = np.argmin(cost, axis=0)[:, None]
            new = np.repeat(cost.min(axis=0)[:, None], 2, axis=1)
        cost = new + (unary[t] if present[t] else np.zeros(2))[None, :]
    states = np.zeros(count, dtype=bool)
    a, b = np.unravel_index(int(np.argmin(cost)), cost.shape)
    for t in range(count - 1, 0, -1):
        states[t] = bool(b) and present[t]
        a, b = int(back[t, a, b]), a
    states[0] = bool(b) and present[0]
    return states


def consistent_sides(keypoints: np.ndarray, switch_cost: float = DEFAULT_SWITCH_COST,
                     max_step: float = DEFAULT_MAX_STEP, order: int = 1,
                     score_weight: float = 0.0) -> tuple[np.ndarray, dict[str, int]]:
    """``keypoints`` (T, K, 3) with each limb group's left and right exchanged where ``group_states`` says so.

    ``score_weight``: the network's own certainty as evidence for its labels. A frame's exchange then costs
    ``switch_cost + score_weight * s``, s the mean score of the group's joints found on that frame: where the
    network's probability for a label was split between the two limbs, its peak is low and an exchange is cheap.

    Returns the new array (float32, a copy; positions and scores move together) and the number of frames changed
    per group name. Neck and head top are never touched.
    """
    kp = np.array(keypoints, dtype=np.float32)
    a, b = PCK_TORSO_PAIR
    torso = np.linalg.norm(kp[:, a, :2] - kp[:, b, :2], axis=-1)
    torso = torso[np.isfinite(torso) & (torso > 0)]
    if torso.size == 0:
        return kp, {name: 0 for name in SIDE_GROUPS}
    scale = float(np.median(torso))
    changed = {}
    for name, pairs in SIDE_GROUPS.items():
        joints = [j for pair in pairs for j in pair]
        scores = np.nan_to_num(kp[:, joints, 2], nan=0.0)
        found = np.isfinite(kp[:, joints, 0])
        mean_score = np.where(found, scores, 0).sum(axis=1) / np.maximum(found.sum(axis=1), 1)
        costs = switch_cost + score_weight * mean_score  # (T,)
        states = group_states(kp[..., :2], pairs, scale, costs, max_step, order)
        for right, left in pairs:
            kp[states, right], kp[states, left] = kp[states, left].copy(), kp[states, right].copy()
        changed[name] = int(states.sum())
    return kp, changed


def mediapipe_verdict(ours: np.ndarray, mediapipe: np.ndarray, found: np.ndarray,
                      pairs: tuple[tuple[int, int], ...], margin: float) -> np.ndarray:
    """(T,) int8: +1 where MediaPipe says the group is exchanged, -1 where it says as given, 0 undecided.

    ``ours`` (T, K, >= 2), ``mediapipe`` (T, K, 2) and ``found`` (T,) bool, the same frames.
    """
    right, left = [r for r, _ in pairs], [b for _, b in pairs]
    torso = np.linalg.norm(mediapipe[:, JOINT_INDEX["l_shoulder"]] - mediapipe[:, JOINT_INDEX["r_hip"]], axis=1)

    def mean_distance(order: list[int]) -> np.ndarray:  # (T,) mean over the joints both models have; NaN if none
        dist = np.linalg.norm(ours[:, order, :2] - mediapipe[:, right + left], axis=-1)  # (T, J)
        counted = np.isfinite(dist).sum(axis=1)
        total = np.where(np.isfinite(dist), dist, 0.0).sum(axis=1)
        return np.where(counted > 0, total / np.maximum(counted, 1), np.nan)

    with np.errstate(invalid="ignore", divide="ignore"):
        given, swapped = mean_distance(right + left) / torso, mean_distance(left + right) / torso
    verdict = np.where(swapped + margin < given, 1, np.where(given + margin < swapped, -1, 0))
    return np.where(found & (torso > 0) & np.isfinite(given), verdict, 0).astype(np.int8)


def score_variant(clips: dict, switch_cost: float, order: int, margin: float, score_weight: float = 0.0) -> dict:
    """Per clip and in total: frames changed, and how many of them MediaPipe calls right or wrong."""
    from bench_video import agreement  # benchmarks/ is on sys.path once main() runs

    from gymnast_pose.analysis import AnalysisOptions
    from gymnast_pose.sequence import PoseSequence

    defaults = AnalysisOptions()
    rows, total = {}, {"changed": 0, "agrees": 0, "disagrees": 0, "mediapipe_says_exchanged_before": 0,
                       "mediapipe_says_exchanged_after": 0}
    for name, clip in clips.items():
        raw, mp, found = clip["raw"], clip["mp"], clip["found"]
        fixed, changed = consistent_sides(raw, switch_cost, order=order, score_weight=score_weight)
        row = {"changed": changed}
        for group, pairs in SIDE_GROUPS.items():
            before = mediapipe_verdict(raw, mp, found, pairs, margin)
            rights = [r for r, _ in pairs]
            moved = ~np.all(np.isclose(fixed[:, rights, 0], raw[:, rights, 0], equal_nan=True), axis=1)
            after = mediapipe_verdict(fixed, mp, found, pairs, margin)
            row[group] = {"agrees": int((moved & (before == 1)).sum()),
                          "disagrees": int((moved & (before == -1)).sum()),
                          "mediapipe_says_exchanged_before": int((before == 1).sum()),
                          "mediapipe_says_exchanged_after": int((after == 1).sum())}
            total["changed"] += changed[group]
            for key, value in row[group].items():
                total[key] += value
        smooth = [PoseSequence(kp, clip["fps"]).smoothed(defaults.min_cutoff, defaults.beta, defaults.d_cutoff,
                                                         defaults.median_s).keypoints for kp in (raw, fixed)]
        row["within_0.2_torso"] = [round(agreement(kp, mp, found)["fraction_within_0.2_torso"], 4) for kp in smooth]
        rows[name] = row
    return {"switch_cost": switch_cost, "order": order, "score_weight": score_weight, "total": total, "clips": rows}


def multiview_check(clips: dict, switch_cost: float | None, order: int, score_weight: float = 0.0) -> dict:
    """cam01 against cam02-04 (filmed at the same time): the view the mirror check suggests and the automatic
    (DTW) alignment's median offset in frames with that view; ``switch_cost`` None: the network's sides as given."""
    from dataclasses import replace

    from gymnast_pose.analysis import AnalysisOptions
    from gymnast_pose.compare import CompareOptions, compare_sequences
    from gymnast_pose.mirror_check import check_mirror
    from gymnast_pose.sequence import PoseSequence

    defaults = AnalysisOptions()

    def poses(name):
        raw = clips[name]["raw"]
        if switch_cost is not None:
            raw, _ = consistent_sides(raw, switch_cost, order=order, score_weight=score_weight)
        return PoseSequence(raw, clips[name]["fps"], frame_size=clips[name]["size"]).smoothed(
            defaults.min_cutoff, defaults.beta, defaults.d_cutoff, defaults.median_s)

    reference, rows = poses("cam01"), {}
    for cam in ("cam02", "cam03", "cam04"):
        other = poses(cam)
        options = CompareOptions(align="dtw")
        suggestion = check_mirror(reference, other, compare_sequences(reference, other, options))
        if suggestion is not None:
            options = replace(options, mirror=suggestion.mirror, opposite_view=suggestion.opposite_view)
        warp = compare_sequences(reference, other, options)
        rows[cam] = {"mirror": options.mirror, "opposite_view": options.opposite_view,
                     "dtw_median_offset_frames": round(warp.offset_s * warp.coach_fps, 1)}
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="checkpoint (default: the bundled model)")
    p.add_argument("--costs", type=float, nargs="+", default=[0.05, 0.2, 0.4])
    p.add_argument("--orders", type=int, nargs="+", default=[1, 2], choices=[1, 2])
    p.add_argument("--score-weights", type=float, nargs="+", default=[0.0],
                   help="weights of the network's scores in the cost of an exchange (consistent_sides)")
    p.add_argument("--margin", type=float, default=0.1, help="MediaPipe torso lengths a verdict needs")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/side_consistency.json"))
    args = p.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from real_clips import CLIPS, VIDEOS

    from gymnast_pose.analysis import AnalysisOptions, analyze_video
    from model_training.mediapipe_anchor import run_mediapipe_frames, venv_available

    if not VIDEOS.is_dir() or not venv_available():
        print("needs ../shared/data/videos and .venv-mediapipe (python -m model_training.mediapipe_anchor --setup)")
        return 1
    clips = {}
    for name, rel in CLIPS.items():
        raw = analyze_video(VIDEOS / rel, options=AnalysisOptions(model_path=args.model, smooth=False))
        mp, found, _ = run_mediapipe_frames(VIDEOS / rel)
        n = min(len(mp), raw.num_frames)
        clips[name] = {"raw": raw.keypoints[:n], "mp": mp[:n], "found": found[:n].astype(bool), "fps": raw.fps,
                       "size": raw.frame_size}
    results = [score_variant(clips, cost, order, args.margin, weight)
               for order in args.orders for weight in args.score_weights for cost in args.costs]
    for result in results:
        result["multiview"] = multiview_check(clips, result["switch_cost"], result["order"], result["score_weight"])
    as_given = multiview_check(clips, None, 1)
    print(f"as given: {as_given}")
    frames = sum(len(c["raw"]) for c in clips.values())
    for r in results:
        t = r["total"]
        print(f"order {r['order']} cost {r['switch_cost']:.2f} + {r['score_weight']:.2f} x score: "
              f"{t['changed']} group-frames changed of {2 * frames}; MediaPipe agrees with {t['agrees']}, "
              f"disagrees with {t['disagrees']}; groups "
              f"MediaPipe reads as exchanged {t['mediapipe_says_exchanged_before']} -> "
              f"{t['mediapipe_says_exchanged_after']}; multiview {r['multiview']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"model": args.model or "bundled", "margin": args.margin, "frames": frames,
                                    "multiview_as_given": as_given, "variants": results}, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
