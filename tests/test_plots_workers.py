"""Charts against workers W past 2 cores (issue 34): ticks at the W measured, ten at most.

Hand-made runs at C = 16, 64 and 128 usable cores, W = 1, 2, 4, ..., 2C (as
a run measures them) and T = 2C: the speedup, cores-used and efficiency
charts must tick the counts measured, never more than ten, with the ideal
still drawn at every W from 1 to 2C.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.axes import Axes

from bench.report import metric_plots, plots
from bench.report.figures import MAX_WORKER_TICKS, new_figure, worker_ticks
from bench.results.aggregate import load
from bench.scenarios.models import Point
from tests.factory import HOST, make_benchmark, make_metric, write_results

#: One task's sequential time, seconds.
D = 0.01


def _powers(cores: int) -> list[int]:
    """W = 1, 2, 4, ..., 2C: the worker counts a run measures at C cores."""
    return [2 ** k for k in range(int(math.log2(cores)) + 2)]


def _summary(path: Path, cores: int, workers: list[int]) -> pd.DataFrame:
    """A ``cpu`` run at C = ``cores``, T = 2C: sequential, and a fork pool and a thread pool
    at each of ``workers``, their times and cores used at the ideal."""
    host = {**HOST, "host_usable_cores": cores, "host_logical_cores": cores,
            "host_cpu_affinity": cores}
    tasks = 2 * cores
    seq = Point("cpu", "sequential", tasks, size=4.0)
    benches = [make_benchmark(seq, [tasks * D] * 6, runs=6, host=host),
               make_metric(seq, "cores", [1.0] * 6, **host)]
    for w in workers:
        busy = min(w, cores)
        for point, t, used in ((Point("cpu", "process_pool", tasks, w, "fork", 4.0),
                                math.ceil(tasks / w) * D * max(1, w / cores), busy),
                               (Point("cpu", "thread_pool", tasks, w, size=4.0),
                                tasks * D, 1.0)):
            benches.append(make_benchmark(point, [t] * 6, runs=6, host=host))
            benches.append(make_metric(point, "cores", [used] * 6, **host))
    return load(write_results(path / f"c{cores}.json", benches)).summary


@pytest.fixture(scope="module", params=[16, 64, 128], ids=lambda c: f"C={c}")
def wide(request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> tuple[int, pd.DataFrame]:
    cores = int(request.param)
    return cores, _summary(tmp_path_factory.mktemp("wide"), cores, _powers(cores))


def _assert_measured_ticks(ax: Axes, cores: int) -> list[float]:
    """At most ten x ticks, every one a W measured, from W = 1 to the largest; all labelled."""
    ticks = [float(t) for t in ax.get_xticks()]
    assert len(ticks) <= MAX_WORKER_TICKS, ticks
    assert set(ticks) <= set(map(float, _powers(cores))), ticks
    assert (ticks[0], ticks[-1]) == (1.0, 2.0 * cores)
    lo, hi = ax.get_xlim()
    assert lo <= ticks[0] <= ticks[-1] <= hi
    # a log2 axis spaces the powers of two evenly: no label needs leaving out
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(int(t)) for t in ticks]
    return ticks


def test_speedup_ticks_the_workers_measured(wide: tuple[int, pd.DataFrame]) -> None:
    cores, summary = wide
    _, (ax,) = new_figure()
    plots.plot_speedup(ax, summary, workload="cpu", cores=cores)
    _assert_measured_ticks(ax, cores)
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "workers W (count, log scale)"
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines["process_pool[fork]"].get_xdata()) == _powers(cores)
    # the ideal still at every W from 1 to 2C: T / ceil(T / W), at most C
    ideal = lines["ideal: process_pool[fork]"]
    ws = list(range(1, 2 * cores + 1))
    assert list(ideal.get_xdata()) == ws
    tasks = 2 * cores
    assert list(ideal.get_ydata()) == pytest.approx(
        [min(tasks / math.ceil(tasks / w), cores) for w in ws])
    assert list(lines[f"W = C = {cores} usable cores"].get_xdata()) == [cores, cores]


def test_cores_used_ticks_the_workers_measured(wide: tuple[int, pd.DataFrame]) -> None:
    cores, summary = wide
    _, (ax,) = new_figure()
    metric_plots.plot_metric(ax, summary, metric="cores", workload="cpu", cores=cores)
    _assert_measured_ticks(ax, cores)
    assert ax.get_xscale() == "log"
    fork = next(line for line in ax.get_lines() if line.get_label() == "process_pool[fork]")
    assert list(fork.get_ydata()) == pytest.approx([min(w, cores) for w in _powers(cores)])


def test_efficiency_heatmap_labels_the_workers_measured(
        wide: tuple[int, pd.DataFrame]) -> None:
    cores, summary = wide
    _, (ax,) = new_figure()
    plots.plot_efficiency_heatmap(ax, summary, workload="cpu", model="process_pool",
                                  start_method="fork", colorbar=False)
    assert ax.images[0].get_array().shape == (1, len(_powers(cores)))  # one column per W
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert len(labels) <= MAX_WORKER_TICKS
    assert labels == [str(w) for w in _powers(cores)]


def test_every_integer_w_is_thinned_to_ten_ticks(tmp_path: Path) -> None:
    summary = _summary(tmp_path, 8, list(range(1, 17)))
    _, (speedup, heatmap) = new_figure(2)
    plots.plot_speedup(speedup, summary, workload="cpu", cores=8)
    ticks = [int(t) for t in speedup.get_xticks()]
    assert len(ticks) <= MAX_WORKER_TICKS
    assert (ticks[0], ticks[-1]) == (1, 16)  # both ends kept
    assert 8 in ticks  # and W = C
    plots.plot_efficiency_heatmap(heatmap, summary, workload="cpu", model="process_pool",
                                  start_method="fork", colorbar=False)
    shown = [int(t.get_text()) for t in heatmap.get_xticklabels()]
    assert len(shown) <= MAX_WORKER_TICKS
    assert (shown[0], shown[-1]) == (1, 16)
    assert [int(t) for t in heatmap.get_xticks()] == [w - 1 for w in shown]  # column of each W


def test_a_few_workers_keep_a_linear_axis(tmp_path: Path) -> None:
    summary = _summary(tmp_path, 4, [1, 2, 4, 8])
    _, (ax,) = new_figure()
    plots.plot_speedup(ax, summary, workload="cpu", cores=4)
    assert ax.get_xscale() == "linear"
    assert list(ax.get_xticks()) == [1, 2, 4, 8]
    assert ax.get_xlabel() == "workers W (count)"


@pytest.mark.parametrize(("counts", "keep"), [
    (range(1, 1025), 64), ([2 ** k for k in range(12)], 32), ([3, 5, 7, 9, 11, 13, 15, 17,
                                                              19, 21, 23], 12)])
def test_worker_ticks_thins_any_range(counts: list[int], keep: int) -> None:
    ticks = worker_ticks([float(c) for c in counts], keep=keep)
    assert len(ticks) <= MAX_WORKER_TICKS
    assert set(ticks) <= set(counts)
    assert (ticks[0], ticks[-1]) == (min(counts), max(counts))
    assert (keep in ticks) == (keep in counts)
    assert ticks == sorted(set(ticks))
    assert worker_ticks([1, 2, math.nan, 2, 4]) == [1, 2, 4]
