"""The lab's plot: each leecher's verified progress over time, as a PNG line chart.

One coloured line per leecher (progress 0–100 % against seconds since the leechers started),
dashed vertical markers for T_min and T_all, a title that names the swarm and its figures,
and a legend beside the chart that names every line with its completion time. Drawn with
matplotlib's Agg renderer on a bare `Figure` (no pyplot, so no display and no global
state), into an image of exactly the size asked.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from .lab_report import title_of
from .swarm_run import LabResult

__all__ = ["PALETTE", "Marker", "Series", "render_progress_plot", "result_plot", "wrap_title"]

# matplotlib's "tab10" and two more, as hex: one colour per line, repeating after twelve.
PALETTE: tuple[str, ...] = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#000080", "#804000",
)  # fmt: skip
_MARKER_COLOR = "#5a5a5a"
_DPI = 100
_MIN_CHART_PX = 200  # narrower than this beside its legend, a chart is not worth drawing
_CHAR_PX = 9  # a little over one character of the 11-point title at 100 dpi, to wrap it


@dataclass(frozen=True, slots=True)
class Series:
    """One line: `points` are (seconds, progress in [0, 1]), in time order."""

    label: str
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class Marker:
    """A dashed vertical line at `seconds`, labelled at the top of the chart."""

    seconds: float
    label: str


def render_progress_plot(
    series: Sequence[Series],
    *,
    title: str,
    markers: Sequence[Marker] = (),
    width: int = 1100,
    height: int = 560,
) -> bytes:
    """The chart as PNG bytes, `width` x `height` pixels (see the module docstring).

    Raises:
        ValueError: the legend would leave the chart less than 200 pixels of `width`.
    """
    figure = Figure(figsize=(width / _DPI, height / _DPI), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(figure)  # the figure draws with Agg: no display, no global backend
    axes = figure.add_subplot()
    for index, item in enumerate(series):
        seconds = [t for t, _ in item.points]
        progress = [p for _, p in item.points]
        axes.plot(seconds, progress, color=PALETTE[index % len(PALETTE)], linewidth=2,
                  label=item.label)  # fmt: skip
    last = max((t for item in series for t, _ in item.points), default=0.0)
    x_max = (max([last, *(marker.seconds for marker in markers)]) or 1.0) * 1.04
    axes.set_xlim(0.0, x_max)
    axes.set_ylim(0.0, 1.02)
    axes.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    axes.set_xlabel("seconds since the leechers started")
    axes.set_ylabel("verified")
    axes.grid(True, color="#e1e1e1")
    axes.set_axisbelow(True)
    for number, marker in enumerate(markers):
        axes.axvline(marker.seconds, color=_MARKER_COLOR, linewidth=1.5, linestyle="--")
        # Even markers are labelled above the chart, odd ones inside it at the bottom, left of
        # their line (the last marker is near the right edge), so that two close markers
        # (T_min and T_all of an efficient run) do not overlap.
        above = number % 2 == 0
        axes.annotate(
            marker.label, xy=(marker.seconds, 1.0 if above else 0.0),
            xycoords=axes.get_xaxis_transform(), xytext=(0, 4) if above else (-5, 5),
            textcoords="offset points", ha="center" if above else "right", va="bottom",
            color=_MARKER_COLOR,
        )  # fmt: skip
    figure.suptitle(wrap_title(title, width // _CHAR_PX), x=0.01, ha="left", fontsize=11)
    if series:
        legend = figure.legend(loc="outside right upper", frameon=False)
        legend_px = legend.get_window_extent().width
        if width - legend_px < _MIN_CHART_PX:
            raise ValueError(f"{width} px is too narrow for a legend {legend_px:.0f} px wide")
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=_DPI)
    return out.getvalue()


def wrap_title(text: str, limit: int) -> str:
    """`text` in lines of at most `limit` characters, broken after ': ' or else ', ' (two at
    most: the rows above the chart), the second cut short with '...' if still too long."""
    if len(text) <= limit:
        return text
    cut = text.rfind(": ", 0, limit)  # between the swarm and its figures, if it fits
    if cut <= 0:
        cut = text.rfind(", ", 0, limit)
    head, rest = (text[: cut + 1], text[cut + 2 :]) if cut > 0 else (text[:limit], text[limit:])
    return head + "\n" + (rest if len(rest) <= limit else rest[: max(0, limit - 3)] + "...")


def result_plot(result: LabResult) -> bytes:
    """The PNG chart of every leecher's progress, with T_min and T_all marked."""
    series = [
        Series(
            f"{peer.plan.name} {peer.plan.impl} "
            + (f"{peer.completed:.1f} s" if peer.completed is not None else "unfinished"),
            peer.samples,
        )
        for peer in result.leechers
    ]
    markers = [Marker(result.bound.t_min, "T_min")]
    if result.t_all is not None:
        markers.append(Marker(result.t_all, "T_all"))
    return render_progress_plot(series, title=title_of(result), markers=markers)
