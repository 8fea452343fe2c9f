"""Bone-length prior for decoding: a limb joint must lie within reach of the joint it hangs from.

The network scores every map cell on its own, so a keypoint's best cell can be far from the body: a wrist found on
a tree trunk, an ankle on the far side of the frame (seen on inverted athletes, whose limbs LSPET shows rarely).
A 2-D projection can only shorten a bone, so a limb joint farther from its parent than the bone could ever reach is
certainly wrong; the decoder then takes the most probable cell *within* reach instead, and reports that cell's own
probability as the score (low where the network saw nothing there, so the joint is marked unsure downstream).

Reach is measured in body units ``U`` per crop: the larger of the torso length (mid-shoulder to mid-hip) and
1.2 x the shoulder width (a torso seen end-on is short but its shoulders are not), at least ``min_unit`` of the
map side. Adult proportions (upper arm about 0.65 U, forearm 0.55 U, thigh and shank about 0.85 U each, neck to
crown about 0.5 U) get a generous margin (``BONES``), so the prior acts only on gross errors. Joints are checked
from the trunk outwards (elbows, knees and neck first, then wrists, ankles and the head top against the
corrected parents). The trunk joints themselves are never moved, and a crop whose shoulders or hips are scored
below ``min_trunk_score`` is left as decoded.

Arrays: ``maps`` (B, C >= K, H, W) torch (probabilities or heatmaps, channel k = keypoint k); ``uv`` (B, K, 2)
float32 map coordinates (u = column, v = row) and ``peak`` (B, K), both from ``codec._refine_peaks``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from gymnast_pose.skeleton import JOINT_INDEX as J
from gymnast_pose.skeleton import K

MID_SHOULDER = -1  # parent code of the neck: the midpoint of the shoulders

# (child, parent, the farthest the child may lie from the parent in body units), parents before children.
BONES: tuple[tuple[int, int, float], ...] = (
    (J["r_elbow"], J["r_shoulder"], 1.2), (J["l_elbow"], J["l_shoulder"], 1.2),
    (J["r_knee"], J["r_hip"], 1.6), (J["l_knee"], J["l_hip"], 1.6),
    (J["neck"], MID_SHOULDER, 0.8),
    (J["r_wrist"], J["r_elbow"], 1.2), (J["l_wrist"], J["l_elbow"], 1.2),
    (J["r_ankle"], J["r_knee"], 1.6), (J["l_ankle"], J["l_knee"], 1.6),
    (J["head_top"], J["neck"], 1.2),
)  # fmt: skip

_TRUNK = (J["r_shoulder"], J["l_shoulder"], J["r_hip"], J["l_hip"])

# The bones in two levels: those hanging from the trunk, then those hanging from the first level's joints.
LEVELS: tuple[tuple[tuple[int, int, float], ...], ...] = (
    tuple(bone for bone in BONES if bone[1] in (*_TRUNK, MID_SHOULDER)),
    tuple(bone for bone in BONES if bone[1] not in (*_TRUNK, MID_SHOULDER)),
)

Refine = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def body_unit(uv: torch.Tensor, peak: torch.Tensor, min_unit: float, min_trunk_score: float):
    """Per crop (B,) body unit in map cells and (B,) bool whether the trunk is trusted enough to apply the prior."""
    rs, ls, rh, lh = (uv[:, j] for j in _TRUNK)
    torso = torch.linalg.vector_norm(0.5 * (rs + ls) - 0.5 * (rh + lh), dim=-1)
    shoulders = torch.linalg.vector_norm(rs - ls, dim=-1)
    unit = torch.maximum(torch.maximum(torso, 1.2 * shoulders), torch.full_like(torso, min_unit))
    trusted = (peak[:, list(_TRUNK)] >= min_trunk_score).all(dim=1)
    return unit, trusted


@torch.no_grad()
def apply_bone_prior(
    maps: torch.Tensor, uv: torch.Tensor, peak: torch.Tensor, refine: Refine,
    min_unit_fraction: float = 0.05, min_trunk_score: float = 0.1,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    """Move limb joints that lie beyond reach of their parent to the best cell within reach (module docstring).

    ``refine(masked_maps (B, 1, H, W), weights)`` -> (uv (B, 1, 2), peak (B, 1)): the codec's arg-max and sub-cell
    refinement. Returns the corrected ``uv`` and ``peak`` (new tensors) and (B, K) bool: which joints were moved.
    """
    b, _, h, w = maps.shape
    uv, peak = uv.clone().float(), peak.clone().float()
    moved = torch.zeros(b, K, dtype=torch.bool, device=uv.device)
    if b == 0:
        return uv, peak, moved
    unit, trusted = body_unit(uv, peak, min_unit_fraction * max(h, w), min_trunk_score)
    rows = torch.arange(h, device=uv.device, dtype=torch.float32)[:, None]
    cols = torch.arange(w, device=uv.device, dtype=torch.float32)[None, :]
    mid_shoulder = 0.5 * (uv[:, J["r_shoulder"]] + uv[:, J["l_shoulder"]])  # the trunk is never moved
    for level in LEVELS:  # the bones of one level are checked together; a level's parents are final by then
        children = torch.tensor([c for c, _, _ in level], device=uv.device)
        anchors = torch.stack([mid_shoulder if p == MID_SHOULDER else uv[:, p] for _, p, _ in level], dim=1)
        limits = torch.tensor([r for _, _, r in level], device=uv.device)[None, :] * unit[:, None]  # (B, L)
        offsets = uv[:, children] - anchors  # (B, L, 2)
        distances = torch.linalg.vector_norm(offsets, dim=-1)
        beyond = trusted[:, None] & (distances > limits)
        if not bool(beyond.any()):
            continue
        crop, bone = beyond.nonzero(as_tuple=True)
        child, anchor, limit = children[bone], anchors[crop, bone], limits[crop, bone]
        du = cols[None] - anchor[:, 0, None, None]
        dv = rows[None] - anchor[:, 1, None, None]
        within = (du * du + dv * dv) <= (limit**2)[:, None, None]  # (S, H, W)
        masked = maps[crop, child].float() * within
        new_uv, new_peak = refine(masked[:, None], masked[:, None])
        new_uv, new_peak = new_uv[:, 0], new_peak[:, 0]
        # Nothing scored within reach: the joint goes to the edge of reach, in its direction, with score 0.
        offset = offsets[crop, bone]
        edge = anchor + offset * (limit / torch.linalg.vector_norm(offset, dim=-1).clamp_min(1e-6))[:, None]
        empty = new_peak <= 0
        uv[crop, child] = torch.where(empty[:, None], edge, new_uv)
        peak[crop, child] = torch.where(empty, torch.zeros_like(new_peak), new_peak)
        moved[crop, child] = True
    return uv, peak, moved
