"""Core detection: cgroup v1/v2 quotas from sample files, affinity, the host record."""

from __future__ import annotations

import multiprocessing
import os
import platform
import re
import shutil
import sys
from pathlib import Path

import pytest

from bench.measure import host
from bench.measure.host import cgroup_quota, parse_cfs, parse_cpu_max, usable_cores
from bench.measure.interpreter import Interpreter

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("text", "cpus"),
    [
        ("max 100000", None),
        ("max 100000\n", None),
        ("150000 100000", 1.5),
        ("200000 100000\n", 2.0),
        ("50000 100000", 0.5),
        ("0 100000", None),
        ("", None),
        ("max", None),
        ("1 2 3", None),
    ],
)
def test_parse_cpu_max(text: str, cpus: float | None) -> None:
    assert parse_cpu_max(text) == cpus


@pytest.mark.parametrize(
    ("quota", "period", "cpus"),
    [("-1", "100000", None), ("-1\n", "100000\n", None), ("150000\n", "100000\n", 1.5),
     ("400000", "100000", 4.0), ("100000", "0", None)],
)
def test_parse_cfs(quota: str, period: str, cpus: float | None) -> None:
    assert parse_cfs(quota, period) == cpus


@pytest.mark.parametrize(
    ("sample", "quota", "cores_of_4"),
    [
        ("v2_max", None, 4),            # cpu.max "max 100000": unlimited
        ("v2_quota", 1.5, 2),           # "150000 100000" -> ceil(1.5) = 2
        ("v2_half", 0.5, 1),            # half a CPU still leaves one usable core
        ("v2_garbage", None, 4),        # unreadable quota: no quota rather than a crash
        ("v1", 2.5, 3),                 # cpu/cpu.cfs_quota_us 250000 / 100000
        ("v1_unlimited", None, 4),      # cpu,cpuacct/ with quota -1
        ("v1_garbage", None, 4),
        ("v1_flat", 3.0, 3),            # quota files directly under the root
    ],
)
def test_cgroup_quota_from_sample_files(data_dir: Path, sample: str, quota: float | None,
                                        cores_of_4: int) -> None:
    root = data_dir / "cgroup" / sample
    assert root.is_dir()
    assert cgroup_quota(root=root) == quota
    assert usable_cores(4, cgroup_quota(root=root)) == cores_of_4


def test_cgroup_quota_without_any_cgroup_files(tmp_path: Path) -> None:
    assert cgroup_quota(root=tmp_path) is None
    assert cgroup_quota(root=tmp_path / "missing") is None


def test_cgroup_v2_wins_over_v1(tmp_path: Path) -> None:
    (tmp_path / "cpu.max").write_text("100000 100000\n")
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("400000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert cgroup_quota(root=tmp_path) == 1.0


@pytest.mark.parametrize(
    ("affinity", "quota", "cores"),
    [(2, None, 2), (8, None, 8), (4, 1.5, 2), (2, 4.0, 2), (1, 3.0, 1), (4, 0.1, 1),
     (4, 2.0, 2), (4, 2.01, 3), (0, None, 1)],
)
def test_usable_cores(affinity: int, quota: float | None, cores: int) -> None:
    assert usable_cores(affinity, quota) == cores


def test_affinity_count_reads_the_affinity_mask(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert host.affinity_count() == 1


def test_affinity_count_without_sched_getaffinity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    assert host.affinity_count() == 3


def test_host_record_combines_affinity_and_quota(monkeypatch: pytest.MonkeyPatch,
                                                 data_dir: Path) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    record = host.host_record(root=data_dir / "cgroup" / "v2_quota")
    assert record["cpu_affinity"] == 4
    assert record["cgroup_cpu_quota"] == 1.5
    assert record["usable_cores"] == 2

    record = host.host_record(root=data_dir / "cgroup" / "v2_max")
    assert record["cgroup_cpu_quota"] == 0.0
    assert record["usable_cores"] == 4


def test_host_record_is_valid_pyperf_metadata() -> None:
    record = host.host_record()
    expected = {"cpu_model", "logical_cores", "cpu_affinity", "cgroup_cpu_quota", "cgroup_path",
                "usable_cores", "python_prefix",
                "python_version", "python_implementation", "python_build", "python_executable",
                "gil_enabled", "jit_enabled", "start_methods", "default_start_method",
                "event_loops", "platform", "hostname"}
    assert set(record) == expected
    for key, value in record.items():
        assert isinstance(value, (str, int, float)), key
        if isinstance(value, str):
            assert value.strip(), key
            assert "\n" not in value, key
    assert record["python_version"] == platform.python_version()
    assert record["start_methods"].split(",") == multiprocessing.get_all_start_methods()
    assert record["default_start_method"] == multiprocessing.get_start_method()
    assert record["jit_enabled"] == 0  # no build here has the JIT on
    assert record["gil_enabled"] == int(getattr(sys, "_is_gil_enabled", lambda: True)())
    assert 1 <= record["usable_cores"] <= record["cpu_affinity"] <= record["logical_cores"]
    if hasattr(os, "sched_getaffinity"):
        assert record["cpu_affinity"] == len(os.sched_getaffinity(0))


def test_python_m_bench_host_prints_the_record(interp: Interpreter) -> None:
    # resolve(None) ran ``python -m bench.measure.host`` in a subprocess and parsed its JSON
    record = interp.record
    assert set(record) == set(host.host_record())
    assert record["usable_cores"] == host.host_record()["usable_cores"]


def test_git_commit(tmp_path: Path) -> None:
    assert host.git_commit(tmp_path) == ""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("no git checkout here")
    assert re.fullmatch(r"[0-9a-f]{12}", host.git_commit(REPO))
