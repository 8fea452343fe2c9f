"""Finding the athlete in a whole frame: a coarse-to-fine search with the pose network itself.

The network was trained on crops in which one person fills roughly half of the input, so it also works as a
detector: on a crop that holds a person its joint scores are high, elsewhere they stay low. ``locate``:

1. *Coarse*: the whole frame letterboxed to a square, plus squares of the frame's short side sliding along its long
   side with half overlap (3 squares for 16:9). Each result whose confident joints form a box is a *candidate*.
2. *Refine*: the best few distinct candidates are cropped again around their joints (side ``crop_scale`` x extent),
   upright and turned by 180 degrees, in one batch; each keeps its better orientation. Those that reach
   ``person_threshold`` are refined once more at their own scale (a real person's joints sharpen there, a vague
   pose spread over the frame does not), and the most prominent wins: mean joint score squared x sqrt(size), times
   closeness to a ``prior`` box when one is given; people farther than ``reach`` from the prior are not taken.
3. *Fine*: unless that winner is sure (mean joint score ``sure_threshold`` or more), squares of half the short side
   with half overlap (18 for 16:9) are searched as well, step 2 is repeated on everything found so far, and the
   more prominent winner of the two levels is the result. On the platform clip the whole frame alone gave a pose
   scattered over the picture (mean score 0.61) for the first 10 frames, while the athlete, 330 px tall in a
   1768 x 994 frame, scored 0.89-0.97 in a half-side square. Smaller athletes need the user's box.

``infer`` is any callable mapping [(image, Region), ...] to keypoints (N, K, 2) in each image's pixels and scores
(N, K); the estimator passes its batched network call, tests pass stubs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from gymnast_pose.inference import Region
from gymnast_pose.tracking import PoseBox, pose_box, region_around, turned

Infer = Callable[[Sequence[tuple[np.ndarray, Region]]], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class LocatorSettings:
    """Thresholds on the network's joint scores (probabilities in [0, 1]) and crop geometry; see ``locate``."""

    crop_scale: float = 1.8  # crop side / athlete extent
    joint_threshold: float = 0.15  # joints scored at least this make the athlete's box
    person_threshold: float = 0.2  # mean joint score from which a crop holds a person
    sure_threshold: float = 0.75  # a coarse winner below this mean joint score makes the fine level run too
    min_side: float = 32.0  # smallest crop side in frame pixels
    max_side: float = math.inf  # largest crop side in frame pixels
    max_candidates: int = 3  # distinct candidates refined per search level


@dataclass(frozen=True)
class Candidate:
    """One pose found in one region: keypoints (K, 2) in frame pixels, scores (K,), its box (None: too few joints)."""

    xy: np.ndarray
    scores: np.ndarray
    region: Region
    box: PoseBox | None

    @property
    def quality(self) -> float:
        """Mean joint score: the confidence that ``region`` holds a whole person."""
        return float(np.mean(self.scores))


def candidates_from(xy: np.ndarray, scores: np.ndarray, regions: Sequence[Region], joint_threshold: float):
    """Network results (N, K, 2), (N, K) for N regions -> list of ``Candidate`` (box None when too few joints)."""
    return [Candidate(xy[i], scores[i], r, pose_box(xy[i], scores[i], joint_threshold)) for i, r in enumerate(regions)]


def tiles(width: int, height: int, side: float) -> list[Region]:
    """Squares of ``side`` covering a width x height frame with about half overlap (one centred if it fits)."""

    def centres(length: int) -> np.ndarray:
        if length <= side:
            return np.array([(length - 1) / 2])
        count = math.ceil((length - side) / (side / 2)) + 1
        return np.linspace(side / 2 - 0.5, length - side / 2 - 0.5, count)

    return [Region(float(x), float(y), float(side)) for y in centres(height) for x in centres(width)]


def coarse_regions(width: int, height: int) -> list[Region]:
    """The whole frame (letterboxed) and the short-side squares along the long side."""
    short = min(width, height)
    regions = [Region.whole_image(width, height)]
    if max(width, height) > 1.2 * short:
        regions += tiles(width, height, short)
    return regions


def fine_regions(width: int, height: int) -> list[Region]:
    """Squares of half the short side with half overlap."""
    return tiles(width, height, min(width, height) / 2)


