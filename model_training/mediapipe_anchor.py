"""MediaPipe Pose as an external anchor, run in its own virtual environment so the main one never imports it.

``mediapipe==0.10.14`` needs numpy < 2, protobuf < 5 and opencv-contrib-python, which must not enter the main
environment. This module therefore works on both sides of a process boundary:

* main environment (numpy only): :func:`setup_venv` builds ``.venv-mediapipe/`` in the repository root;
  :func:`run_mediapipe` (still images) and :func:`run_mediapipe_frames` (a video) start the venv's Python on this
  same file with ``--worker``, exchange a request ``.json`` and a result ``.npz`` in a temporary folder, and map
  the 33 BlazePose landmarks to LSP-14 with :func:`landmarks_to_lsp`;
* the venv (``--worker``): imports ``mediapipe.solutions.pose`` and writes the raw landmarks.

Model. The legacy ``mediapipe.solutions.pose.Pose`` is the only pose API whose model ships inside the 0.10.14
wheel: ``mediapipe/modules/pose_landmark/pose_landmark_full.tflite`` (``model_complexity=1``) plus the person
detector ``pose_detection.tflite``. Complexity 0 (lite) and 2 (heavy), and the Tasks API's ``.task`` bundles, are
downloaded at run time, which is impossible offline; the worker refuses them unless their file is present.

Conventions of the outputs:

* keypoints (N, 14, 2) float32, x, y in the image's pixels with pixel centres on integers (MediaPipe's normalised
  x in [0, 1] spans the image's edges, so ``x_px = x * width - 0.5``), LSP-14 order, left/right being the
  person's own (as MediaPipe's ``LEFT_*`` landmarks are); NaN where not available;
* neck (12) = midpoint of the shoulders; head_top (13) has no BlazePose landmark and is NaN by default (see
  :data:`HEAD_TOP_FACTOR` for an opt-in estimate). The fair comparison is therefore the 12 "limbs" joints of
  ``model_training.evaluate``;
* found (N,) bool: False where MediaPipe found no person (all 14 keypoints NaN).

Setup and use::

    python -m model_training.mediapipe_anchor --setup              # once: creates .venv-mediapipe/
    python -m model_training.mediapipe_anchor --check
    python -m model_training.mediapipe_anchor --data lsp:/work/shared/data/lspet:9001-10000 \\
        --out benchmarks/results/mediapipe_holdout.json
    python -m model_training.mediapipe_anchor --video clip.mp4 --out clip_mediapipe.npz
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_VENV = REPO_ROOT / ".venv-mediapipe"
VENV_ENV_VAR = "GYMNAST_MEDIAPIPE_VENV"  # overrides DEFAULT_VENV
# Exact pins: the 0.10.14 wheel, and the newest numpy / OpenCV releases that still accept numpy < 2.
REQUIREMENTS = ("mediapipe==0.10.14", "numpy==1.26.4", "protobuf>=4.25.3,<5", "opencv-contrib-python==4.11.0.86")
SHIPPED_COMPLEXITIES = {0: "pose_landmark_lite.tflite", 1: "pose_landmark_full.tflite", 2: "pose_landmark_heavy.tflite"}
DEFAULT_COMPLEXITY = 1  # the only one whose .tflite is inside the wheel

NUM_LANDMARKS = 33
# LSP-14 index -> BlazePose landmark for the 12 limb joints (both use the person's own left/right).
MEDIAPIPE_TO_LSP: tuple[int, ...] = (28, 26, 24, 23, 25, 27, 16, 14, 12, 11, 13, 15)
SHOULDERS = (11, 12)
EYES = (2, 5)
MOUTH = (9, 10)
# Opt-in head_top estimate: eye midpoint + HEAD_TOP_FACTOR x (eye midpoint - mouth midpoint). Typical adult head
# proportions (pupils to crown about 11.5 cm, pupils to mouth about 7 cm), not fitted to any data set.
HEAD_TOP_FACTOR = 1.6


# ----------------------------------------------------------------------------------------------- main environment
def landmarks_to_lsp(landmarks: np.ndarray, sizes: np.ndarray, found: np.ndarray, min_visibility: float = 0.0,
                     estimate_head_top: bool = False) -> np.ndarray:
    """BlazePose landmarks -> LSP-14 keypoints in pixels.

    landmarks (N, 33, 4): MediaPipe's normalised x, y (image width/height = 1, edges at 0 and 1), z, visibility;
    sizes (N, 2): each image's (width, height); found (N,) bool. Returns (N, 14, 2) float32 with pixel centres on
    integers; rows where ``found`` is False, limb joints whose visibility is below ``min_visibility`` and head_top
    (unless ``estimate_head_top``) are NaN. The neck (midpoint of the shoulders) ignores ``min_visibility``.
    """
    landmarks = np.asarray(landmarks, dtype=np.float64)
    sizes = np.asarray(sizes, dtype=np.float64)
    if landmarks.ndim != 3 or landmarks.shape[1:] != (NUM_LANDMARKS, 4):
        raise ValueError(f"landmarks must be (N, {NUM_LANDMARKS}, 4), got {landmarks.shape}")
    xy = landmarks[..., :2] * sizes[:, None, :] - 0.5
    visibility = landmarks[..., 3]
    out = np.full((len(landmarks), 14, 2), np.nan)
    out[:, :12] = xy[:, MEDIAPIPE_TO_LSP]
    out[:, :12][visibility[:, MEDIAPIPE_TO_LSP] < min_visibility] = np.nan
    out[:, 12] = xy[:, SHOULDERS].mean(axis=1)
    if estimate_head_top:
        eyes, mouth = xy[:, EYES].mean(axis=1), xy[:, MOUTH].mean(axis=1)
        out[:, 13] = eyes + HEAD_TOP_FACTOR * (eyes - mouth)
    out[~np.asarray(found, dtype=bool)] = np.nan
    return out.astype(np.float32)


def venv_python(venv: str | os.PathLike | None = None) -> Path:
    """The interpreter of the MediaPipe venv (``venv``, else $GYMNAST_MEDIAPIPE_VENV, else .venv-mediapipe/)."""
    root = Path(venv or os.environ.get(VENV_ENV_VAR) or DEFAULT_VENV)
    return root / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def venv_available(venv: str | os.PathLike | None = None) -> bool:
    """True when the venv's interpreter exists (it is not imported or run)."""
    return venv_python(venv).exists()


