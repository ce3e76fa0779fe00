"""Every chart function on the hand-made run: the artists, labels and legends it drew."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_hex

from bench.report import frames, plots
from bench.report.figures import fit_layout, new_figure, spaced_labels
from bench.results.aggregate import load
from tests.factory import HOST
from tests.test_aggregate import write_hand_made


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    return load(write_hand_made(tmp_path_factory.mktemp("plots") / "results.json")).summary


@pytest.fixture
def ax() -> Axes:
    return new_figure()[1][0]


def labels(ax: Axes) -> dict[str, object]:
    return {line.get_label(): line for line in ax.get_lines()}


def legend_texts(ax: Axes) -> list[str]:
    legend = ax.get_legend()
    assert legend is not None
    return [t.get_text() for t in legend.get_texts()]


def test_speedup_lines_ideal_and_core_marker(ax: Axes, summary: pd.DataFrame) -> None:
    plots.plot_speedup(ax, summary, workload="cpu", cores=2)
    lines = labels(ax)
    fork = lines["process_pool[fork]"]
    assert list(fork.get_xdata()) == [1, 2, 4]
    np.testing.assert_allclose(fork.get_ydata(), [1.0, 2.0, 1.6])
    ideal = lines["ideal: process_pool[fork], process_pool[spawn]"]
    assert list(ideal.get_xdata()) == [1, 2, 3, 4]
    assert list(ideal.get_ydata()) == [1, 2, 2, 2]  # min(T / ceil(T/W), C)
    # threads holding the GIL and the blocking call inside coroutines: ideal 1
    assert list(lines["ideal: asyncio_blocking, thread_pool"].get_ydata()) == [1, 1, 1, 1]
    assert list(lines["W = C = 2 usable cores"].get_xdata()) == [2, 2]
    assert list(lines["asyncio_blocking (no workers)"].get_ydata()) == pytest.approx([1.0, 1.0])
    assert any(isinstance(c, PolyCollection) for c in ax.collections)  # the CI band
    assert ax.get_title() == "cpu: speedup vs workers (T = 4)"
    assert ax.get_xlabel() == "workers W (count)"
    assert "speedup" in ax.get_ylabel()
    assert {"thread_pool", "process_pool[fork]", "process_pool[spawn]",
            "ideal: process_pool[fork], process_pool[spawn]"} <= set(legend_texts(ax))


def test_speedup_ideal_for_sleeping_and_async_work(summary: pd.DataFrame) -> None:
    _, (sleep_ax, async_ax) = new_figure(2)
    plots.plot_speedup(sleep_ax, summary, workload="sleep", cores=2)
    plots.plot_speedup(async_ax, summary, workload="async_sleep", cores=2)
    waves = labels(sleep_ax)["ideal: to_thread, process_pool[fork]"]
    assert list(waves.get_ydata()) == [1, 2]  # T / ceil(T/W): waits need no core
    assert list(labels(sleep_ax)["ideal: asyncio_blocking"].get_ydata()) == [1, 1]
    ideal = labels(async_ax)["ideal: asyncio_gather"]
    assert list(ideal.get_ydata()) == [4, 4]  # all T wait at once
    assert list(labels(async_ax)["ideal: asyncio_await"].get_ydata()) == [1, 1]
    gather = labels(async_ax)["asyncio_gather (no workers)"]
    assert gather.get_ydata()[0] == pytest.approx(0.04 / 0.011)


@pytest.fixture(scope="module")
def free_threaded(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """The hand-made run measured by an interpreter without the GIL (a hand-made host record)."""
    path = tmp_path_factory.mktemp("nogil") / "results.json"
    return load(write_hand_made(path, host={**HOST, "host_gil_enabled": 0})).summary


def test_speedup_ideal_on_a_free_threaded_host(ax: Axes, free_threaded: pd.DataFrame) -> None:
    plots.plot_speedup(ax, free_threaded, workload="cpu", cores=2)
    lines = labels(ax)  # without the GIL, threads on CPU work share the processes' ideal
    ideal = lines["ideal: thread_pool, process_pool[fork], process_pool[spawn]"]
    assert list(ideal.get_ydata()) == [1, 2, 2, 2]
    assert list(lines["ideal: asyncio_blocking"].get_ydata()) == [1, 1, 1, 1]


def test_thread_efficiency_follows_the_interpreter(summary: pd.DataFrame,
                                                   free_threaded: pd.DataFrame) -> None:
    cells = {}
    for name, s in (("gil", summary), ("free", free_threaded)):
        _, (ax,) = new_figure()
        plots.plot_efficiency_heatmap(ax, s, workload="cpu", model="thread_pool", colorbar=False)
        cells[name] = ax.images[0].get_array()
    # threads at 1.0x (W = 1, 2): ideal with the GIL; half the ideal at W = 2 without it
    np.testing.assert_allclose(cells["gil"], [[1.0, 1.0]])
    np.testing.assert_allclose(cells["free"], [[1.0, 0.5]])


def test_wall_time_log_log_per_model(ax: Axes, summary: pd.DataFrame) -> None:
    plots.plot_wall_time(ax, summary, workload="cpu", cores=2)
    lines = labels(ax)
    assert set(lines) == {"sequential", "asyncio_blocking", "thread_pool (W = 2)",
                          "process_pool[fork] (W = 2)", "process_pool[spawn] (W = 2)"}
    assert list(lines["process_pool[fork] (W = 2)"].get_ydata()) == pytest.approx([200.0])
    assert list(lines["sequential"].get_xdata()) == [4]
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    assert "ms" in ax.get_ylabel()
    assert "T" in ax.get_xlabel()
    assert ax.get_title() == "cpu: wall time vs tasks"
    assert len(legend_texts(ax)) == 5


def test_efficiency_heatmap_cells(ax: Axes, summary: pd.DataFrame) -> None:
    plots.plot_efficiency_heatmap(ax, summary, workload="cpu", model="process_pool",
                                  start_method="fork")
    grid = ax.images[0].get_array()
    np.testing.assert_allclose(grid, [[1.0, 1.0, 0.8]])  # one T row, W = 1, 2, 4 columns
    assert [t.get_text() for t in ax.texts] == ["1.00", "1.00", "0.80"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "4"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["4"]
    assert ax.get_title() == "process_pool[fork], cpu: efficiency"
    assert "W" in ax.get_xlabel()
    assert "T" in ax.get_ylabel()
    colorbar = ax.figure.axes[-1]  # the colour bar is the heatmap's legend
    assert colorbar is not ax
    assert colorbar.get_ylabel() == "efficiency = ideal time / measured time (ratio)"
    assert ax.images[0].get_clim() == (0.0, 1.0)  # 1 at best: the scale ends at the ideal


def test_efficiency_heatmap_shared_scale_without_colorbar(summary: pd.DataFrame) -> None:
    fig, (ax,) = new_figure()
    plots.plot_efficiency_heatmap(ax, summary, workload="hash", model="to_thread",
                                  colorbar=False, vmax=2.0)
    assert fig.axes == [ax]
    assert ax.images[0].get_clim() == (0.0, 2.0)


def test_sleep_lesson_in_single_sleeps(ax: Axes, summary: pd.DataFrame) -> None:
    bars = frames.lesson_bars(summary, cores=2)  # async waits first; per overlap kind
    assert list(bars["model"]) == ["asyncio_await", "asyncio_gather", "asyncio_blocking",
                                   "to_thread", "process_pool"]
    np.testing.assert_allclose(bars["sleeps"], [4.0, 1.1, 4.0, 2.0, 2.5])
    np.testing.assert_allclose(bars["ideal_sleeps"], [4.0, 1.0, 4.0, 2.0, 2.0])
    np.testing.assert_allclose(bars["task_s"], 0.01)
    plots.plot_sleep_lesson(ax, summary, cores=2)
    widths = [p.get_width() for p in ax.patches]
    np.testing.assert_allclose(widths, [4.0, 1.1, 4.0, 2.0, 2.5])
    ticks = {y: t.get_text() for y, t in zip(ax.get_yticks(), ax.get_yticklabels(),
                                             strict=True)}
    assert [ticks[y] for y in sorted(ticks, reverse=True)] == list(bars["label"])  # top down
    assert ticks[0] == "sleep, process_pool[fork], W = 2"
    assert ax.get_title() == "waiting tasks: 4 per batch, overlapped or one after another"
    assert "task times" in ax.get_xlabel()
    assert legend_texts(ax) == ["ideal for the model", "one task's time (all overlap)",
                                "T = 4 task times (one after another)"]


def test_cold_start_against_warm(ax: Axes, summary: pd.DataFrame) -> None:
    plots.plot_cold_start(ax, summary)
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, [450.0, 300.0, 400.0, 200.0])  # cold, then warm
    assert [t.get_text() for t in ax.get_xticklabels()] == ["thread_pool", "process_pool[fork]"]
    assert ax.get_title() == "pool cold start vs warm batch (T = 4, W = 2)"
    assert ax.get_ylabel() == "time (ms)"
    assert legend_texts(ax) == ["cold: create pool + first batch", "warm batch (pool ready)"]


@pytest.mark.parametrize("draw", [
    lambda ax, s: plots.plot_speedup(ax, s, workload="cpu", cores=2),
    lambda ax, s: plots.plot_wall_time(ax, s, workload="cpu", cores=2),
    lambda ax, s: plots.plot_efficiency_heatmap(ax, s, workload="cpu", model="thread_pool"),
    lambda ax, s: plots.plot_sleep_lesson(ax, s, cores=2),
    lambda ax, s: plots.plot_cold_start(ax, s),
])
def test_missing_data_draws_a_titled_empty_panel(ax: Axes, summary: pd.DataFrame,
                                                 draw: object) -> None:
    only_hash = summary[summary["workload"] == "hash"]
    draw(ax, only_hash)  # type: ignore[operator]
    assert ax.get_title()
    assert [t.get_text() for t in ax.texts] == ["no data in this run"]


def test_caption_names_the_host(tmp_path: Path) -> None:
    host = {k[5:]: v for k, v in HOST.items()}
    text = plots.host_caption(host)
    assert text == ("Host on testhost: Test CPU 3000, C = 2 usable cores, CPython 3.11.7")
    fig, _ = new_figure()
    plots.add_caption(fig, host)
    assert fig.get_supxlabel() == text
    assert "free-threaded" in plots.host_caption({**host, "gil_enabled": 0})


def test_efficiency_heatmap_stacks_workloads(ax: Axes, summary: pd.DataFrame) -> None:
    plots.plot_efficiency_heatmap(ax, summary, model="process_pool", start_method="fork")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["cpu 4", "sleep 4"]
    np.testing.assert_allclose(ax.images[0].get_array(),
                               [[1.0, 1.0, 0.8], [np.nan, 0.8, np.nan]])
    assert [line.get_ydata()[0] for line in ax.get_lines()] == [0.5]  # block divider
    assert ax.get_title() == "process_pool[fork]: efficiency"


def test_efficiency_panels_share_rows(ax: Axes, summary: pd.DataFrame) -> None:
    rows = plots.efficiency_rows(summary)
    assert rows == [("cpu", 4), ("hash", 4), ("sleep", 4)]  # every model's rows
    plots.plot_efficiency_heatmap(ax, summary, model="process_pool", start_method="fork",
                                  rows=[*rows, ("sleep", 8)], row_labels=False)
    assert ax.get_yticks().size == 0
    assert ax.get_ylabel() == ""
    np.testing.assert_allclose(ax.images[0].get_array(),
                               [[1.0, 1.0, 0.8], [np.nan] * 3, [np.nan, 0.8, np.nan],
                                [np.nan] * 3])


def _shown_label_boxes(ax: Axes) -> list[tuple[str, float, float]]:
    """The x tick labels drawn with text, with their rendered left and right edges (pixels)."""
    fit_layout(ax.figure)  # type: ignore[arg-type]
    renderer = ax.figure.canvas.get_renderer()  # type: ignore[attr-defined]
    return [(t.get_text(), t.get_window_extent(renderer).x0, t.get_window_extent(renderer).x1)
            for t in ax.get_xticklabels() if t.get_text()]


@pytest.mark.parametrize("scale", ["log", "linear"])
def test_crowded_tick_labels_are_thinned_never_overlapping(ax: Axes, scale: str) -> None:
    ticks = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024]
    ax.plot(ticks, ticks)
    ax.set_xscale(scale, **({"base": 2} if scale == "log" else {}))
    ax.set_xticks(ticks, spaced_labels(ax, ticks, [str(t) for t in ticks]))
    boxes = _shown_label_boxes(ax)
    assert list(ax.get_xticks()) == ticks  # every tick stays, only labels go
    assert boxes[0][0] == "1"
    assert 3 <= len(boxes) < len(ticks)
    for (_, _, right), (_, left, _) in itertools.pairwise(boxes):
        assert left > right  # rendered, not estimated: no two labels shown touch


def test_sparse_tick_labels_are_all_kept(ax: Axes) -> None:
    ticks = [1, 4, 16, 64]
    ax.plot(ticks, ticks)
    ax.set_xscale("log", base=2)
    assert spaced_labels(ax, ticks, [str(t) for t in ticks]) == ["1", "4", "16", "64"]


def _every_series(tmp_path: Path) -> pd.DataFrame:
    """One point of every model (each start method, each loop) on a workload it runs, W = 2."""
    from bench.scenarios.models import MODELS, Point
    from tests.factory import make_benchmark, write_results

    benches = []
    for name, spec in MODELS.items():
        for wl in [w for w, a in (("async_sleep", True), ("cpu", False))
                   if (spec.accepts_async if a else spec.accepts_sync)]:
            for sm in ("fork", "forkserver", "spawn") if spec.per_start_method else (None,):
                for t in (2, 4):
                    point = Point(wl, name, t, 2 if spec.pooled else None, sm, size=1.0)
                    benches.append(make_benchmark(point, [0.01 * t] * 6, runs=6))
    return load(write_results(tmp_path / "r" / "results.json", benches)).summary


def test_no_two_series_look_the_same(tmp_path: Path) -> None:
    # every model, start method and event loop a chart can draw: lines with markers (wall
    # time), and models without workers as horizontal lines (speedup)
    summary = _every_series(tmp_path)
    looks: dict[str, tuple[object, ...]] = {}
    for wl in ("async_sleep", "cpu"):
        _, (wall, speedup) = new_figure(2)
        plots.plot_wall_time(wall, summary, workload=wl, cores=2)
        plots.plot_speedup(speedup, summary, workload=wl, cores=2)
        for line in wall.get_lines():
            looks[line.get_label()] = (to_hex(line.get_color()), line.get_linestyle(),
                                       line.get_marker())
        flat = [(to_hex(x.get_color()), x.get_linestyle()) for x in speedup.get_lines()
                if str(x.get_label()).endswith("(no workers)")]
        assert len(set(flat)) == len(flat), flat
    assert "asyncio_gather[uvloop]" in looks
    assert "process_pool[spawn] (W = 2)" in looks
    assert len(looks) == sum(1 for _ in summary.drop_duplicates(["model", "start_method"])
                             .itertuples())
    assert len(set(looks.values())) == len(looks), looks
