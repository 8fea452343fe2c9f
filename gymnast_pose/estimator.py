"""``PoseEstimator``: the athlete's keypoints in every frame of a video, from the pose network.

Pipeline per frame (details and thresholds in ``EstimatorConfig``; geometry in ``gymnast_pose.tracking``, the
whole-frame search in ``gymnast_pose.person_locator``):

* **Track**: crop the square that followed the athlete so far (a smoothed box around the previous frame's
  confident joints, side ``crop_scale`` x their extent) and run the network on it. Frames are cropped and run in
  batches of ``batch_frames`` (all with the crop known at the start of the batch; 4 on CPU and MPS, 8 on CUDA:
  on the 2-core CPU, 4 frames per batch ran the 720p squat clip at 88.8 frames/s against 66.5 one by one, with the
  same mean joint score on the real clips). The crop moves only when its target (the box of this frame's joints)
  has moved or resized by more than ``hold_fraction`` of its side: a still athlete is seen through the same
  pixels, and the skeleton no longer shakes with a crop that wanders by a few pixels (on the 2-core AVX2 machine,
  smoothed still-second jitter of the grass handstand in float32 2.7 % -> 1.4 % of the torso, int8 on
  squat_side_a 2.9 % -> 1.4 %; ``benchmarks/README.md``).
* **Second look** (batched too): when the athlete sits badly in the crop (off-centre, or much bigger or smaller
  than intended) the frame is cropped again around its own joints; when the result is unsure (mean joint score below
  ``unsure_threshold``), the crop is also tried turned by 180 degrees. The most confident result wins and also
  decides which way up the next frame is cropped.
* **Same person?** A pose whose joints moved (median over the joints seen in both) farther than the athlete can
  move since they were last seen -- ``max_jump`` torso lengths per frame, or ``max_speed`` per second, whichever
  allows more (1.5 torso lengths a frame at 30 fps; ``TrackState.step``) -- has jumped to somebody else, e.g. a
  passer-by who entered the crop; a pose with two or more joints that moved that far is mixed from two people.
  Either way the crop is looked at again with those joints hidden (``identity.athlete_in``); if that does not give
  back the athlete, the frame counts as a miss and the track stays where it was. Joints still astray are dropped.
* **Re-locate**: after ``relocate_after`` consecutive misses the track is dropped and the whole frame is searched
  (``person_locator.locate``) for a person within reach of where the athlete was last seen (the reach grows with
  every frame), preferring the nearest; while nobody is found, the search is repeated every ``search_interval``
  frames and the frames in between are reported missing.
* **Which person**: by default the most prominent one found by the search (confidence x size); a ``SeedBox`` drawn
  by the user on one frame starts the track there instead, and the video is tracked forward from that frame to the
  end and backward from it to the start.

Frames are decoded on a worker thread (``read_ahead``) while the network runs: 15 % more frames/s on the 2-core
CPU (720p squat clip, 600 frames, three alternating runs each: 88-106 against 78-92 frames/s), same results.

Outputs are in the frame's own pixels: keypoints (T, K, 3) float32 as x, y, score; a joint scored below
``joint_floor`` and every joint of a frame without a person is x = y = NaN, score 0 (the ``PoseSequence``
convention). Progress is yielded after every frame; ``cancel`` (a ``threading.Event`` or a callable returning
True) stops the work with ``AnalysisCancelled``.

Device: ``inference.select_device`` picks CUDA, then MPS, then the CPU; on CUDA the network runs in half precision
and each batch of crops is copied from page-locked memory asynchronously; on a CPU with fast bfloat16 (AVX512-BF16
or AMX) it runs in bfloat16 (``inference.select_dtype``), on other x86 CPUs in int8 when the model file carries a
calibration (``inference.uses_int8``), else in float32.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from gymnast_pose.identity import Box, athlete_in, hide_in_crop, is_background
from gymnast_pose.inference import PosePredictor, Region, crop_regions, crop_to_image
from gymnast_pose.person_locator import Candidate, LocatorSettings, candidates_from, locate, refine
from gymnast_pose.read_ahead import read_ahead
from gymnast_pose.skeleton import K
from gymnast_pose.track_types import (
    AnalysisCancelled,
    Cancel,
    FramePose,
    FrameReader,
    SeedBox,
    TrackProgress,
    TrackResult,
    is_cancelled,
)
from gymnast_pose.tracking import (
    PoseBox,
    TrackState,
    is_blank,
    is_upside_down,
    is_well_framed,
    region_around,
    turned,
    upright_angle,
)

ESTIMATOR_VERSION = 10  # bump whenever the tracking logic changes results: it is part of the pose cache key

@dataclass(frozen=True)
class EstimatorConfig:
    """Tracking settings. Scores are the network's per-joint probabilities in [0, 1]; sizes are in frame pixels."""

    crop_scale: float = 1.8  # crop side / extent of the athlete's confident joints
    joint_threshold: float = 0.15  # joints scored at least this make the athlete's box
    person_threshold: float = 0.2  # mean joint score from which a crop holds the athlete
    unsure_threshold: float = 0.35  # below this mean joint score, also try the crop turned by 180 degrees
    joint_floor: float = 0.05  # joints scored below this are reported missing
    relocate_after: int = 2  # consecutive frames below person_threshold before searching the whole frame
    search_interval: int = 8  # while nobody is found, search the whole frame every this many frames
    batch_frames: int = 0  # frames per network batch while tracking; 0: 8 on CUDA, 4 on MPS and CPU
    min_side_fraction: float = 0.05  # smallest crop side, as a fraction of the frame's short side
    centre_alpha: float = 0.7  # smoothing of the crop centre (1: follow the last frame exactly)
    grow_alpha: float = 0.6  # how fast the crop grows ...
    shrink_alpha: float = 0.2  # ... and shrinks towards the last frame's size
    hold_fraction: float = 0.07  # the crop stays put while its target moves less than this x its side (steadier)
    max_jump: float = 0.5  # a pose whose joints moved (median) more than this many torso lengths per frame ...
    max_speed: float = 45.0  # ... or this many per second / fps, whichever allows more, is somebody else
    # each joint at its single most probable cell: the 3 x 3 blocks the still-image path decodes with
    # (codec.PixelClassCodec) made the skeleton less steady on the real clips (benchmarks/README.md)
    support_window: int = 1
    # a crop turned upside down (an inverted athlete, whom the network saw less in training) is also run mirrored
    # and the two maps averaged: steadier and closer to MediaPipe on the handstands (benchmarks/README.md)
    mirror_turned: bool = True

    def locator(self, width: int, height: int) -> LocatorSettings:
        return LocatorSettings(self.crop_scale, self.joint_threshold, self.person_threshold,
                               min_side=max(16.0, self.min_side_fraction * min(width, height)),
                               max_side=1.5 * max(width, height))


