"""Analyse a whole video: the athlete's pose in every frame, cleaned up and cached.

``iter_analyze_video(path, options)`` is the one long job behind ``gymnast-pose analyze``, ``compare`` and the app:
a generator that yields ``AnalysisProgress`` after every frame and returns a ``PoseSequence`` (T, K, 3) in the
video's own upright pixels. Steps:

1. open the video (``VideoSource``: decoded frame count, fps, fingerprint);
2. look in the pose cache (key: video fingerprint, model hash, every setting that changes the result, and the
   arithmetic the network runs in here, which precision auto picks per CPU); a hit
   returns at once with a single progress item (``cached=True``);
3. otherwise track the athlete (``PoseEstimator.iter_track``), fill short dropouts and smooth (a short running
   median, then a zero-phase One-Euro filter: ``PoseSequence.with_gaps_filled().smoothed()``), store the result in
   the cache atomically.

Closing the generator (what the GUI worker does on Cancel) or a ``cancel`` event stops the work; nothing is cached
then. Errors are the core's own one-sentence exceptions: ``VideoError`` for a bad video, ``ModelFileError`` for a
bad model file, ``AnalysisCancelled``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from gymnast_pose.estimator import ESTIMATOR_VERSION, EstimatorConfig, PoseEstimator
from gymnast_pose.jobs import run_to_end
from gymnast_pose.model import bundled_model_path
from gymnast_pose.pose_cache import load_cached, settings_key, store_cached
from gymnast_pose.sequence import PoseSequence
from gymnast_pose.smoothing import DEFAULT_BETA, DEFAULT_D_CUTOFF, DEFAULT_MEDIAN_S, DEFAULT_MIN_CUTOFF
from gymnast_pose.track_types import AnalysisCancelled, Cancel, SeedBox, is_cancelled
from gymnast_pose.video import VideoSource

__all__ = ["AnalysisCancelled", "AnalysisOptions", "AnalysisProgress", "analyze_video", "iter_analyze_video",
           "load_estimator"]


@dataclass(frozen=True)
class AnalysisOptions:
    """Settings of one analysis.

    ``box``: (x, y, w, h) in upright frame pixels around the athlete on frame ``box_frame`` (None: the most
    prominent person). ``min_cutoff`` / ``beta`` / ``d_cutoff`` / ``median_s``: smoothing
    (``smoothing.smooth_track``: a running median of ``median_s`` seconds, then a zero-phase One-Euro filter whose
    cutoff is ``min_cutoff`` Hz when still plus ``beta`` Hz per torso length per second of speed, that speed
    low-passed at ``d_cutoff`` Hz); ``smooth=False`` keeps the raw per-frame network output (gaps are still filled).
    ``flip``: run every crop also mirrored and average the two probability maps (about twice the network's work).
    ``precision``: the network's arithmetic (``inference.select_dtype``; auto = bfloat16 on CPUs that have it).
    """

    box: tuple[float, float, float, float] | None = None
    box_frame: int = 0
    device: str = "auto"
    model_path: str | None = None
    input_size: int | None = None
    flip: bool = False
    precision: str = "auto"
    smooth: bool = True
    min_cutoff: float = DEFAULT_MIN_CUTOFF
    beta: float = DEFAULT_BETA
    d_cutoff: float = DEFAULT_D_CUTOFF
    median_s: float = DEFAULT_MEDIAN_S
    use_cache: bool = True
    estimator: EstimatorConfig = field(default_factory=EstimatorConfig)

    def seed(self) -> SeedBox | None:
        return None if self.box is None else SeedBox(*(float(v) for v in self.box), frame=int(self.box_frame))

    def cache_settings(self) -> dict:
        """Everything that changes the result, for the cache key (the device does not)."""
        return {"estimator_version": ESTIMATOR_VERSION, "estimator": asdict(self.estimator),
                "box": None if self.box is None else [round(float(v), 1) for v in self.box],
                "box_frame": self.box_frame if self.box is not None else None, "input_size": self.input_size,
                "flip": self.flip, "precision": self.precision,
                "smooth": self.smooth, "smoother": "median+zero_phase_one_euro", "min_cutoff": self.min_cutoff,
                "beta": self.beta, "d_cutoff": self.d_cutoff, "median_s": self.median_s}


@dataclass(frozen=True)
class AnalysisProgress:
    """One step of an analysis: ``done`` of ``total`` frames (``fraction`` 0..1); ``cached`` for a cache hit."""

    done: int
    total: int
    stage: str = "analysing"
    cached: bool = False

    @property
    def fraction(self) -> float:
        return 1.0 if self.total <= 0 else min(1.0, self.done / self.total)


@lru_cache(maxsize=4)
def _cached_estimator(model_path: str, device: str, input_size: int | None, flip: bool,
                      config: EstimatorConfig, precision: str) -> PoseEstimator:
    return PoseEstimator.from_model(model_path, device=device, input_size=input_size, flip=flip, config=config,
                                    precision=precision)


def load_estimator(options: AnalysisOptions) -> PoseEstimator:
    """The estimator for ``options`` (loaded once per model, device and settings in this process)."""
    path = str(Path(options.model_path) if options.model_path else bundled_model_path())
    return _cached_estimator(path, options.device, options.input_size, options.flip, options.estimator,
                             options.precision)


def iter_analyze_video(path, options: AnalysisOptions | None = None, cancel: Cancel = None,
                       estimator: PoseEstimator | None = None
                       ) -> Generator[AnalysisProgress, None, PoseSequence]:
    """Analyse the video at ``path``; see the module docstring. ``estimator`` overrides the options' model."""
    options = options or AnalysisOptions()
    path = Path(path)
    with VideoSource(path) as video:
        fingerprint, fps, total = video.fingerprint, float(video.fps), video.num_frames
        estimator = estimator or load_estimator(options)
        # auto resolves to different arithmetic on different CPUs, whose outputs differ slightly: key on the result
        arithmetic = getattr(estimator.predictor, "arithmetic", options.precision)
        codec = getattr(getattr(estimator.predictor, "codec", None), "params", dict)()  # how maps become joints
        key = settings_key({**options.cache_settings(), "arithmetic": arithmetic, "codec": codec})
        if options.use_cache:
            hit = load_cached(fingerprint, estimator.model_hash, key)
            if hit is not None:
                yield AnalysisProgress(total, total, "loaded from cache", cached=True)
                return replace(hit, source=str(path))  # the same video may have moved since
        track = estimator.iter_track(video, options.seed(), cancel)
        while True:
            try:
                step = next(track)
            except StopIteration as stop:
                result = stop.value
                break
            yield AnalysisProgress(step.done, total)
        poses = PoseSequence(result.keypoints, fps, source=str(path), fingerprint=fingerprint,
                             frame_size=video.size, model_hash=estimator.model_hash).with_gaps_filled()
        if options.smooth:
            poses = poses.smoothed(options.min_cutoff, options.beta, options.d_cutoff, options.median_s)
    if is_cancelled(cancel):
        raise AnalysisCancelled("The analysis was cancelled")
    if options.use_cache:
        try:
            store_cached(poses, key)
        except OSError:  # a read-only cache folder costs the next run time, never this run's result
            pass
    return poses


def analyze_video(path, device: str = "auto", use_cache: bool = True,
                  progress: Callable[[int, int], object] | None = None, options: AnalysisOptions | None = None,
                  cancel: threading.Event | None = None, estimator: PoseEstimator | None = None) -> PoseSequence:
    """``iter_analyze_video`` run to the end; ``progress(done, total)`` is called after every frame."""
    base = options or AnalysisOptions()
    options = replace(base, device=device if options is None else base.device, use_cache=use_cache and base.use_cache)
    return run_to_end(iter_analyze_video(path, options, cancel, estimator), progress)
