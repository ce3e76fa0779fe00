"""Figures: created here and only here, on the Agg backend, never through pyplot's state.

Every figure is laid out by :func:`fit_layout` (margins from the text its axes
carry, in one pass) and saved as PNG and SVG by :func:`save_figure`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ticker import NullLocator

from bench.report.export import safe_stem


def new_figure(ncols: int = 1, nrows: int = 1, *, width: float = 6.4,
               height: float = 4.2) -> tuple[Figure, list[Axes]]:
    """A new Agg figure with ``nrows x ncols`` axes (flattened list).

    No layout engine: :func:`fit_layout` sets the margins once from the text
    the axes carry (a constrained layout costs a third of a figure's time,
    recomputing every tick label's extent on each of its passes).
    """
    fig = Figure(figsize=(width * ncols, height * nrows))
    FigureCanvasAgg(fig)
    # Titles placed, not fitted above whatever sits over the axes on each draw (3 % of a
    # chart's instructions): no chart puts tick labels or an axis above its axes.
    with matplotlib.rc_context({"axes.titley": 1.0}):
        axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, [ax for row in axes for ax in row]


#: Width of an average character and height of a line, in font sizes.
_CHAR_EM, _LINE_EM = 0.6, 1.45
#: Padding around each margin, inches.
_PAD = 0.12


def _text_height(text: Any) -> float:
    """Inches a one-line text takes vertically ("" takes nothing)."""
    return float(text.get_fontsize()) * _LINE_EM / 72 if text.get_text() else 0.0


def _labels_extent(labels: Sequence[Any], along: bool) -> float:
    """Inches tick labels take across their axis: the widest (``along``) or the tallest."""
    out = 0.0
    for t in labels:
        if not t.get_visible() or not t.get_text():
            continue
        size = float(t.get_fontsize()) / 72
        width = len(t.get_text()) * _CHAR_EM * size
        angle = math.radians(float(t.get_rotation()) % 180)
        height = _LINE_EM * size
        out = max(out, width * abs(math.cos(angle)) + height * abs(math.sin(angle)) if along
              else width * abs(math.sin(angle)) + height * abs(math.cos(angle)))
    return out


def spaced_labels(ax: Axes, ticks: Sequence[float], labels: Sequence[str]) -> list[str]:
    """``labels`` of x ``ticks``, those that would overlap the previous one shown left blank.

    Positions are read on the axis' scale (log or linear) over its current
    limits, widths estimated from the labels' lengths as :func:`fit_layout`
    does; the axes' width is taken before layout (the figure's default
    margins, which only narrow it), so labels kept never overlap.
    """
    lo, hi = ax.get_xlim()
    scale = ax.xaxis.get_transform()
    (a, b) = scale.transform([lo, hi]) if lo > 0 or ax.get_xscale() == "linear" else (lo, hi)
    inches = ax.get_position().width * float(ax.figure.get_size_inches()[0])  # type: ignore[union-attr]
    em = FontProperties(size=matplotlib.rcParams["xtick.labelsize"]).get_size_in_points() / 72
    out, right = [], -math.inf  # the right edge of the last label shown, inches
    for t, text in zip(scale.transform(list(ticks)), labels, strict=True):
        half = len(text) * _CHAR_EM * em / 2
        x = (t - a) / (b - a) * inches if b != a else 0.0
        keep = x - half >= right + _CHAR_EM * em
        out.append(text if keep else "")
        right = x + half if keep else right
    return out


#: The most ticks a worker axis (W) shows: past it the counts measured are thinned.
MAX_WORKER_TICKS = 10
#: A worker axis reaching this count (from W = 1, where the ideal starts) is drawn on a
#: log2 scale: W = 1, 2, 4, ..., 2C evenly spaced, not bunched at the left.
LOG_WORKERS_FROM = 16


def worker_ticks(counts: Iterable[float], *, keep: int | None = None,
                 most: int = MAX_WORKER_TICKS) -> list[int]:
    """The ticks of a worker axis: the distinct ``counts`` measured, at most ``most`` of them.

    Past ``most``, the counts nearest ``most`` points evenly spaced on a log
    scale between the smallest and the largest are kept: both ends always,
    and ``keep`` (the host's cores C) where it was measured.

    Parameters
    ----------
    counts
        The worker counts W measured (any order, repeats and NaN allowed).
    keep
        A count kept whenever it is among ``counts``.
    most
        The most ticks returned (at least 2).

    Returns
    -------
    list of int
        Ascending worker counts, a subset of ``counts``.
    """
    ws = sorted({int(w) for w in counts if w == w and w >= 1})
    if len(ws) <= most:
        return ws
    logs = [math.log(w) for w in ws]
    step = (logs[-1] - logs[0]) / (most - 1)
    chosen = {min(ws, key=lambda w: abs(math.log(w) - logs[0] - i * step))
              for i in range(most)}
    if keep in ws and keep not in chosen:
        inner = sorted(chosen - {ws[0], ws[-1]}, key=lambda w: abs(math.log(w / keep)))
        chosen = (chosen - set(inner[:1])) | {keep}
    return sorted(chosen)


def worker_axis(ax: Axes, counts: Iterable[float], *, cores: int, top: int) -> list[int]:
    """Set the x axis of a chart against workers W: ticks at the counts measured, no more than
    :data:`MAX_WORKER_TICKS` (:func:`worker_ticks`), on a log2 scale where it reaches
    :data:`LOG_WORKERS_FROM`.  Call it once the chart is drawn (over W from 1 to
    ``top``); labels that would overlap are left blank (:func:`spaced_labels`).

    Returns
    -------
    list of int
        The ticks set.
    """
    ticks = worker_ticks(counts, keep=cores) or worker_ticks([1, top])
    log = max(ticks[-1], top) >= LOG_WORKERS_FROM
    if log:
        ax.set_xscale("log", base=2)
        ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticks(ticks, spaced_labels(ax, ticks, [str(t) for t in ticks]))
    ax.set_xlabel("workers W (count, log scale)" if log else "workers W (count)")
    return ticks


def _spacing(total: float, cells: int, gap: float) -> float:
    """``wspace``/``hspace``: ``gap`` inches between ``cells`` axes sharing ``total`` inches."""
    if cells < 2:
        return 0.0
    axes = max((total - (cells - 1) * gap) / cells, 0.1)
    return gap / axes


def fit_layout(fig: Figure, *, right: float = 0.0) -> tuple[float, float, float, float]:
    """Set the figure's margins and spacing from what its axes show, in one pass.

    Each subplot needs room on the left for its y label and y tick labels, below
    for its x tick labels and x label, above for its title; a ``suptitle`` and a
    caption (``supxlabel``) take a line each; ``right`` inches stay free on the
    right (for a colour bar).  Sizes are estimated from the texts' lengths and
    font sizes, without rendering.  A title wider than its axes is set in a
    smaller font.  Call it once the axes are drawn on.

    Returns
    -------
    tuple of float
        The axes grid's box in figure fractions: left, bottom, right, top.
    """
    specs = [(ax, spec) for ax in fig.axes if (spec := ax.get_subplotspec()) is not None]
    axes = [ax for ax, _ in specs]
    fig._concbench_fitted = True  # type: ignore[attr-defined]
    if not specs:
        return 0.0, 0.0, 1.0, 1.0
    width, height = fig.get_size_inches()
    nrows, ncols = specs[0][1].get_gridspec().get_geometry()
    left = max(_text_height(ax.yaxis.label) + _labels_extent(ax.get_yticklabels(), True)
               for ax in axes) + _PAD
    below = max(_text_height(ax.xaxis.label) + _labels_extent(ax.get_xticklabels(), False)
                for ax in axes) + _PAD
    above = max(_text_height(ax.title) for ax in axes) + _PAD
    suptitle, caption = getattr(fig, "_suptitle", None), getattr(fig, "_supxlabel", None)
    top = above + (_text_height(suptitle) if suptitle is not None else 0.0)
    bottom = below + (_text_height(caption) if caption is not None else 0.0)
    box = (left / width, bottom / height, 1 - (_PAD + right) / width, 1 - top / height)
    wspace = _spacing(width - left - _PAD - right, ncols, left)
    hspace = _spacing(height - top - bottom, nrows, below + above)
    fig.subplots_adjust(left=box[0], bottom=box[1], right=box[2], top=box[3],
                        wspace=wspace, hspace=hspace)
    axes_w = (width - left - _PAD - right - (ncols - 1) * left) / ncols
    for ax in axes:
        size = float(ax.title.get_fontsize())
        wide = len(ax.title.get_text()) * _CHAR_EM * size / 72
        if wide > axes_w > 0:
            ax.title.set_fontsize(max(7.0, size * axes_w / wide))
    return box


#: savefig's options per format.  PNG: zlib's fastest level, a sixth of a chart's PNG time
#: (a 1,000-point report's heatmap: 0.18 s -> 0.03 s) for files a few per cent larger.
_SAVE: dict[str, dict[str, Any]] = {"png": {"dpi": 110, "pil_kwargs": {"compress_level": 1}},
                                    "svg": {}}


def save_figure(fig: Figure, out_dir: Path, stem: str) -> dict[str, Path]:
    """Save ``fig`` as ``stem.png`` and ``stem.svg`` in ``out_dir`` (laid out first if not yet)."""
    if not getattr(fig, "_concbench_fitted", False):
        fit_layout(fig)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for ext, options in _SAVE.items():
        path = out_dir / f"{safe_stem(stem)}.{ext}"
        with matplotlib.rc_context({"svg.fonttype": "none"}):  # text as text: small, fast
            fig.savefig(path, **options)
        paths[ext] = path
    return paths
