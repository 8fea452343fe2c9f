"""Outputs written atomically get the permissions of an ordinary new file (0666 minus the umask), not mkstemp's 0600."""

import os
import stat

import numpy as np
import pytest

from gymnast_pose.files import current_umask
from gymnast_pose.report import write_csv_atomically
from gymnast_pose.sequence import PoseSequence
from gymnast_pose.skeleton import K


@pytest.fixture(params=[0o022, 0o077])
def umask(request):
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_umask_is_read_without_changing_it(umask):
    assert current_umask() == umask
    assert current_umask() == umask


def test_reports_and_pose_files_follow_the_umask(tmp_path, umask):
    expected = 0o666 & ~umask
    report = write_csv_atomically(tmp_path / "report.csv", ["a", "b"], [["1", "2"]])
    poses = PoseSequence(np.zeros((3, K, 3), np.float32), fps=25)
    saved = [poses.save(tmp_path / f"poses{suffix}") for suffix in (".npz", ".csv", ".json")]
    for path in [report, *saved]:
        assert mode(path) == expected, path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["poses.csv", "poses.json", "poses.npz", "report.csv"]
