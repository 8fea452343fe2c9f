"""A model's joint scores put on the scale the app's thresholds were set for.

The tracker, the still-image second look and the comparison read a joint's score against fixed thresholds
(``EstimatorConfig``: a joint counts towards the athlete's box from 0.15, a crop holds the athlete from a mean of
0.2, ...). Those values were set for the bundled model, whose balanced loss gives a clearly seen joint a score
around 0.5. A network trained otherwise may rank its joints just as well on another scale: plain cross-entropy's
median score was 0.067 on the validation images (model_training/REPORT.md 3d), and with the same thresholds the
tracker found the athlete on 10.8 % of the real clips' frames (3e).

So a checkpoint may carry ``inference.score_scale``: a monotone piecewise-linear map from the network's raw score
to the app's scale, ``{"raw": [r0, ..., rn], "app": [a0, ..., an]}`` with r and a increasing from 0 to 1.
``gymnast_pose.inference.PosePredictor`` applies it to every decoded score, so everything downstream (thresholds,
the score shown in the app and the CSV) keeps one meaning whatever model is loaded. A model without the entry
keeps its raw scores (the bundled model has none: its scale *is* the app's).

``matching_scale`` builds the map by quantile matching: the q-th quantile of the new model's scores on some
images goes to the q-th quantile of the reference model's scores on the same images, so a threshold passes the
same share of joints with either model (``model_training/export_model.py --match-scores-of``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

QUANTILE_LEVELS = np.linspace(0.0, 1.0, 41)  # knots every 2.5 % of the joints


@dataclass(frozen=True)
class ScoreScale:
    """raw, app: (n,) float knots, both non-decreasing, raw strictly increasing, from 0 to 1."""

    raw: tuple[float, ...]
    app: tuple[float, ...]

    def __post_init__(self):
        raw, app = np.asarray(self.raw, np.float64), np.asarray(self.app, np.float64)
        if raw.ndim != 1 or raw.shape != app.shape or len(raw) < 2:
            raise ValueError("score_scale needs two lists of the same length, at least 2 knots")
        if not (np.all(np.diff(raw) > 0) and np.all(np.diff(app) >= 0)):
            raise ValueError("score_scale knots must increase")
        if raw[0] != 0 or raw[-1] != 1 or app[0] < 0 or app[-1] > 1:
            raise ValueError("score_scale must run from raw 0 to raw 1 and stay within [0, 1]")

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        """scores (...) float in [0, 1] (NaN allowed: stays NaN) -> the same shape on the app's scale, float32."""
        scores = np.asarray(scores, np.float64)
        return np.interp(scores, self.raw, self.app).astype(np.float32)

    def to_metadata(self) -> dict:
        return {"raw": [float(v) for v in self.raw], "app": [float(v) for v in self.app]}

    @classmethod
    def from_metadata(cls, entry) -> ScoreScale | None:
        """The checkpoint's ``inference.score_scale`` (or None) -> a ScoreScale, None when absent."""
        if not entry:
            return None
        return cls(tuple(entry["raw"]), tuple(entry["app"]))


def matching_scale(scores: np.ndarray, reference_scores: np.ndarray,
                   levels: np.ndarray = QUANTILE_LEVELS) -> ScoreScale:
    """scores, reference_scores: any shape, the two models' joint scores on the same images (NaN ignored) ->
    the map that sends each quantile of ``scores`` to the same quantile of ``reference_scores``.

    The ends are pinned (0 -> 0, 1 -> 1); quantiles that tie in the raw scores keep their first knot, so the map
    stays a function."""
    own = np.asarray(scores, np.float64).ravel()
    ref = np.asarray(reference_scores, np.float64).ravel()
    own, ref = own[np.isfinite(own)], ref[np.isfinite(ref)]
    if len(own) == 0 or len(ref) == 0:
        raise ValueError("no scores to match")
    raw = np.concatenate([[0.0], np.quantile(own, levels), [1.0]])
    app = np.concatenate([[0.0], np.quantile(ref, levels), [1.0]])
    keep = np.concatenate([[True], np.diff(raw) > 1e-9])
    raw, app = raw[keep], np.maximum.accumulate(app[keep])
    if raw[-1] < 1.0:  # the top quantile fell on 1 - tiny and was kept; pin the end
        raw, app = np.append(raw, 1.0), np.append(app, 1.0)
    else:
        app[-1] = 1.0
    return ScoreScale(tuple(raw), tuple(np.clip(app, 0.0, 1.0)))
