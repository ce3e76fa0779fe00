"""The report files, the findings in words, the manifest's failures and noise, and escaping."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from bench.report import drawing as report_charts
from bench.report import html as report
from bench.report import status as report_status
from bench.report import tables as report_tables
from bench.report.findings import findings, stable_share
from bench.results.aggregate import load, summary_columns
from bench.scenarios.models import Point
from tests.factory import HOST
from tests.test_aggregate import HAND_MADE, write_hand_made

EVIL = "<script>alert('x')</script>"
CHARTS = ["speedup", "wall_time", "efficiency", "sleep_lesson", "cold_start"]
#: A verdict chart per workload with a question, first on the page.
VERDICT_CHARTS = ["verdicts-async_sleep", "verdicts-cpu", "verdicts-hash", "verdicts-sleep"]


def manifest(**extra: object) -> dict[str, object]:
    return {"format": 1, "name": "hand", "settings": {}, "status": "failed",
            "points": [{"name": "cpu/sequential/t4", "status": "done", "reason": "", "rounds": 1},
                       {"name": "cpu/process_pool[fork]/t4/w2", "status": "done", "reason": "",
                        "rounds": 3},
                       {"name": "cpu/process_pool[spawn]/t4/w2", "status": "done", "reason": "",
                        "rounds": 2},
                       {"name": "cpu/process_pool[spawn]/t4/w4", "status": "failed",
                        "reason": f"timed out after 300 s {EVIL}"}],
            **extra}


def write_run(run_dir: Path, *, run_json: dict[str, object] | str | None = None,
              host: dict[str, object] | None = None) -> Path:
    """A run directory of the hand-made results, with ``run.json`` when given."""
    benchmarks = [(p, v) for p, v in HAND_MADE]
    write_hand_made(run_dir / "results.json", benchmarks,
                    **({} if host is None else {"host_hostname": host["hostname"]}))
    if run_json is not None:
        text = run_json if isinstance(run_json, str) else json.dumps(run_json)
        (run_dir / "run.json").write_text(text, encoding="utf-8")
    return run_dir


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = write_run(tmp_path_factory.mktemp("run"),
                        run_json=manifest(noise={"noisy": True, "reasons": [f"load 3.1 {EVIL}"],
                                                 "load_before": 3.1}),
                        host={"hostname": EVIL})
    index = report.write_report(run_dir / "results.json", run_dir / "report")
    assert index == run_dir / "report" / "index.html"
    return index.parent


def test_writes_every_file(built: Path) -> None:
    for name in CHARTS + VERDICT_CHARTS:
        assert (built / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert b"<svg" in (built / f"{name}.svg").read_bytes()[:2000]
    assert (built / "index.html").stat().st_size > 0
    assert (built / "report.md").stat().st_size > 0


def test_summary_csv(built: Path) -> None:
    with (built / "summary.csv").open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == summary_columns()
    assert len(rows) == 1 + len(HAND_MADE)
    by_name = {r[rows[0].index("name")]: r for r in rows[1:]}
    fork = by_name["cpu/process_pool[fork]/t4/w2"]
    assert float(fork[rows[0].index("speedup")]) == pytest.approx(2.0)


def test_html_is_self_contained(built: Path) -> None:
    html = (built / "index.html").read_text(encoding="utf-8")
    sources = re.findall(r'<img [^>]*src="([^"]*)"', html)
    assert len(sources) == len(CHARTS) + len(VERDICT_CHARTS)
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert "<script" not in html
    assert "<link" not in html
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "@import" not in html


def test_html_sections(built: Path) -> None:
    html = (built / "index.html").read_text(encoding="utf-8")
    assert 'id="summary"' in html
    assert 'id="host"' in html
    assert "processes reached 2.00\N{MULTIPLICATION SIGN} on 2 cores" in html
    assert "under asyncio_gather 1.10 (ideal 1: they all wait at once)" in html
    # spawn W = 2's rounds spread 0.2-0.3 s: undecided against fork W = 2's 0.2 s
    assert ("cpu, 4 iterations, T = 4, not yet decided: process_pool[fork] W=2 so far, "
            "2.01\N{MULTIPLICATION SIGN} (1.91\N{EN DASH}2.11) over sequential in 6 rounds; "
            "worse: asyncio_blocking, thread_pool W=1, 2, process_pool[fork] W=1, 4 (after 6 "
            "rounds); undecided: process_pool[spawn] W=2 (about 35 more rounds) at the spread "
            "seen.") in html
    assert "3 of 4 questions decided" in html
    assert 'id="picks"' in html
    assert 'id="break_even"' in html
    assert "not reached (sizes measured: 4 iterations)" in html  # thread_pool on cpu
    assert "18 of 19 points (95%) are stable" in html
    assert html.count('<tr class="unstable">') == 1
    assert "Test CPU 3000, C = 2 usable cores, CPython 3.11.7" in html
    assert "The host was noisy during this run" in html
    assert "cpu/process_pool[spawn]/t4/w4" in html  # the failed point
    assert "Run status: <strong>failed</strong>" in html
    assert ("2 points whose intervals were widest after the 1 planned round got extra rounds, "
            "in fresh processes at later moments (3 extra rounds in all)") in html


def test_the_decisions_come_first(built: Path) -> None:
    html = (built / "index.html").read_text(encoding="utf-8")
    headings = re.findall(r'<h2 id="([a-z_]+)-h">', html)
    assert headings[:3] == ["decisions", "findings", "precision"]
    assert re.search(r'<nav><a href="#decisions-h">Decisions</a><a href="#findings-h">'
                     r'Details</a>', html)
    decisions = html[html.index('id="decisions-h"'):html.index('id="findings-h"')]
    assert [f"{stem}.png" for stem in VERDICT_CHARTS] == re.findall(
        r'<a href="(verdicts-[a-z_]+\.png)">', decisions)
    assert decisions.count("<li>") == 4  # a sentence per question
    assert "18 of 19 points (95%) are stable" in decisions  # beside the decided share
    details = html[html.index('id="findings-h"'):html.index('id="precision-h"')]
    assert "processes reached 2.00\N{MULTIPLICATION SIGN} on 2 cores" in details
    md = (built / "report.md").read_text(encoding="utf-8")
    # the decided share heads the section, on the first screen; the charts follow the
    # sentences
    assert md.index("## Decisions") < md.index("**3 of 4 questions decided") < md.index(
        "![Verdicts, cpu") < md.index("## Details") < md.index("## Precision")
    assert decisions.index('id="decided"') < decisions.index("<li>") < decisions.index(
        "<figure>")


def test_metadata_is_escaped_in_html(built: Path) -> None:
    html = (built / "index.html").read_text(encoding="utf-8")
    assert "<script>alert" not in html
    escaped = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
    assert html.count(escaped) >= 3  # hostname, failure reason, noise reason


def test_markdown(built: Path) -> None:
    md = (built / "report.md").read_text(encoding="utf-8")
    assert md.startswith("# concbench report: test\n")
    for name in CHARTS + VERDICT_CHARTS:
        assert re.search(rf"!\[[^\]]+\]\({name}\.png\)", md)
    assert "<script>" not in md
    assert r"\<script\>alert('x')\</script\>" in md
    assert "18 of 19 points (95%) are stable" in md
    assert "## Failed points" in md
    assert "2 points whose intervals were widest" in md
    assert "Noise check: **noisy**" in md
    assert "## Recommendation" in md
    assert "## Break-even size" in md
    assert r"| cpu | 4 iterations | 4 | process\_pool\[fork\] W=2 |" in md
    assert r"process\_pool\[fork\]" in md  # table cells escaped, rendered as written
    header = next(line for line in md.splitlines() if line.startswith("| point"))
    assert header.count("|") == len(report_tables.TABLE_COLUMNS) + 1


def test_without_manifest(tmp_path: Path) -> None:
    points = [(p, v) for p, v in HAND_MADE if p.workload == "cpu" and p.metric == "steady"]
    write_hand_made(tmp_path / "results.json", points)
    index = report.write_report(tmp_path, tmp_path / "out")  # a run directory works too
    html = index.read_text(encoding="utf-8")
    assert "Failed points" not in html
    assert "Noise check" not in html
    assert sorted(p.stem for p in index.parent.glob("*.png")) == [
        "efficiency", "speedup", "verdicts-cpu", "wall_time"]


def test_manifest_without_noise_and_unreadable(tmp_path: Path) -> None:
    write_run(tmp_path / "a", run_json=manifest())
    status = report_status.run_status(tmp_path / "a" / "results.json")
    assert status.noise is None
    assert status.failed == [{"name": "cpu/process_pool[spawn]/t4/w4",
                              "reason": f"timed out after 300 s {EVIL}"}]
    write_run(tmp_path / "b", run_json="{not json")
    broken = report_status.run_status(tmp_path / "b" / "results.json")
    assert "not valid JSON" in broken.problem
    assert broken.failed == []
    quiet = report_status.run_status(write_run(tmp_path / "c", run_json=manifest(
        status="complete", noise={"noisy": False})) / "results.json")
    assert quiet.noise == {"noisy": False, "reasons": [], "details": {}}
    assert (quiet.remeasured, quiet.extra_rounds) == (2, 3)
    odd = report_status.run_status(write_run(tmp_path / "d", run_json=manifest(
        points=[{"name": "x", "rounds": "3"}, {"name": "y", "rounds": True}, "z"]))
        / "results.json")
    assert (odd.remeasured, odd.extra_rounds) == (0, 0)


def test_serial_charts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every chart drawn in this process; titles placed at the top of their axes (new_figure),
    not fitted over what an axes shows above it: so no chart may put tick labels above its
    axes, and no title may reach into the axes below it."""
    from bench.report import charts as chart_module

    figs = []
    real = chart_module.save_figure
    monkeypatch.setattr(chart_module, "save_figure",
                        lambda fig, out, stem: (figs.append(fig), real(fig, out, stem))[1])
    summary = load(write_hand_made(tmp_path / "results.json")).summary
    host = {k[5:]: v for k, v in HOST.items()}
    charts = report_charts.build_charts(summary, host, tmp_path / "serial", workers=1)
    assert [c.stem for c in charts] == ["speedup", "wall_time", "efficiency", "sleep_lesson",
                                        "cold_start"]
    assert all(c.png.exists() and c.svg.exists() for c in charts)
    assert report_charts.render_workers(1) == 1
    assert len(figs) == len(charts)
    for fig in figs:
        renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
        for ax in fig.axes:
            if not ax.get_title():
                continue  # a colour bar
            assert not any(t.label2.get_visible() for t in ax.xaxis.get_major_ticks())
            title, box = ax.title.get_window_extent(renderer), ax.get_window_extent(renderer)
            assert box.y1 <= title.y0 <= box.y1 + 12  # on top, a pad's width above


