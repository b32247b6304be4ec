"""The figures drawn by matplotlib (Agg canvas, SVG output) as SVG text to inline in a page.

Deterministic: the same figure gives the same bytes (no date in the metadata, ids salted by
the figure's name, so two charts on one page never share an id). Text stays text
(`svg.fonttype = none`): smaller files, and the page's own font draws it. Each bar or point
is its own SVG group with the id `<figure>-mark-<n>`, which is what the browser tests count.
"""

from __future__ import annotations

import io
import re
from typing import Any

from archiver.access.report.figures import Figure

WIDTH, HEIGHT = 7.2, 3.0  # inches; 100 px each in the SVG's viewBox at 72 dpi
COLOURS = ["#3b6ea8", "#e07b39", "#5a9e5a", "#c44e52", "#8172b2", "#937860", "#da8bc3",
           "#8c8c8c"]
MAX_TICKS = 16


MISSING = ("<p class=\"box nochart\">No chart: matplotlib is not installed "
           "(<code>pip install 'archiver[report]'</code>); the numbers are below.</p>")


def available() -> bool:
    """Is matplotlib installed? (The `report` extra; without it the report has the tables
    and sentences, not the charts.)"""
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # never a window; the SVG backend writes the file
    import matplotlib.pyplot as plt

    # labels are names from the archive (authors, sections, hosts): a "$" in one is text,
    # not mathtext (an unknown command between two "$" raised ValueError, a traceback)
    matplotlib.rcParams.update({"svg.fonttype": "none", "font.size": 9,
                                "text.parse_math": False,
                                "axes.spines.top": False, "axes.spines.right": False})
    return plt


def svg(figure: Figure) -> str:
    """The chart as one <svg> element (no XML prolog, no DOCTYPE)."""
    import matplotlib

    plt = _pyplot()
    height = HEIGHT if figure.kind != "barh" else max(1.4, 0.28 * len(figure.x) + 0.9)
    fig, ax = plt.subplots(figsize=(WIDTH, height))
    try:
        _draw(ax, figure)
        fig.tight_layout()
        out = io.StringIO()
        with matplotlib.rc_context({"svg.hashsalt": figure.name}):
            fig.savefig(out, format="svg", metadata={"Date": None})
    finally:
        plt.close(fig)
    text = out.getvalue()
    start = text.index("<svg")
    return _accessible(text[start:], figure)


def _accessible(text: str, figure: Figure) -> str:
    """A role and a label on the root element for screen readers (the table is one click
    away for the numbers)."""
    return re.sub(r"^<svg ", f'<svg role="img" aria-label="{_attr(figure.title)}" '
                  f'class="chart" data-figure="{figure.name}" data-marks="{figure.marks}" ',
                  text, count=1)


def _attr(text: str) -> str:
    import html

    return html.escape(text, quote=True)


def _draw(ax: Any, figure: Figure) -> None:
    n = len(figure.x)
    positions = list(range(n))
    names = list(figure.series)
    mark = 0
    if figure.kind == "barh":
        values = figure.series[names[0]]
        bars = ax.barh(positions, values, color=COLOURS[0])
        for bar in bars:
            bar.set_gid(f"{figure.name}-mark-{mark}")
            mark += 1
        ax.set_yticks(positions, [_short(x) for x in figure.x])
        ax.invert_yaxis()
        ax.set_xlabel(figure.y_label)
        return
    if figure.kind == "line":
        values = figure.series[names[0]]
        ax.plot(positions, values, color=COLOURS[0], linewidth=1.5)
        for i, v in enumerate(values):
            (point,) = ax.plot([i], [v], "o", color=COLOURS[0], markersize=3)
            point.set_gid(f"{figure.name}-mark-{mark}")
            mark += 1
    elif figure.kind == "grouped":
        width = 0.8 / max(1, len(names))
        for k, name in enumerate(names):
            xs = [p - 0.4 + width * (k + 0.5) for p in positions]
            for bar in ax.bar(xs, figure.series[name], width, label=name,
                              color=COLOURS[k % len(COLOURS)]):
                bar.set_gid(f"{figure.name}-mark-{mark}")
                mark += 1
    else:  # bar, stacked
        bottom = [0] * n
        for k, name in enumerate(names):
            values = figure.series[name]
            for bar in ax.bar(positions, values, 0.8, bottom=bottom, label=name,
                              color=COLOURS[k % len(COLOURS)]):
                bar.set_gid(f"{figure.name}-mark-{mark}")
                mark += 1
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    pad = max(0.0, (6 - n) / 2)  # a lone bar stays bar-sized, centred
    ax.set_xlim(-0.5 - pad, n - 0.5 + pad)
    step = max(1, -(-n // MAX_TICKS))
    ax.set_xticks(positions[::step], [_short(x) for x in figure.x[::step]],
                  rotation=45 if n > 8 else 0, ha="right" if n > 8 else "center")
    ax.set_xlabel(figure.x_label)
    ax.set_ylabel(figure.y_label)
    if len(names) > 1:
        ax.legend(frameon=False, fontsize=8)
    if not n:
        ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center")


def _short(label: str, limit: int = 32) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"