def prominence(candidate: Candidate, frame_short_side: float, prior: PoseBox | None = None) -> float:
    """How likely this is the athlete the user means: quality squared x sqrt(relative size) x closeness to
    ``prior``. Squared, so that a big but vague pose (mean score 0.6) does not outrank a sharp smaller one (0.9)."""
    if candidate.box is None:
        return 0.0
    size = min(1.0, candidate.box.extent / max(frame_short_side, 1.0))
    return candidate.quality ** 2 * math.sqrt(max(size, 1e-3)) * closeness(candidate.box, prior, frame_short_side)


def closeness(box: PoseBox | None, prior: PoseBox | None, frame_short_side: float) -> float:
    """Gaussian weight in (0, 1] of the distance between the box centres, in units of the prior's extent."""
    if prior is None or box is None:
        return 1.0
    sigma = max(prior.extent, 0.05 * frame_short_side, 1.0)
    d = math.hypot(box.cx - prior.cx, box.cy - prior.cy) / sigma
    return max(math.exp(-0.5 * d * d), 1e-4)


def within(box: PoseBox | None, prior: PoseBox | None, reach: float) -> bool:
    """Whether ``box``'s centre is at most ``reach`` pixels from ``prior``'s (always, without a prior)."""
    if prior is None or box is None or not math.isfinite(reach):
        return True
    return math.hypot(box.cx - prior.cx, box.cy - prior.cy) <= reach


def _distinct(candidates: list[Candidate], keep: int, key) -> list[Candidate]:
    """The best ``keep`` candidates by ``key`` whose boxes' centres are not within half an extent of a better one."""
    chosen: list[Candidate] = []
    for c in sorted((c for c in candidates if c.box is not None), key=key, reverse=True):
        if all(math.hypot(c.box.cx - o.box.cx, c.box.cy - o.box.cy) > 0.5 * max(c.box.extent, o.box.extent)
               for o in chosen):
            chosen.append(c)
        if len(chosen) >= keep:
            break
    return chosen


def refine(infer: Infer, image: np.ndarray, candidates: Sequence[Candidate], settings: LocatorSettings,
           both_ways: bool = True) -> list[Candidate]:
    """Crop again around each candidate's box (and turned by 180 degrees if ``both_ways``), in one batch.

    Returns one candidate per input: the better (by quality) of its refined crops, or the input itself when the
    refinement scored lower or it has no box.
    """
    jobs, owners = [], []
    for i, c in enumerate(candidates):
        if c.box is None:
            continue
        region = region_around(c.box, settings.crop_scale, settings.min_side, c.region.angle, settings.max_side)
        for r in ([region, turned(region)] if both_ways else [region]):
            jobs.append(r)
            owners.append(i)
    best = list(candidates)
    if not jobs:
        return best
    xy, scores = infer([(image, r) for r in jobs])
    for new, i in zip(candidates_from(xy, scores, jobs, settings.joint_threshold), owners):
        if new.quality > best[i].quality:
            best[i] = new
    return best


def locate(infer: Infer, image: np.ndarray, settings: LocatorSettings, prior: PoseBox | None = None,
           reach: float = math.inf) -> tuple[Candidate | None, int]:
    """Search ``image`` (H, W, 3) uint8 RGB for the athlete; see the module docstring.

    Returns (the found candidate or None, the number of crops run). ``prior`` (e.g. where the athlete was last
    seen, or the user's box) makes nearby people preferred over more prominent ones far away; with ``reach``
    (frame pixels), people whose box centre is farther than that from the prior's are not taken at all.
    """
    height, width = image.shape[:2]
    short = float(min(width, height))
    crops = 0
    pool: list[Candidate] = []
    best: Candidate | None = None
    for level in (coarse_regions(width, height), fine_regions(width, height)):
        xy, scores = infer([(image, r) for r in level])
        crops += len(level)
        pool += candidates_from(xy, scores, level, settings.joint_threshold)
        shortlist = _distinct(pool, settings.max_candidates, key=lambda c: c.quality * closeness(c.box, prior, short))
        refined = refine(infer, image, shortlist, settings)
        crops += 2 * len(shortlist)
        found = [c for c in refined if c.quality >= settings.person_threshold and c.box is not None]
        if found:
            found = refine(infer, image, found, settings, both_ways=False)  # a person sharpens at their own scale
            crops += len(found)
            found = [c for c in found if within(c.box, prior, reach)]
        if found:
            winner = max(found, key=lambda c: prominence(c, short, prior))
            if best is None or prominence(winner, short, prior) > prominence(best, short, prior):
                best = winner
            if best.quality >= settings.sure_threshold:
                break
    return best, crops
