"""Native thread pools (BLAS): recorded per point, limited per process-pool worker, and
settled between values so that no point's batch shares the cores with another's threads.

The real workload is ``examples/numeric/matmul.py`` (numpy's BLAS, one 300 x 300 product a task).
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_info

import bench
from bench.measure import settle
from bench.scenarios import native
from bench.scenarios.models import make_executor
from bench.scenarios.points import Point
from bench.scenarios.pools import warm
from bench.scenarios.workloads import Workload

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "numeric"
BLAS = [i for i in threadpool_info() if i.get("user_api") == "blas"]
needs_blas = pytest.mark.skipif(not BLAS, reason="numpy has no BLAS that threadpoolctl reads")
#: The workload's setup imports numpy, so that a spawned worker loads its BLAS at start.
MATMUL = Workload("matmul", "matmul:product", unit="n", sizes=(64.0,), resource="cpu_nogil",
                  setup="numpy:get_include")


def _spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_pools_line_names_the_loaded_blas() -> None:
    line = native.pools()
    if not BLAS:
        assert line == "none" or "blas" not in line.lower()
        return
    api = BLAS[0]["internal_api"]
    assert api in line
    assert native.threads(line) == max(i["num_threads"] for i in threadpool_info())


def test_the_libraries_looked_for_are_threadpoolctls_own() -> None:
    import threadpoolctl

    assert set(threadpoolctl._ALL_PREFIXES) <= set(native.LIBRARIES)


def test_a_worker_without_native_libraries_does_not_import_threadpoolctl() -> None:
    """A pool's cold start pays no threadpoolctl import (18-34 ms a worker here) where
    nothing is there to limit: the environment covers what loads later."""
    code = ("import os, sys; from bench.scenarios import native; native.limit(1); "
            "print(native.loaded(), 'threadpoolctl' in sys.modules, os.environ['OMP_NUM_THREADS'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.split() == ["False", "False", "1"]
    code = "import numpy; " + code
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.split()[:2] == (["True", "True"] if BLAS else ["False", "False"])


def test_threads_reads_the_largest_count() -> None:
    assert native.threads("openblas 0.3.27 x2 pthreads; openmp x8") == 8
    assert native.threads("none") == 0
    assert native.threads("unknown (threadpoolctl not installed)") == 0


@needs_blas
@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_process_pool_workers_get_their_share(start_method: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(EXAMPLES), *sys.path]))
    point = Point("matmul", "process_pool", 4, 2, start_method, 64.0, spec=MATMUL,
                  native_threads=1)
    executor = make_executor(point)
    try:
        warm(executor, 2)
        lines = {executor.submit(native.pools).result(timeout=60) for _ in range(4)}
    finally:
        executor.shutdown()
    assert all(native.threads(line) == 1 for line in lines), lines
    assert all(BLAS[0]["internal_api"] in line for line in lines), lines


@needs_blas
def test_default_setting_leaves_the_library_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    point = Point("matmul", "process_pool", 4, 1, "fork", 64.0, spec=MATMUL)
    executor = make_executor(point)
    try:
        warm(executor, 1)
        line = executor.submit(native.pools).result(timeout=60)
    finally:
        executor.shutdown()
    assert native.threads(line) == max(i["num_threads"] for i in BLAS)


def test_a_spinning_thread_is_seen_and_waited_for() -> None:
    spinner = threading.Thread(target=_spin, args=(0.3,))
    spinner.start()
    try:
        time.sleep(0.02)
        assert spinner.native_id in settle.running([])
        waited, settled = settle.settle([], timeout=0.05)
        assert not settled
        assert waited >= 0.05
        waited, settled = settle.settle([], timeout=5.0)
        assert settled
        assert waited > 0.1
    finally:
        spinner.join()


def test_sleeping_threads_and_idle_workers_do_not_hold_a_value() -> None:
    sleeper = threading.Thread(target=time.sleep, args=(0.5,))
    sleeper.start()
    with cf.ProcessPoolExecutor(2) as pool:
        list(pool.map(time.sleep, [0.1, 0.1]))
        pids = set(pool._processes)  # every worker, started
        time.sleep(0.05)
        waited, settled = settle.settle(pids, timeout=1.0)
        assert settled
        assert waited < 0.5
        workers = {int(t.name) for p in pids for t in Path(f"/proc/{p}/task").iterdir()}
        spinning = pool.submit(_spin, 1.0)
        deadline = time.monotonic() + 5.0  # the task may wait for a core on a loaded host
        while not set(settle.running(pids)) & workers and time.monotonic() < deadline:
            time.sleep(0.01)
        assert set(settle.running(pids)) & workers
        spinning.result()
    sleeper.join()


@needs_blas
def test_blas_threads_spin_after_a_call_and_settle_waits_them_out() -> None:
    """The trap the settling exists for: BLAS helpers busy-wait after a product."""
    if max(i["num_threads"] for i in BLAS) < 2:
        pytest.skip("one BLAS thread: no helper thread to spin")
    a = np.ones((300, 300))
    for _ in range(5):
        a @ a
    spinning = settle.running([])
    waited, settled = settle.settle([], timeout=2.0)
    assert settled
    assert spinning == [] or waited > 0.0


@pytest.mark.slow
@needs_blas
def test_a_numpy_run_records_each_models_native_pools(tmp_path: Path) -> None:
    data = bench.run(["matmul:product"], sizes=[100], path=[str(EXAMPLES)], profile="smoke",
                     models=["sequential", "thread_pool", "process_pool"], workers=[1, 2],
                     tasks=[4], metrics=[], output_dir=str(tmp_path), name="native",
                     report=False, quiet=True)
    s = data.summary.set_index("name")
    cores = int(s["cores"].iloc[0])
    api = BLAS[0]["internal_api"]
    assert (s["native_pools"].str.contains(api)).all(), s["native_pools"]
    for name, row in s.iterrows():
        if row["model"] == "process_pool":
            assert row["native_threads"] == max(1, cores // int(row["workers"])), name
            assert native.threads(row["native_pools"]) == row["native_threads"], name
        else:
            assert row["native_threads"] == 0, name
    record = json.loads((tmp_path / "native" / "run.json").read_text(encoding="utf-8"))
    assert record["sweep"]["settle_s"] >= 0.0
    assert record["footprint"]["processes"] == 1 + 2  # the pools of W = 1 and W = 2
    assert record["footprint"]["nofile_soft"] >= record["footprint"]["descriptors"]


def test_the_findings_and_the_pick_name_each_models_native_pools() -> None:
    import pandas as pd

    from bench.report.findings import native_finding
    from bench.results.recommend import native_text, recommendation_sentence

    blas = "openblas 0.3.31 x{} pthreads"
    summary = pd.DataFrame({
        "workload": ["matmul"] * 4, "metric": ["steady"] * 4,
        "model": ["sequential", "thread_pool", "process_pool", "process_pool"],
        "start_method": ["", "", "fork", "fork"], "workers": pd.array([None, 2, 1, 2], "Int64"),
        "native_threads": [0, 0, 2, 1],
        "native_pools": [blas.format(2), blas.format(2), blas.format(2), blas.format(1)]})
    text = native_finding(summary, 2)
    assert text is not None
    assert "openblas 0.3.31 x2 pthreads in process_pool[fork] at W = 1" in text
    assert "openblas 0.3.31 x1 pthreads in process_pool[fork] at W = 2" in text
    assert "openblas 0.3.31 x2 pthreads in sequential, thread_pool" in text
    assert native_finding(summary.assign(native_pools="none"), 2) is None
    row = {"workload": "matmul", "task_size": 300.0, "tasks": 4, "model": "process_pool",
           "start_method": "fork", "workers": 2, "speedup": 1.2, "speedup_ci_low": 1.1,
           "speedup_ci_high": 1.3, "equivalent": "", "native": native_text(blas.format(1), 1)}
    assert "process_pool[fork] with W = 2 and openblas at 1 thread in each worker (C / W)" \
        in recommendation_sentence(row, "n", float("nan"))
    assert native_text("none", 0) == ""
    assert native_text(blas.format(2), 0) == "openblas at 2 threads (its default)"


def test_the_reports_host_table_says_what_native_pools_the_run_held() -> None:
    import pandas as pd

    from bench.report.tables import host_rows

    summary = pd.DataFrame({"native_pools": ["openblas 0.3.31 x2 pthreads", "none",
                                             "openblas 0.3.31 x1 pthreads", ""]})
    rows = dict(host_rows({"usable_cores": 2}, summary))
    assert rows["native_pools (as the points' processes held them)"] == (
        "openblas 0.3.31 x1 pthreads; openblas 0.3.31 x2 pthreads")
    assert host_rows({"usable_cores": 2}, summary.assign(native_pools="none")) == [
        ("usable_cores", "2")]
