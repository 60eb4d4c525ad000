"""The HTML report's charts, drawn with matplotlib as SVG text ready to inline into the page.

matplotlib is imported by this module only, which only ``replay --format html`` loads (it takes about a second
to import). Figures are made with :class:`matplotlib.figure.Figure`, not pyplot: no GUI backend, no display and
no global figure registry are involved, and every setting applies inside :func:`matplotlib.rc_context` only, so
a program embedding trailwatch keeps its own matplotlib configuration.

The SVG is deterministic, so two reports of the same input diff cleanly: ids are hashed from a fixed salt per
chart (the detection id, so charts of different detections never share an id within one page), and no
metadata (date, creator) is written. Text stays text (``svg.fonttype: none``): smaller than glyph outlines,
readable in a diff, and drawn by the viewer's sans-serif font; nothing is fetched.
"""

from __future__ import annotations

import io
import re
from datetime import timezone
from typing import Sequence

import matplotlib
from matplotlib import dates as mdates
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .chartdata import Bins, DetectionBins

STYLE = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],  # laid out with the font matplotlib ships; the viewer falls back to its sans
    "font.size": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 9,
    "axes.titlelocation": "left",
    "legend.frameon": False,
}
NO_METADATA = {"Creator": None, "Date": None, "Format": None, "Type": None}
MATCHES, WINDOW, ALERT, THRESHOLD, UNEXCEPTED = "#4c78a8", "#f58518", "#e45756", "#b03030", "#888888"
WIDTH_INCHES = 9.0
# room for 7-digit counts, two rows of legend, and dates and the span below
MARGINS = {"left": 0.075, "right": 0.985, "bottom": 0.2, "top": 0.82}
_GROUP_ID = re.compile(r'<g id="[^"]*"')


def detection_chart(ident: str, data: DetectionBins, bins: Bins, *, threshold: int, window_minutes: int,
                    heartbeat: bool, span: str) -> str:
    """Matches per bin, and, for a counting detection, the most matches in one alert window against the
    threshold, with the bins in which the alert fired shaded (and, with exceptions, those in which it would
    have fired without them); ``span``: the axis label saying what the chart spans."""
    with matplotlib.rc_context(STYLE | {"svg.hashsalt": f"trailwatch-replay-{ident}"}):
        fig = Figure(figsize=(WIDTH_INCHES, 2.9))
        fig.subplots_adjust(**MARGINS)  # fixed, not constrained layout: that would double the drawing time
        ax = fig.add_subplot()
        edges = mdates.date2num(bins.edges())
        ax.stairs(data.matches, edges, fill=True, color=MATCHES, alpha=0.8, label=f"matches per {bins.label}")
        if not heartbeat:
            ax.stairs(data.window_peaks, edges, color=WINDOW, linewidth=1.2,
                      label=f"most matches in one {window_minutes}-min window")
            ax.axhline(threshold, color=THRESHOLD, linestyle="--", linewidth=1,
                       label=f"threshold: {threshold} in {window_minutes} min")
            for runs, color, alpha, label in ((data.runs_without_exceptions, UNEXCEPTED, 0.2,
                                               "would fire without exceptions"),
                                              (data.alert_runs, ALERT, 0.25, "alert firing")):
                if runs:
                    ax.broken_barh([(edges[a], edges[b] - edges[a]) for a, b in runs], (0, 1),
                                   transform=ax.get_xaxis_transform(), color=color, alpha=alpha, linewidth=0,
                                   label=label)
        ax.set_xlim(edges[0], edges[-1])
        ax.set_xlabel(span, loc="left")
        tallest = max(data.matches) if heartbeat else max(max(data.matches), max(data.window_peaks), threshold)
        ax.set_ylim(0, max(tallest, 1) * 1.1)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        _date_axis(ax)
        fig.legend(loc="upper left", bbox_to_anchor=(MARGINS["left"], 1), ncols=4)
        return _svg(fig)


def overview_chart(labels: Sequence[str], alerts: Sequence[int | None], minutes: Sequence[int | None]) -> str:
    """Alerts and minutes firing per detection, one row each, in the given order (noisiest first); None for a
    detection whose alerts are not simulated (the heartbeat), shown as "n/a"."""
    with matplotlib.rc_context(STYLE | {"svg.hashsalt": "trailwatch-replay-overview"}):
        fig = Figure(figsize=(WIDTH_INCHES, 0.7 + 0.2 * len(labels)), layout="constrained")
        left, right = fig.subplots(1, 2, sharey=True)
        rows = range(len(labels))
        for ax, values, title in ((left, alerts, "alerts (each fires and resolves a card)"),
                                  (right, minutes, "minutes firing")):
            bars = ax.barh(rows, [v or 0 for v in values], color=ALERT, height=0.7)
            ax.bar_label(bars, labels=["n/a" if v is None else f"{v:,}" for v in values], padding=2)
            ax.set_xlim(0, max([v or 0 for v in values] + [1]) * 1.15)
            ax.set_title(title)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        left.set_yticks(rows, labels, parse_math=False)
        left.set_ylim(len(labels) - 0.5, -0.5)  # first row on top
        return _svg(fig)


def _date_axis(ax) -> None:
    locator = mdates.AutoDateLocator(tz=timezone.utc)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=timezone.utc))


def _svg(fig: Figure) -> str:
    """The figure as an ``<svg>`` element for an HTML page: without the XML prolog and DOCTYPE, and without
    the ids matplotlib numbers its groups with (``axes_1``, ``patch_3``): nothing refers to them, every chart
    would repeat them in the one page, and adding one bar would renumber the rest of a diff. The ids that
    are referred to (clip paths, markers) are hashed from the chart's salt, unique in the page."""
    out = io.StringIO()
    fig.savefig(out, format="svg", metadata=NO_METADATA)
    text = out.getvalue()
    return _GROUP_ID.sub("<g", text[text.index("<svg"):].strip())
