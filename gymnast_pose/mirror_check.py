"""Does the student face the other way? Second comparisons with the mirror and the view settings turned over.

Two videos of the same skill often disagree in a way no pose distance forgives: side views of athletes facing
opposite directions, a student doing the skill on the other side, or a camera on the other side of the athlete
(the coach filmed from the front, the student from behind). Compared as they are, every frame then looks wrong and
the timelines are red from end to end, which tells a coach nothing. ``check_mirror`` compares the two sequences
again with ``CompareOptions.mirror`` inverted, and with ``CompareOptions.opposite_view`` inverted, and when one of
them matches clearly better returns a ``MirrorSuggestion`` the CLI prints and the app shows next to its *Mirror
student* and *Filmed from the other side* buttons. It never changes the comparison itself: which of the student's
arms counts as "left" stays the coach's decision.

"Clearly better" means a mean pose distance at least ``margin`` (default 20 %) lower. On the shared clips: the
squat pair of side views facing opposite ways goes from 0.69 to 0.45 torso lengths mirrored; the front camera of
the multiview movement against the two cameras behind the athlete from 1.13 and 1.28 to 0.59 and 0.59 with the
opposite view (mirrored only to 0.97 and 0.80).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from gymnast_pose.compare import CompareError, Comparison, compare_sequences

DEFAULT_MARGIN = 0.2
SETTINGS = ("mirror", "opposite_view")  # the CompareOptions switches tried the other way
APP_CONTROLS = {"mirror": "Mirror student", "opposite_view": "Filmed from the other side"}


@dataclass(frozen=True)
class MirrorSuggestion:
    """The setting that matched better: ``changed`` ("mirror" or "opposite_view") names the switch and ``mirror``,
    ``opposite_view`` give both switches as suggested; scores 0-100, distances in torso lengths."""

    mirror: bool
    score: float
    mean_distance: float
    current_score: float
    current_mean_distance: float
    opposite_view: bool = False
    changed: str = "mirror"

    @property
    def turn_on(self) -> bool:
        """Whether the suggestion is to turn the ``changed`` switch on (else off)."""
        return bool(getattr(self, self.changed))

    def message(self, control: str | None = None) -> str:
        """One sentence for the user; ``control`` names the switch (default: the app's button for it)."""
        control = control or APP_CONTROLS[self.changed]
        scores = f"(score {self.score:.0f} instead of {self.current_score:.0f})"
        if self.changed == "opposite_view":
            if self.turn_on:
                return (f"Seen from the other side, the student matches much better {scores}: the two cameras may "
                        f"stand on opposite sides of the athlete (front and back). Turn on {control}.")
            return f"Seen from the same side, the student matches much better {scores}. Turn off {control}."
        if self.turn_on:
            return (f"Mirrored, the student matches much better {scores}: they may face the other way or do the "
                    f"skill on the other side. Turn on {control}.")
        return f"Without mirroring the student matches much better {scores}. Turn off {control}."


def check_mirror(coach, student, comparison: Comparison, margin: float = DEFAULT_MARGIN) -> MirrorSuggestion | None:
    """Compare ``coach`` and ``student`` (``PoseSequence``s) again with each of ``SETTINGS`` of ``comparison``
    inverted in turn; a ``MirrorSuggestion`` for the best if its mean pose distance is more than ``margin`` (a
    fraction) lower, else None (also when no other comparison is possible)."""
    if not 0.0 <= margin < 1.0:
        raise ValueError(f"margin must lie in [0, 1), not {margin}")
    best: tuple[str, Comparison] | None = None
    for setting in SETTINGS:
        options = replace(comparison.options, **{setting: not getattr(comparison.options, setting)})
        try:
            other = compare_sequences(coach, student, options)
        except CompareError:
            continue
        if best is None or other.mean_distance < best[1].mean_distance:
            best = (setting, other)
    if best is None or not best[1].mean_distance < (1.0 - margin) * comparison.mean_distance:
        return None
    setting, other = best
    return MirrorSuggestion(mirror=other.options.mirror, score=other.score, mean_distance=other.mean_distance,
                            current_score=comparison.score, current_mean_distance=comparison.mean_distance,
                            opposite_view=other.options.opposite_view, changed=setting)