class PoseEstimator:
    """Keypoints of one athlete per frame; see the module docstring. ``predictor`` is a ``PosePredictor`` (or
    anything with ``input_size``, ``device`` and
    ``predict_crops(crops (N, S, S, 3) uint8, window=...) -> (xy, scores)``)."""

    def __init__(self, predictor: PosePredictor, config: EstimatorConfig | None = None):
        self.predictor = predictor
        self.config = config or EstimatorConfig()
        self.crops_run = 0
        device = torch.device(getattr(predictor, "device", "cpu"))
        auto = {"cuda": 8}.get(device.type, 4)
        self.batch_frames = max(1, self.config.batch_frames or auto)

    @classmethod
    def from_model(cls, model_path=None, device: str = "auto", input_size: int | None = None, flip: bool = False,
                   config: EstimatorConfig | None = None, precision: str = "auto") -> PoseEstimator:
        """Load a checkpoint (default: the bundled model) onto ``device`` (auto: CUDA, MPS, CPU) with
        ``precision`` (see ``inference.select_dtype``). A refinement stage runs only where the checkpoint's
        ``inference.video_refinement`` asks for it (``export_model --video-refinement``; see the model card)."""
        return cls(PosePredictor(model_path, device=device, input_size=input_size, flip=flip, precision=precision,
                                 refinement=None),
                   config)

    @property
    def model_hash(self) -> str:
        return str(getattr(self.predictor, "model_hash", ""))

    # ---- the network --------------------------------------------------------------------------------------------
    def infer(self, jobs: Sequence[tuple[np.ndarray, Region]],
              hidden: Sequence[list[Box]] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """[(image (H, W, 3) uint8 RGB, region), ...] -> keypoints (N, K, 2) in each image's pixels, scores (N, K).
        ``hidden``: per job, boxes (x0, y0, x1, y1) in image pixels to hide from the network (``hide_in_crop``)."""
        if not jobs:
            return np.zeros((0, K, 2), np.float32), np.zeros((0, K), np.float32)
        size = int(self.predictor.input_size)
        crops = np.empty((len(jobs), size, size, 3), np.uint8)
        mats = np.empty((len(jobs), 2, 3), np.float64)
        for i, (image, region) in enumerate(jobs):
            crop, mat = crop_regions(image, [region], size)
            crops[i], mats[i] = crop[0], mat[0]
            if hidden is not None and hidden[i]:
                crops[i] = hide_in_crop(crops[i], mats[i], hidden[i])
        xy = np.zeros((len(jobs), K, 2), np.float64)
        scores = np.zeros((len(jobs), K), np.float32)
        mirror = np.array([self.config.mirror_turned and is_upside_down(region) for _, region in jobs], bool)
        for members, flip in ((~mirror, None), (mirror, True)):  # None: the predictor's own setting
            index = np.flatnonzero(members)
            if len(index):
                part_xy, part_scores = self.predictor.predict_crops(crops[index], window=self.config.support_window,
                                                                    flip=flip)
                xy[index], scores[index] = part_xy, part_scores
        self.crops_run += len(jobs)
        return crop_to_image(xy, mats).astype(np.float32), scores

    # ---- single frames ------------------------------------------------------------------------------------------
    def locate(self, image: np.ndarray, box: SeedBox | PoseBox | None = None) -> FramePose:
        """The athlete in one image (H, W, 3) uint8 RGB: searched over the whole image, or around ``box``."""
        state = TrackState()
        if box is not None:
            return self._seed(image, box.box() if isinstance(box, SeedBox) else box, state, 0)
        return self._search(image, state, 0, force=True)

    def _settings(self, image: np.ndarray) -> LocatorSettings:
        return self.config.locator(image.shape[1], image.shape[0])

    def _pose(self, c: Candidate | None, found: bool) -> FramePose:
        keypoints = np.full((K, 3), np.nan, np.float32)
        keypoints[:, 2] = 0.0
        if c is None:
            return FramePose(keypoints, None, False)
        keep = np.isfinite(c.xy).all(axis=1) & (c.scores >= self.config.joint_floor)
        keypoints[keep, :2] = c.xy[keep]
        keypoints[keep, 2] = c.scores[keep]
        return FramePose(keypoints, c.region, found)

    def _follow(self, c: Candidate, state: TrackState, settings: LocatorSettings, index: int,
                astray: np.ndarray | None = None) -> None:
        """Move the track to candidate ``c`` (a confident pose with a box) found on frame ``index``; ``astray``:
        its joints dropped as lying on somebody else (``identity.athlete_in``)."""
        cfg = self.config
        state.remember(c.xy, c.scores, cfg.joint_threshold, index, astray)
        angle = upright_angle(c.xy, c.scores, c.region.angle, cfg.joint_threshold)
        target = region_around(c.box, cfg.crop_scale, settings.min_side, angle, settings.max_side)
        if state.active:
            state.update(target, c.box, cfg.centre_alpha, cfg.grow_alpha, cfg.shrink_alpha, cfg.hold_fraction)
        else:
            state.start(target, c.box)

    def _search(self, image: np.ndarray, state: TrackState, index: int, force: bool = False) -> FramePose:
        """Whole-frame search (at most every ``search_interval`` frames unless ``force``) for a person within reach
        of where the athlete was last seen; starts a track."""
        state.active = False
        if not force and state.since_search < self.config.search_interval:
            state.since_search += 1
            return self._pose(None, False)
        state.since_search = 1
        settings = self._settings(image)
        reach = state.reach(index, self.config.max_jump, self.config.max_speed)
        found, _ = locate(self.infer, image, settings, prior=state.last_box, reach=reach)
        if found is None or is_background(found, state, self.config.joint_threshold, any_size=True):
            return self._pose(None, False)
        self._follow(found, state, settings, index)
        return self._pose(found, True)

    def _seed(self, image: np.ndarray, box: PoseBox, state: TrackState, index: int) -> FramePose:
        """Start the track at the user's box: crop around it both ways up, then once more around the result."""
        settings = self._settings(image)
        region = region_around(box, self.config.crop_scale, settings.min_side, 0.0, settings.max_side)
        start = Candidate(np.full((K, 2), np.nan, np.float32), np.zeros(K, np.float32), region, box)
        best = refine(self.infer, image, [start], settings)[0]
        if best.box is not None:
            best = refine(self.infer, image, [best], settings, both_ways=False)[0]
        state.last_box, state.last_index = box, index
        state.last_scale = state.last_scale or box.extent / 3.0
        if best.box is not None and best.quality >= settings.person_threshold:
            self._follow(best, state, settings, index)
            return self._pose(best, True)
        state.start(region, box)  # the user says the athlete is here: keep looking there
        return self._pose(best if best.box is not None else None, False)

    # ---- videos -------------------------------------------------------------------------------------------------
    def _track_batch(self, batch: list, state: TrackState) -> list[tuple[int, FramePose]]:
        """Frames (objects with ``index`` and ``image``) cropped at the current track, with a batched second look."""
        cfg, region = self.config, state.region()
        settings = self._settings(batch[0].image)
        xy, scores = self.infer([(f.image, region) for f in batch])
        best = candidates_from(xy, scores, [region] * len(batch), cfg.joint_threshold)
        jobs, owners = [], []
        for j, c in enumerate(best):
            framed, unsure = is_well_framed(region, c.box, cfg.crop_scale), c.quality < cfg.unsure_threshold
            if framed and not unsure:
                continue
            base = region if framed or c.box is None else \
                region_around(c.box, cfg.crop_scale, settings.min_side, region.angle, settings.max_side)
            for r in ([base] if base is not region else []) + ([turned(base)] if unsure else []):
                jobs.append((batch[j].image, r))
                owners.append(j)
        if jobs:
            xy, scores = self.infer(jobs)
            for new, j in zip(candidates_from(xy, scores, [r for _, r in jobs], cfg.joint_threshold), owners):
                if new.quality > best[j].quality:
                    best[j] = new
        out = []
        for j, (frame, c) in enumerate(zip(batch, best)):
            if c.quality >= cfg.person_threshold and c.box is not None:
                athlete, astray = athlete_in(c, frame.image, state, frame.index,
                                             state.step(cfg.max_jump, cfg.max_speed), self.infer,
                                             cfg.joint_threshold, cfg.person_threshold)
                if athlete is not None:
                    self._follow(athlete, state, settings, frame.index, astray)
                    out.append((frame.index, self._pose(athlete, True)))
                    continue
                c = replace(c, scores=np.zeros_like(c.scores))  # somebody else: this frame has no athlete
            state.misses += 1
            if state.misses < cfg.relocate_after:
                out.append((frame.index, self._pose(c, False)))
                continue
            out.append((frame.index, self._search(frame.image, state, frame.index, force=True)))
            out += self._run(batch[j + 1:], state)  # the rest of the batch was cropped at the lost track
            break
        return out

    def _run(self, frames: Iterable, state: TrackState) -> Iterator[tuple[int, FramePose]]:
        """Frames in the order given -> (index, FramePose), tracking across them. A blank frame (``is_blank``: a
        fade to black, a title card's background) holds no person and leaves the track as it was."""
        batch: list = []
        for frame in frames:
            if is_blank(frame.image):
                if batch:
                    yield from self._track_batch(batch, state)
                    batch = []
                yield frame.index, self._pose(None, False)
            elif state.active:
                batch.append(frame)
                if len(batch) >= self.batch_frames:
                    yield from self._track_batch(batch, state)
                    batch = []
            else:
                yield frame.index, self._search(frame.image, state, frame.index)
        if batch:
            yield from self._track_batch(batch, state)

    @staticmethod
    def _backwards(reader: FrameReader, stop: int, chunk_bytes: float = 64e6) -> Iterator[Any]:
        """Frames ``stop - 1`` down to 0, decoded forwards in chunks of at most ``chunk_bytes`` of pixels."""
        chunk = 1
        while stop > 0:
            frames = list(reader.frames(max(0, stop - chunk), stop))
            if not frames:
                return
            chunk = max(1, min(256, int(chunk_bytes // max(frames[0].image.nbytes, 1))))
            yield from reversed(frames)
            stop = frames[0].index

    def iter_track(self, reader: FrameReader, seed: SeedBox | None = None,
                   cancel: Cancel = None) -> Generator[TrackProgress, None, TrackResult]:
        """Track the athlete through every frame of ``reader``; yields ``TrackProgress`` after each frame and
        returns a ``TrackResult``. With ``seed``, tracking starts from the user's box on ``seed.frame``."""
        total = int(reader.num_frames)
        keypoints = np.full((total, K, 3), np.nan, np.float32)
        keypoints[..., 2] = 0.0
        regions = np.full((total, 4), np.nan, np.float32)
        found = np.zeros(total, bool)
        crops_before = self.crops_run
        if seed is not None and not 0 <= seed.frame < total:
            raise ValueError(f"The box is on frame {seed.frame}, but the video has frames 0 to {total - 1}")

        def passes() -> Iterator[tuple[int, FramePose]]:
            fps = float(getattr(reader, "fps", 30.0) or 30.0)
            state = TrackState(since_search=self.config.search_interval, fps=fps)
            if seed is None:
                yield from self._run(read_ahead(reader.frames(0, None)), state)
                return
            first = next(iter(reader.frames(seed.frame, seed.frame + 1)), None)
            if first is None:
                raise ValueError(f"Frame {seed.frame} of the box could not be read")
            yield seed.frame, self._seed(first.image, seed.box(), state, seed.frame)
            backward = state.copy()
            yield from self._run(read_ahead(reader.frames(seed.frame + 1, None)), state)
            yield from self._run(read_ahead(self._backwards(reader, seed.frame)), backward)

        done = 0
        for index, pose in passes():
            if is_cancelled(cancel):
                raise AnalysisCancelled("The analysis was cancelled")
            if 0 <= index < total:
                keypoints[index], found[index] = pose.keypoints, pose.found
                if pose.region is not None:
                    r = pose.region
                    regions[index] = (r.cx, r.cy, r.side, r.angle)
            done += 1
            yield TrackProgress(index, done, total)
        return TrackResult(keypoints, regions, found, self.crops_run - crops_before)

    def track(self, reader: FrameReader, seed: SeedBox | None = None, cancel: Cancel = None) -> TrackResult:
        """``iter_track`` run to the end."""
        gen = self.iter_track(reader, seed, cancel)
        while True:
            try:
                next(gen)
            except StopIteration as stop:
                return stop.value
