"""Does the student face the other way? A second comparison with the mirror setting turned over.

Two side-view videos of the same skill often show the athletes facing opposite directions (the camera stood on the
other side), or the student performs the skill on the other side. Compared as they are, every frame then looks
wrong and the timelines are red from end to end, which tells a coach nothing. ``check_mirror`` compares the two
sequences once more with ``CompareOptions.mirror`` inverted and, when that matches clearly better, returns a
``MirrorSuggestion`` the CLI prints and the app shows next to its *Mirror student* button. It never changes the
comparison itself: which of the student's arms counts as "left" stays the coach's decision.

"Clearly better" means a mean pose distance at least ``margin`` (default 20 %) lower. On the squat pair of the
shared clips (side views facing opposite ways) mirroring brings the mean distance from 0.79 to 0.56 torso lengths.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from gymnast_pose.compare import CompareError, Comparison, compare_sequences

DEFAULT_MARGIN = 0.2


@dataclass(frozen=True)
class MirrorSuggestion:
    """The mirror setting that matched better, with both results (scores 0-100, distances in torso lengths)."""

    mirror: bool
    score: float
    mean_distance: float
    current_score: float
    current_mean_distance: float

    def message(self, control: str = "Mirror student") -> str:
        """One sentence for the user; ``control`` names the switch (a GUI button or the ``--mirror`` flag)."""
        if self.mirror:
            return (f"Mirrored, the student matches much better (score {self.score:.0f} instead of "
                    f"{self.current_score:.0f}): they may face the other way or do the skill on the other side. "
                    f"Turn on {control}.")
        return (f"Without mirroring the student matches much better (score {self.score:.0f} instead of "
                f"{self.current_score:.0f}). Turn off {control}.")


def check_mirror(coach, student, comparison: Comparison, margin: float = DEFAULT_MARGIN) -> MirrorSuggestion | None:
    """Compare ``coach`` and ``student`` (``PoseSequence``s) again with the mirror setting of ``comparison``
    inverted; a ``MirrorSuggestion`` if the mean pose distance drops by more than ``margin`` (a fraction), else None
    (also when the mirrored comparison is not possible)."""
    if not 0.0 <= margin < 1.0:
        raise ValueError(f"margin must lie in [0, 1), not {margin}")
    options = replace(comparison.options, mirror=not comparison.options.mirror)
    try:
        other = compare_sequences(coach, student, options)
    except CompareError:
        return None
    if not other.mean_distance < (1.0 - margin) * comparison.mean_distance:
        return None
    return MirrorSuggestion(mirror=options.mirror, score=other.score, mean_distance=other.mean_distance,
                            current_score=comparison.score, current_mean_distance=comparison.mean_distance)