def _gone(pgid: int, within: float = 10.0) -> bool:
    """Whether process group ``pgid`` empties within ``within`` s (init reaps killed drawers)."""
    end = time.monotonic() + within
    while time.monotonic() < end:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_report_command_leaves_matplotlib_to_its_chart_server(tmp_path: Path) -> None:
    """Importing the CLI loads neither pandas nor matplotlib, and the command's own process
    never imports matplotlib: its chart server does, while the command loads the data."""
    results = write_hand_made(tmp_path / "results.json")
    code = ("import sys, bench.cli, bench.report.finish\n"
            "before = sorted({'pandas', 'matplotlib'} & set(sys.modules))\n"
            f"assert bench.cli.main(['report', {str(results)!r}]) == 0\n"
            "print(before, 'matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[] False"
    assert (tmp_path / "index.html").exists()


def test_chart_server_leaves_nothing_behind(tmp_path: Path) -> None:
    points = [(p, v) for p, v in HAND_MADE if p.workload == "sleep"]
    summary = load(write_hand_made(tmp_path / "results.json", points)).summary
    host = {k[5:]: v for k, v in HOST.items()}
    with report_charts.ChartPool(workers=2) as pool:
        assert pool.server is not None
        group = pool.server.pid
        charts = pool.draw([(summary, host)], tmp_path / "pooled")()
    assert [c.stem for c in charts] == ["speedup", "wall_time", "efficiency", "sleep_lesson"]
    assert all(c.png.stat().st_size and c.svg.stat().st_size for c in charts)
    assert _gone(group)  # server and drawers: a drawer left over would hold the caller's pipes


def test_a_failing_chart_reaches_the_parent(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.report import charts as chart_module

    def broken(kind: str, *args: object) -> object:
        raise ValueError(f"cannot draw {kind}")

    points = [(p, v) for p, v in HAND_MADE if p.workload == "sleep"]
    summary = load(write_hand_made(tmp_path / "results.json", points)).summary
    host = {k[5:]: v for k, v in HOST.items()}
    monkeypatch.setattr(chart_module, "render", broken)  # before the fork: the drawers have it
    with report_charts.ChartPool(workers=2) as pool:
        group = pool.server.pid
        collect = pool.draw([(summary, host)], tmp_path / "broken")
        with pytest.raises(ValueError, match="cannot draw"):
            collect()
    assert _gone(group)


def test_the_parent_goes_on_while_the_server_warms_up(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """draw() hands a job larger than a pipe's buffer to a server still importing matplotlib
    and returns at once: the tables are written meanwhile, not after the warm-up."""
    release, warm = tmp_path / "release", tmp_path / "warm"
    real = report_charts._warm_up

    def slow_warm_up() -> None:  # held until the parent has got past draw(), 60 s at most
        deadline = time.monotonic() + 60
        while not release.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        real()
        warm.touch()

    points = [(p, v) for p, v in HAND_MADE if p.workload == "sleep"]
    summary = load(write_hand_made(tmp_path / "results.json", points)).summary
    host = {**{k[5:]: v for k, v in HOST.items()}, "padding": "x" * (1 << 20)}
    monkeypatch.setattr(report_charts, "_warm_up", slow_warm_up)  # before the fork
    with report_charts.ChartPool(workers=2) as pool:
        collect = pool.draw([(summary, host)], tmp_path / "charts")
        assert not warm.exists()  # a blocking send would have waited out the server's 60 s
        release.touch()
        charts = collect()
    assert warm.exists()
    assert all(c.png.stat().st_size and c.svg.stat().st_size for c in charts)


def test_chart_server_ends_when_its_parent_is_killed() -> None:
    # a live report's redraw is killed mid-way: its chart server must not wait forever
    code = ("import os, signal, sys\n"
            "from bench.report.drawing import ChartPool\n"
            "pool = ChartPool(workers=2).__enter__()\n"
            "print(pool.server.pid, flush=True)\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == -signal.SIGKILL
    assert _gone(int(done.stdout.split()[0]))


# ---------------------------------------------------------------------- findings
@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    return load(write_hand_made(tmp_path_factory.mktemp("f") / "results.json")).summary


def test_findings_in_plain_words(summary: pd.DataFrame) -> None:
    found = findings(summary, 2)
    assert found[0] == (  # six paired ratios 0.38/0.2 .. 0.42/0.2: the extremes bound it
        "cpu (pure-Python CPU work, holds the GIL): processes reached "
        "2.00\N{MULTIPLICATION SIGN} on 2 cores "
        "(process_pool[fork], W = 2, T = 4; 95 % CI 1.90\N{EN DASH}2.10); threads "
        "1.00\N{MULTIPLICATION SIGN} at best (thread_pool, W = 1, T = 4), no gain: the GIL "
        "runs one thread's Python at a time.")
    assert found[1] == ("hash (CPU work that releases the GIL): threads reached "
                        "1.60\N{MULTIPLICATION SIGN} (to_thread, W = 2, T = 4) against an ideal "
                        "of 2.00\N{MULTIPLICATION SIGN} on 2 cores, an efficiency (ideal time / "
                        "measured time) of 80%.")
    assert found[2] == ("4 async_sleep tasks (a non-blocking wait): under asyncio_await they "
                        "took 4.00 task times, about T = 4 (ideal T = 4: one after another); "
                        "under asyncio_gather 1.10 (ideal 1: they all wait at once); one task = "
                        "10.00 ms measured.")
    assert found[3].startswith("4 sleep tasks (a blocking wait): under asyncio_blocking they "
                               "took 4.00 task times, about T = 4")
    assert "under to_thread (W = 2) 2.00 (ideal \N{LEFT CEILING}T/W\N{RIGHT CEILING} = 2)" \
        in found[3]
    assert found[4].startswith("Pool cold start, creating the pool and running its first batch "
                               "of T = 4 on W = 2: thread_pool 450.0 ms (warm batch 400.0 ms), "
                               "process_pool[fork] 300.0 ms (warm batch 200.0 ms)")
    assert found[5].startswith("18 of 19 points (95%) are stable")
    assert stable_share(summary) == (18, 19)


def test_findings_on_a_free_threaded_host(tmp_path: Path) -> None:
    host = {**HOST, "host_gil_enabled": 0}  # a hand-made host record: no GIL
    found = findings(load(write_hand_made(tmp_path / "results.json", host=host)).summary, 2)
    assert "GIL runs one thread's Python" not in found[0]
    assert found[0].endswith("threads 1.00\N{MULTIPLICATION SIGN} at best (thread_pool, W = 1, "
                             "T = 4) against an ideal of 1.00\N{MULTIPLICATION SIGN}, the "
                             "interpreter running without the GIL.")


def test_findings_survive_a_restricted_grid(summary: pd.DataFrame) -> None:
    cpu_only = summary[(summary["workload"] == "cpu") & (summary["model"] != "thread_pool")]
    found = findings(cpu_only, 2)
    assert found[0].startswith("cpu (pure-Python CPU work, holds the GIL): processes reached")
    assert "threads" not in found[0]
    assert not any("sleep" in f for f in found)
    assert findings(summary.iloc[0:0], 2) == []
    seq_only = summary[summary["model"] == "sequential"]
    assert [f.split(" ")[1:4] for f in findings(seq_only, 2)] == [["of", "4", "points"]]


def test_point_factory_matches_names() -> None:
    assert Point("cpu", "process_pool", 4, 2, "fork", 4.0, "cold").name == (
        "cpu/process_pool[fork]/t4/w2/cold")


def test_export_helpers_escape_and_bound_names() -> None:
    from bench.report.export import md_escape, safe_stem

    assert md_escape("a&lt;b | <i>") == r"a\&lt;b \| \<i\>"
    long_a, long_b = safe_stem("w" * 300 + "a"), safe_stem("w" * 300 + "b")
    assert len(long_a) <= 100
    assert long_a != long_b
    assert safe_stem("../x.png") == "x_png"
