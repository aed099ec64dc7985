"""The lab's plot: each leecher's verified progress over time, as a PNG line chart.

One coloured line per peer (progress 0–100 % against seconds since the leechers started),
dashed vertical markers for T_min and T_all, a title and a legend that names every line.
Drawn with png_canvas.py, so the lab needs no plotting library.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .png_canvas import Canvas, Color

__all__ = ["PALETTE", "Marker", "Series", "nice_step", "render_progress_plot"]

PALETTE: tuple[Color, ...] = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
    (0, 0, 128), (128, 64, 0),
)  # fmt: skip
_BLACK: Color = (0, 0, 0)
_GRID: Color = (225, 225, 225)
_MARKER: Color = (90, 90, 90)
_SCALE = 2  # text is the 5x7 font drawn at twice its size
_TEXT_H = 7 * _SCALE


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


def nice_step(span: float, target_ticks: int = 8) -> float:
    """A tick step of 1, 2 or 5 times a power of ten giving about `target_ticks` ticks."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / max(1, target_ticks)
    power = 10.0 ** math.floor(math.log10(raw))
    for multiple in (1.0, 2.0, 5.0, 10.0):
        if raw <= multiple * power:
            return multiple * power
    return 10.0 * power


def _tick_label(value: float, step: float) -> str:
    return f"{value:.0f}" if step >= 1 else f"{value:.{max(1, -math.floor(math.log10(step)))}f}"


def render_progress_plot(
    series: Sequence[Series],
    *,
    title: str,
    markers: Sequence[Marker] = (),
    width: int = 1100,
    height: int = 560,
) -> bytes:
    """The chart as PNG bytes (see the module docstring)."""
    legend_chars = max((len(item.label) for item in series), default=0)
    legend_w = Canvas.text_width("X" * legend_chars, _SCALE) + 60
    left, top, bottom = 80, 76, 70
    right = width - legend_w
    if right - left < 200:
        raise ValueError(f"{width} px is too narrow for the legend of {legend_chars} characters")
    plot_bottom = height - bottom
    canvas = Canvas(width, height)
    last = max((t for item in series for t, _ in item.points), default=0.0)
    x_max = max([last, *(marker.seconds for marker in markers), 1e-9]) * 1.04
    step = nice_step(x_max)
    x_max = math.ceil(x_max / step) * step

    def px(seconds: float) -> float:
        return left + (right - left) * seconds / x_max

    def py(fraction: float) -> float:
        return plot_bottom - (plot_bottom - top) * min(1.0, max(0.0, fraction))

    for percent in range(0, 101, 20):
        y = round(py(percent / 100))
        canvas.line(left, y, right, y, _GRID)
        label = f"{percent}%"
        canvas.text(left - 10 - Canvas.text_width(label, _SCALE), y - _TEXT_H // 2, label,
                    _BLACK, _SCALE)  # fmt: skip
    ticks = round(x_max / step)
    for index in range(ticks + 1):
        value = index * step
        x = round(px(value))
        canvas.line(x, top, x, plot_bottom, _GRID)
        canvas.line(x, plot_bottom, x, plot_bottom + 5, _BLACK)
        label = _tick_label(value, step)
        canvas.text(x - Canvas.text_width(label, _SCALE) // 2, plot_bottom + 10, label,
                    _BLACK, _SCALE)  # fmt: skip
    axis_label = "SECONDS SINCE THE LEECHERS STARTED"
    canvas.text((left + right - Canvas.text_width(axis_label, _SCALE)) // 2,
                plot_bottom + 34, axis_label, _BLACK, _SCALE)  # fmt: skip
    canvas.line(left, top, left, plot_bottom, _BLACK)
    canvas.line(left, plot_bottom, right, plot_bottom, _BLACK)
    for number, marker in enumerate(markers):
        x = round(px(marker.seconds))
        canvas.line(x, top, x, plot_bottom, _MARKER, thickness=2, dash=6)
        # Even markers are labelled above the chart, odd ones inside it at the bottom, so
        # that two close markers (T_min and T_all of an efficient run) do not overlap.
        label_y = top - _TEXT_H - 6
        text_x = x - Canvas.text_width(marker.label, _SCALE) // 2
        if number % 2:
            label_y = plot_bottom - _TEXT_H - 6
            text_x = x + 6
        canvas.text(max(0, text_x), label_y, marker.label, _MARKER, _SCALE)
    for index, item in enumerate(series):
        color = PALETTE[index % len(PALETTE)]
        canvas.polyline([(px(t), py(p)) for t, p in item.points], color, thickness=2)
        legend_y = top + index * (_TEXT_H + 10)
        if legend_y + _TEXT_H > height:
            continue  # more lines than legend rows: the rest stay unnamed
        canvas.fill_rect(right + 20, legend_y + 4, right + 44, legend_y + _TEXT_H - 4, color)
        canvas.text(right + 52, legend_y, item.label, _BLACK, _SCALE)
    advance = Canvas.text_width("XX", _SCALE) - Canvas.text_width("X", _SCALE)
    for number, line in enumerate(_wrap(title, (width - left - 10) // advance)):
        canvas.text(left, 8 + number * (_TEXT_H + 4), line, _BLACK, _SCALE)
    return canvas.to_png()


def _wrap(text: str, limit: int) -> list[str]:
    """`text` in lines of at most `limit` characters, broken after ': ' or else ', ' (two at
    most: the rows above the chart), the second cut short with '...' if still too long."""
    if len(text) <= limit:
        return [text]
    cut = text.rfind(": ", 0, limit)  # between the swarm and its figures, if it fits
    if cut <= 0:
        cut = text.rfind(", ", 0, limit)
    head, rest = (text[: cut + 1], text[cut + 2 :]) if cut > 0 else (text[:limit], text[limit:])
    return [head, rest if len(rest) <= limit else rest[: max(0, limit - 3)] + "..."]
