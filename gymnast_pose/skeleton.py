"""The one definition of the body keypoints used everywhere in gymnast_pose.

Keypoints follow the Leeds Sports Pose (LSP-14) order. Left and right are the
*person's own* left and right, not the viewer's.

    index  name          index  name
    0      r_ankle       7      r_elbow
    1      r_knee        8      r_shoulder
    2      r_hip         9      l_shoulder
    3      l_hip         10     l_elbow
    4      l_knee        11     l_wrist
    5      l_ankle       12     neck
    6      r_wrist       13     head_top

Everything else imports ``K`` (the number of keypoints) from here.
"""

from __future__ import annotations

JOINT_NAMES: tuple[str, ...] = (
    "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle",
    "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist",
    "neck", "head_top",
)
K: int = len(JOINT_NAMES)
JOINT_INDEX: dict[str, int] = {name: i for i, name in enumerate(JOINT_NAMES)}

# Stick-figure edges (pairs of joint indices) drawn as the skeleton's bones.
EDGES: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2),            # right leg
    (5, 4), (4, 3),            # left leg
    (2, 3),                    # pelvis
    (6, 7), (7, 8),            # right arm
    (11, 10), (10, 9),         # left arm
    (8, 9),                    # shoulders
    (8, 2), (9, 3),            # flanks
    (12, 13),                  # head
    (8, 12), (9, 12),          # neck to shoulders
)

# (right, left) pairs swapped by a horizontal flip or a mirror comparison.
LEFT_RIGHT_PAIRS: tuple[tuple[int, int], ...] = ((0, 5), (1, 4), (2, 3), (6, 11), (7, 10), (8, 9))


def flip_permutation() -> list[int]:
    """Index permutation that swaps every left joint with its right twin (neck, head stay)."""
    perm = list(range(K))
    for right, left in LEFT_RIGHT_PAIRS:
        perm[right], perm[left] = left, right
    return perm


FLIP_PERMUTATION: tuple[int, ...] = tuple(flip_permutation())

# Which side a joint belongs to, for colouring: "right", "left" or "centre".
JOINT_SIDE: tuple[str, ...] = tuple(
    "right" if n.startswith("r_") else "left" if n.startswith("l_") else "centre" for n in JOINT_NAMES
)

# Joint angles as (name, a, vertex, b): the angle at ``vertex`` between the bones to ``a`` and ``b``.
# Conventions (zero, sign) are documented in gymnast_pose.compare.
ANGLE_TRIPLETS: tuple[tuple[str, int, int, int], ...] = (
    ("r_elbow", 8, 7, 6),
    ("l_elbow", 9, 10, 11),
    ("r_shoulder", 2, 8, 7),
    ("l_shoulder", 3, 9, 10),
    ("r_hip", 8, 2, 1),
    ("l_hip", 9, 3, 4),
    ("r_knee", 2, 1, 0),
    ("l_knee", 3, 4, 5),
)

# Torso length used for normalisation and PCK: LSP convention, l_shoulder to r_hip.
PCK_TORSO_PAIR: tuple[int, int] = (JOINT_INDEX["l_shoulder"], JOINT_INDEX["r_hip"])