def setup_venv(venv: str | os.PathLike | None = None, python: str = sys.executable) -> Path:
    """Create the venv with ``python -m venv`` and pip-install :data:`REQUIREMENTS` from PyPI; returns its python.

    The 0.10.14 wheels exist for CPython 3.8-3.12 only. Re-running on an existing venv just re-checks the pins.
    """
    root = Path(venv or os.environ.get(VENV_ENV_VAR) or DEFAULT_VENV)
    exe = venv_python(root)
    if not exe.exists():
        subprocess.run([python, "-m", "venv", str(root)], check=True)
    subprocess.run([str(exe), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run([str(exe), "-m", "pip", "install", "--quiet", *REQUIREMENTS], check=True)
    return exe


def _call_worker(request: dict, venv=None, timeout_s: float | None = None) -> dict[str, np.ndarray]:
    """Run ``--worker`` in the venv on ``request``; return the arrays of its result .npz."""
    exe = venv_python(venv)
    if not exe.exists():
        raise FileNotFoundError(f"no MediaPipe venv at {exe.parents[1]}: run "
                                "`python -m model_training.mediapipe_anchor --setup` first")
    with tempfile.TemporaryDirectory(prefix="mediapipe_anchor_") as tmp:
        request_file, result_file = Path(tmp) / "request.json", Path(tmp) / "result.npz"
        request_file.write_text(json.dumps(request))
        env = {**os.environ, "GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONNOUSERSITE": "1"}
        env.pop("PYTHONPATH", None)  # the main environment's packages must not leak into the venv
        proc = subprocess.run([str(exe), "-m", "model_training.mediapipe_anchor", "--worker", str(request_file),
                               str(result_file)], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                              timeout=timeout_s)
        if proc.returncode != 0 or not result_file.exists():
            raise RuntimeError(f"MediaPipe worker failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
        with np.load(result_file) as data:
            return {key: data[key] for key in data.files}


def _report_rate(what: str, result: dict) -> dict:
    stats = {"count": int(len(result["found"])), "seconds": float(result["seconds"]),
             "inference_seconds": float(result["inference_seconds"])}
    stats["per_s"] = stats["count"] / max(stats["seconds"], 1e-9)
    stats["inference_per_s"] = stats["count"] / max(stats["inference_seconds"], 1e-9)
    print(f"mediapipe: {stats['count']} {what}, {stats['per_s']:.1f}/s incl. decoding, "
          f"{stats['inference_per_s']:.1f}/s MediaPipe alone (start-up excluded)", file=sys.stderr, flush=True)
    return stats


def run_mediapipe(image_paths, model_complexity: int = DEFAULT_COMPLEXITY, min_visibility: float = 0.0,
                  estimate_head_top: bool = False, return_stats: bool = False, venv=None):
    """MediaPipe Pose on still images (``static_image_mode=True``: the person detector runs on every image).

    image_paths: N paths. Returns keypoints (N, 14, 2) float32 (see the module docstring) and found (N,) bool;
    with ``return_stats`` also a dict: count, seconds (reading + inference, subprocess start-up and model
    loading excluded), inference_seconds, per_s, inference_per_s, and raw ``landmarks`` (N, 33, 4) and ``sizes``
    (N, 2). The rates are also printed to stderr.
    """
    paths = [str(Path(p).resolve()) for p in image_paths]
    result = _call_worker({"mode": "images", "paths": paths, "model_complexity": int(model_complexity)}, venv)
    found = result["found"].astype(bool)
    xy = landmarks_to_lsp(result["landmarks"], result["sizes"], found, min_visibility, estimate_head_top)
    stats = _report_rate("images", result)
    if return_stats:
        return xy, found, {**stats, "landmarks": result["landmarks"], "sizes": result["sizes"]}
    return xy, found


def run_mediapipe_frames(video_path, frame_indices=None, model_complexity: int = DEFAULT_COMPLEXITY,
                         min_visibility: float = 0.0, estimate_head_top: bool = False, venv=None,
                         return_stats: bool = False):
    """MediaPipe Pose on a video in tracking mode (``static_image_mode=False``, landmark smoothing on).

    Frames are read with ``gymnast_pose.video.VideoSource`` (decode order, upright RGB), so frame ``i`` is the
    same frame our own pipeline sees. ``frame_indices`` (ascending; default: every frame) are fed to one tracker
    in order: between two selected frames the tracker sees nothing else, so pass the indices you compare on.
    Returns keypoints (T, 14, 2) float32 in upright video pixels, found (T,) bool, and frames_per_s (inference
    alone, decoding and start-up excluded; the rate including decoding is printed to stderr). With
    ``return_stats`` also the dict of :func:`run_mediapipe` (count, seconds, per_s incl. decoding, ...).
    """
    request = {"mode": "video", "path": str(Path(video_path).resolve()), "model_complexity": int(model_complexity),
               "frame_indices": None if frame_indices is None else [int(i) for i in frame_indices]}
    result = _call_worker(request, venv)
    found = result["found"].astype(bool)
    xy = landmarks_to_lsp(result["landmarks"], result["sizes"], found, min_visibility, estimate_head_top)
    stats = _report_rate("frames", result)
    if return_stats:
        return xy, found, stats["inference_per_s"], stats
    return xy, found, stats["inference_per_s"]


# -------------------------------------------------------------------------------------------------- venv (worker)
def _make_pose(static_image_mode: bool, model_complexity: int):
    """A legacy ``mp.solutions.pose.Pose``; refuses complexities whose model would have to be downloaded."""
    import mediapipe
    from mediapipe.python.solutions import pose as mp_pose

    if model_complexity not in SHIPPED_COMPLEXITIES:
        raise ValueError(f"model_complexity must be 0, 1 or 2, got {model_complexity}")
    model = Path(mediapipe.__file__).parent / "modules" / "pose_landmark" / SHIPPED_COMPLEXITIES[model_complexity]
    if not model.exists():
        raise FileNotFoundError(f"{model} is not in the mediapipe wheel and cannot be downloaded offline; "
                                f"use model_complexity={DEFAULT_COMPLEXITY}")
    return mp_pose.Pose(static_image_mode=static_image_mode, model_complexity=model_complexity)


def _landmark_array(results) -> np.ndarray | None:
    if results.pose_landmarks is None:
        return None
    return np.array([[lm.x, lm.y, lm.z, lm.visibility] for lm in results.pose_landmarks.landmark], np.float32)


def _process_all(pose, frames) -> dict[str, np.ndarray]:
    """frames: iterator of RGB uint8 (H, W, 3) images; times the loop (reading included) and ``process`` alone."""
    landmarks, sizes, found, inference_s, start = [], [], [], 0.0, time.perf_counter()
    for rgb in frames:
        t0 = time.perf_counter()
        lm = _landmark_array(pose.process(rgb))
        inference_s += time.perf_counter() - t0
        found.append(lm is not None)
        landmarks.append(np.full((NUM_LANDMARKS, 4), np.nan, np.float32) if lm is None else lm)
        sizes.append((rgb.shape[1], rgb.shape[0]))
    return {"landmarks": np.array(landmarks, np.float32).reshape(-1, NUM_LANDMARKS, 4),
            "sizes": np.array(sizes, np.float64).reshape(-1, 2), "found": np.array(found, bool),
            "seconds": np.float64(time.perf_counter() - start), "inference_seconds": np.float64(inference_s)}


def _read_images(paths):
    import cv2

    for path in paths:
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        if bgr is None:
            raise FileNotFoundError(f"cannot read image {path}")
        yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _read_video(path: str, frame_indices):
    from gymnast_pose.video import VideoSource  # cv2 + numpy only, so it imports in the venv too

    wanted = None if frame_indices is None else sorted(set(frame_indices))
    if wanted is not None and wanted != list(frame_indices):
        raise ValueError("frame_indices must be ascending without repeats")
    with VideoSource(path) as source:
        if wanted is None:
            for frame in source.frames():
                yield frame.image
            return
        if not wanted:
            return
        if wanted[0] < 0 or wanted[-1] >= source.num_frames:
            raise IndexError(f"frame_indices outside 0..{source.num_frames - 1}")
        keep = set(wanted)
        for frame in source.frames(wanted[0], wanted[-1] + 1):
            if frame.index in keep:
                yield frame.image


def worker(request_file: str, result_file: str) -> None:
    """Venv side: read the request .json, run MediaPipe, write the result .npz (see :func:`_process_all`)."""
    import warnings

    warnings.filterwarnings("ignore", category=UserWarning, module="google.protobuf")
    request = json.loads(Path(request_file).read_text())
    complexity = int(request.get("model_complexity", DEFAULT_COMPLEXITY))
    if request["mode"] == "images":
        pose, frames = _make_pose(True, complexity), _read_images(request["paths"])
    elif request["mode"] == "video":
        pose, frames = _make_pose(False, complexity), _read_video(request["path"], request.get("frame_indices"))
    elif request["mode"] == "check":
        import mediapipe

        pose, frames = _make_pose(True, complexity), iter([np.zeros((64, 64, 3), np.uint8)])
    else:
        raise ValueError(f"unknown worker mode {request['mode']!r}")
    with pose:
        result = _process_all(pose, frames)
    if request["mode"] == "check":
        result["versions"] = np.array(f"mediapipe {mediapipe.__version__}, numpy {np.__version__}")
    np.savez(result_file, **result)


# ---------------------------------------------------------------------------------------------------------- CLI
def _evaluate(spec: str, complexity: int) -> dict:
    """PCK of MediaPipe on a dataset spec, with model_training.evaluate's rules (imports torch: main env only).

    Each image is one person's crop, as in ``model_training.evaluate``: the whole image goes in (MediaPipe fits it to
    its own detector input), no ground-truth box. Images where MediaPipe finds nobody count as wrong for every
    labelled joint. Tables of the report (``model_training.evaluate.pck_table``):

    * ``pck``: limbs from their landmarks, neck = midpoint of the shoulders, head_top missing (so counted wrong,
      which makes its "all" a lower bound);
    * ``pck_head_top_estimated``: the same with head_top estimated from eyes and mouth (:data:`HEAD_TOP_FACTOR`):
      its "all" is the 14-joint figure;
    * ``pck_without_head_top``: head_top left out of the count: its "all" covers 13 joints (limbs and neck);
    * ``pck_found_only``: only the images where MediaPipe found a person.
    """
    from model_training.datasets import read_dataset
    from model_training.evaluate import pck_table

    samples = read_dataset(spec)
    gt = np.stack([s.keypoints for s in samples])
    labelled = np.stack([s.labelled for s in samples])
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    xy, found, stats = run_mediapipe([s.image_path for s in samples], complexity, return_stats=True)
    head = landmarks_to_lsp(stats["landmarks"], stats["sizes"], found, estimate_head_top=True)
    no_head = labelled.copy()
    no_head[:, 13] = False
    tables = {"pck": pck_table(xy, gt, labelled, found),
              "pck_head_top_estimated": pck_table(head, gt, labelled, found),
              "pck_without_head_top": pck_table(xy, gt, no_head, found),
              "pck_found_only": pck_table(xy[found], gt[found], labelled[found])}
    summary = {"data": spec, "model_complexity": complexity, "images": len(samples),
               "images_scored": tables["pck"]["images"], "no_person_images": int((~found).sum()),
               "no_person_fraction": float(1 - found.mean()), "images_per_s": stats["per_s"],
               "inference_images_per_s": stats["inference_per_s"],
               "speed_conditions": {"cpu_count": os.cpu_count(), "load_average_1min_before": load_before,
                                    "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}}
    for alpha in ("pck@0.2", "pck@0.1"):
        summary[f"{alpha} limbs (12 joints)"] = tables["pck"][alpha]["limbs"]
        summary[f"{alpha} neck (shoulder midpoint)"] = tables["pck"][alpha]["neck"]
        summary[f"{alpha} head_top (estimated)"] = tables["pck_head_top_estimated"][alpha]["head_top"]
        summary[f"{alpha} 13 joints (head_top left out)"] = tables["pck_without_head_top"][alpha]["all"]
        summary[f"{alpha} 14 joints (head_top estimated)"] = tables["pck_head_top_estimated"][alpha]["all"]
        summary[f"{alpha} limbs, person found only"] = tables["pck_found_only"][alpha]["limbs"]
    no_person = [s.name for s, ok in zip(samples, found) if not ok]
    return {"summary": summary, **tables, "no_person_names": no_person}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--setup", action="store_true", help="create or update the MediaPipe venv")
    p.add_argument("--check", action="store_true", help="load MediaPipe Pose in the venv and run one blank image")
    p.add_argument("--data", help="dataset spec to score (PCK as in model_training.evaluate)")
    p.add_argument("--video", help="video to run in tracking mode")
    p.add_argument("--out", help="--data: .json of the PCK table; --video: .npz of keypoints and found")
    p.add_argument("--model-complexity", type=int, default=DEFAULT_COMPLEXITY)
    p.add_argument("--venv", help=f"venv folder (default: ${VENV_ENV_VAR} or {DEFAULT_VENV.name}/)")
    p.add_argument("--worker", nargs=2, metavar=("REQUEST_JSON", "RESULT_NPZ"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker(*args.worker)
        return
    if args.venv:
        os.environ[VENV_ENV_VAR] = str(Path(args.venv).resolve())
    if args.setup:
        print(f"MediaPipe venv ready: {setup_venv()}")
    if args.check or args.setup:
        versions = _call_worker({"mode": "check", "model_complexity": args.model_complexity})["versions"]
        print(f"MediaPipe Pose (model_complexity={args.model_complexity}) runs in {venv_python().parents[1]}: "
              f"{versions}")
    if args.data:
        from model_training.evaluate import format_table

        report = _evaluate(args.data, args.model_complexity)
        print(json.dumps(report["summary"], indent=2))
        print(format_table({"mediapipe": report["pck"], "mp head_top est.": report["pck_head_top_estimated"]}))
        if args.out:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(json.dumps(report, indent=2))
    if args.video:
        xy, found, rate = run_mediapipe_frames(args.video, model_complexity=args.model_complexity)
        print(f"{len(found)} frames, person found in {found.mean():.1%}, {rate:.1f} frames/s (MediaPipe alone)")
        if args.out:
            np.savez(args.out, keypoints=xy, found=found)


if __name__ == "__main__":
    main()
