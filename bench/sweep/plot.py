"""The sweep's plot: T_all against N for every mode, the Kumar–Ross bounds beside it.

Left: T_all (markers joined by lines, one colour per program; client-server dashed) over the
number of leechers on a linear axis, with the two bounds in grey: peer-to-peer T_min, flat at
F/u_s when leechers upload as fast as the seeder, and client-server N·F/u_s, a straight line.
Right: T_min / T_all of each mode against N (log-2 axis, so that 1, 2 and 4 stay apart), so
that how close each stays to its bound as N grows reads directly (1.0 is the bound). Drawn
like progress_plot.py: a bare matplotlib `Figure` on the Agg canvas, PNG bytes out, no
pyplot state.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bitswarm_lab.lab_report import format_bytes
from bitswarm_lab.progress_plot import PALETTE
from bitswarm_lab.rates import format_rate

from .report import Point, modes_of

__all__ = ["compact_png", "render_sweep_plot"]

_BOUND_COLOR = "#8a8a8a"
_DPI = 100


def _bound_line(points: Sequence[Point], client_server: bool) -> list[tuple[int, float]]:
    found = {p.leechers: p.t_min for p in points if p.client_server is client_server}
    return sorted(found.items())


def render_sweep_plot(points: Sequence[Point], *, width: int = 1200, height: int = 520) -> bytes:
    """The two-panel chart of the sweep as PNG bytes (see the module docstring)."""
    if not points:
        raise ValueError("nothing to plot: no sweep point")
    figure = Figure(figsize=(width / _DPI, height / _DPI), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    times, ratios = figure.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    bounds = (
        (False, "-", "T_min peer-to-peer (F/u_s)"),
        (True, ":", "T_min client-server (N·F/u_s)"),
    )
    for client_server, style, label in bounds:
        line = _bound_line(points, client_server)
        if line:
            times.plot([n for n, _ in line], [t for _, t in line], style, color=_BOUND_COLOR,
                       linewidth=5, alpha=0.5, label=label)  # fmt: skip
    impls = list(dict.fromkeys(mode.removesuffix("-cs") for mode in modes_of(points)))
    for mode in modes_of(points):
        mine = sorted((p for p in points if p.mode == mode), key=lambda p: p.leechers)
        done = [p for p in mine if p.t_all is not None]
        style = "--" if mine[0].client_server else "-"  # one colour per program
        color = PALETTE[impls.index(mode.removesuffix("-cs")) % len(PALETTE)]
        times.plot([p.leechers for p in done], [p.t_all for p in done], style, marker="o",
                   color=color, linewidth=2, label=f"{mode} T_all")  # fmt: skip
        ratios.plot([p.leechers for p in done], [p.ratio for p in done], style, marker="o",
                    color=color, linewidth=2, label=mode)  # fmt: skip
    counts = sorted({p.leechers for p in points})
    ratios.set_xscale("log", base=2)
    for axes in (times, ratios):
        axes.set_xticks(counts, [str(n) for n in counts])
        axes.minorticks_off()
        axes.set_xlabel("leechers N" + (" (log scale)" if axes is ratios else ""))
        axes.grid(True, color="#e1e1e1")
        axes.set_axisbelow(True)
    times.set_ylabel("T_all: seconds until the last leecher is complete")
    times.set_ylim(bottom=0)
    times.legend(frameon=False, fontsize=9, loc="upper left")  # client-server ends top right
    ratios.set_ylabel("T_min / T_all (1.0 = the Kumar–Ross bound)")
    ratios.set_ylim(0.0, 1.05)
    ratios.axhline(1.0, color=_BOUND_COLOR, linewidth=1)
    ratios.legend(frameon=False, fontsize=9, loc="lower left")
    first = points[0]
    figure.suptitle(
        f"1 seeder at {format_rate(first.seed_up_bps)}, leechers up "
        f"{format_rate(first.leech_up_bps)}, {format_bytes(first.size)}: "
        "peer-to-peer against client-server (leechers cannot reach one another)",
        x=0.01, ha="left", fontsize=11,
    )  # fmt: skip
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=_DPI)
    return out.getvalue()


def compact_png(png: bytes, colors: int = 64) -> bytes:
    """`png` with a palette of `colors` (a third of the bytes: the copy that is committed).

    The chart has a dozen flat colours plus anti-aliasing, so 64 look the same."""
    from PIL import Image  # matplotlib's own dependency

    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=colors)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
