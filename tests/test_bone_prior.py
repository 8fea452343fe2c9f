"""The bone-length prior: limb joints beyond reach of their parent take the best cell within reach."""

import numpy as np
import torch

from gymnast_pose.bone_prior import apply_bone_prior
from gymnast_pose.codec import GaussianHeatmapCodec, PixelClassCodec, _refine_peaks
from gymnast_pose.skeleton import JOINT_INDEX as J
from gymnast_pose.skeleton import K

SIDE = 48  # map cells

# An upright person in map cells (u = column, v = row): torso from v = 14 (shoulders) to v = 26 (hips), 12 cells.
UPRIGHT = {
    "head_top": (24, 6), "neck": (24, 12), "r_shoulder": (20, 14), "l_shoulder": (28, 14),
    "r_elbow": (18, 20), "l_elbow": (30, 20), "r_wrist": (17, 25), "l_wrist": (31, 25),
    "r_hip": (21, 26), "l_hip": (27, 26), "r_knee": (21, 34), "l_knee": (27, 34),
    "r_ankle": (21, 42), "l_ankle": (27, 42),
}


def pose_maps(peak=0.8, cells=UPRIGHT):
    """(1, K + 1, SIDE, SIDE) probabilities with one peak per keypoint at ``cells``."""
    maps = torch.zeros(1, K + 1, SIDE, SIDE)
    for name, (u, v) in cells.items():
        maps[0, J[name], v, u] = peak
    return maps


def decode(maps, prior):
    uv, peak = _refine_peaks(maps[:, :K], maps[:, :K])
    if not prior:
        return uv, peak, torch.zeros(1, K, dtype=torch.bool)
    return apply_bone_prior(maps[:, :K], uv, peak, _refine_peaks)


def test_a_plausible_pose_is_left_exactly_as_decoded():
    maps = pose_maps()
    plain_uv, plain_peak, _ = decode(maps, prior=False)
    uv, peak, moved = decode(maps, prior=True)
    assert not moved.any()
    assert torch.equal(uv, plain_uv) and torch.equal(peak, plain_peak)


def test_a_wrist_thrown_across_the_map_takes_the_best_cell_within_reach():
    maps = pose_maps()
    wrist = J["r_wrist"]
    maps[0, wrist] = 0.0
    maps[0, wrist, 3, 45] = 0.9  # the global maximum, 33 cells (almost 3 torso lengths) from the elbow
    maps[0, wrist, 25, 16] = 0.3  # the real wrist, weaker
    maps[0, wrist, 40, 5] = 0.5  # another wrong candidate, also out of reach
    uv, peak, moved = decode(maps, prior=True)
    assert moved[0, wrist] and moved.sum() == 1
    assert torch.allclose(uv[0, wrist], torch.tensor([16.0, 25.0]))
    assert abs(float(peak[0, wrist]) - 0.3) < 1e-6


def test_children_are_checked_against_their_corrected_parents():
    maps = pose_maps()
    knee, ankle = J["l_knee"], J["l_ankle"]
    maps[0, knee] = 0.0
    maps[0, knee, 2, 2] = 0.9  # knee thrown to the corner ...
    maps[0, knee, 34, 27] = 0.4  # ... its true cell is weaker
    maps[0, ankle, 2, 4] = 0.95  # and the ankle followed it (reach of the thrown knee, not of the true one)
    uv, peak, moved = decode(maps, prior=True)
    assert moved[0, knee] and moved[0, ankle]
    assert torch.allclose(uv[0, knee], torch.tensor([27.0, 34.0]))
    assert torch.allclose(uv[0, ankle], torch.tensor([27.0, 42.0]))
    assert abs(float(peak[0, ankle]) - 0.8) < 1e-6


def test_nothing_within_reach_gives_score_zero_at_the_edge_of_reach():
    maps = pose_maps()
    elbow = J["r_elbow"]
    maps[0, elbow] = 0.0
    maps[0, elbow, 14, 46] = 0.7  # far right of the right shoulder (20, 14), nothing else anywhere
    uv, peak, moved = decode(maps, prior=True)
    assert moved[0, elbow] and float(peak[0, elbow]) == 0.0
    reach = float(torch.linalg.vector_norm(uv[0, elbow] - torch.tensor([20.0, 14.0])))
    unit = 12.0  # torso length; 1.2 x shoulder width (9.6) is smaller
    assert abs(reach - 1.2 * unit) < 1e-4 and float(uv[0, elbow, 0]) > 20.0


def test_an_untrusted_trunk_disables_the_prior():
    maps = pose_maps()
    maps[0, J["l_hip"]] *= 0.05  # hip scored 0.04: the body unit cannot be trusted
    maps[0, J["r_wrist"]] = 0.0
    maps[0, J["r_wrist"], 3, 45] = 0.9
    _, _, moved = decode(maps, prior=True)
    assert not moved.any()


def test_both_codecs_apply_it_in_input_pixels():
    maps = pose_maps()
    maps[0, J["r_wrist"]] = 0.0
    maps[0, J["r_wrist"], 3, 45] = 0.9
    maps[0, J["r_wrist"], 25, 17] = 0.3
    size = SIDE * 4
    for codec, m in ((PixelClassCodec(input_size=size), maps), (GaussianHeatmapCodec(input_size=size), maps[:, :K])):
        far, _ = codec.decode_maps(m)
        near, _ = codec.decode_maps(m, bone_prior=True)
        wrist = J["r_wrist"]
        assert np.linalg.norm(far[0, wrist] - codec.geometry.to_input(np.array([45.0, 3.0]))) < 2.5
        assert np.linalg.norm(near[0, wrist] - codec.geometry.to_input(np.array([17.0, 25.0]))) < 2.5
        others = [k for k in range(K) if k != wrist]
        assert np.allclose(far[0, others], near[0, others])
