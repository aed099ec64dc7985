"""`python -m bench sweep` (issue 15, target 6): its tables and plot, and one small real sweep.

The pure parts are checked on points made by hand: the summary table puts T_all and the
ratio T_min/T_all under the right mode and N with both bounds beside them, the RESULTS
section is replaced in place (a person's "### Reading" kept), the plot is a PNG of the size
asked. The real run sweeps N = 2 libtorrent leechers peer-to-peer and client-server behind
a 8 Mbit/s seeder in the lab: in the client-server run the seeder must have sent both
copies and the leechers none (the lab's confinement works), and both runs' figures reach
the JSON, the plot and the RESULTS section. Needs root, tc, opentracker and libtorrent:
skipped without them, FAILED under CI=true.
"""

from __future__ import annotations

import io
import json
import os
import struct
from pathlib import Path

import pytest
from bench.sweep.plot import render_sweep_plot
from bench.sweep.report import Point, detail_table, load_points, save_points, summary_table
from bench.sweep.run import SECTION, main, parse_modes

from bitswarm_lab.swarm_plan import plan_swarm
from bitswarm_lab.swarm_run import unavailable_reason

MiB = 1 << 20
MBIT = 10**6


def point(mode: str, n: int, t_all: float | None, *, t_min: float = 6.7) -> Point:
    return Point(
        mode=mode, leechers=n, size=16 * MiB, seed_up_bps=20 * MBIT, leech_up_bps=20 * MBIT,
        t_min=t_min, t_all=t_all, first_byte_last=1.0, seeder_copies=1.2,
        leecher_copies=0.9, cpu_seconds=3.0, load_start=2.0, load_end=3.5,
        failure=None if t_all is not None else "not complete after 80 s: L7",
    )  # fmt: skip


POINTS = [
    point("bitswarm", 1, 7.0),
    point("bitswarm-cs", 1, 7.2),
    point("bitswarm", 4, 8.0),
    point("bitswarm-cs", 4, 28.0, t_min=4 * 6.7),
    point("libtorrent", 4, None),
]


def test_modes_name_a_program_and_peer_to_peer_or_client_server() -> None:
    modes = parse_modes("bitswarm, libtorrent-cs")
    assert [(m.name, m.impl, m.client_server) for m in modes] == [
        ("bitswarm", "bitswarm", False),
        ("libtorrent-cs", "libtorrent", True),
    ]


def test_summary_table_has_t_all_and_ratio_per_mode_and_n() -> None:
    lines = summary_table(POINTS).splitlines()
    assert lines[0] == (
        "| N | T_min p2p s | T_min c-s s (N·F/u_s) | bitswarm T_all s (T_min/T_all) "
        "| bitswarm-cs T_all s (T_min/T_all) | libtorrent T_all s (T_min/T_all) |"
    )
    assert lines[2] == "| 1 | 6.7 | 6.7 | 7.0 (0.96) | 7.2 (0.93) | not run |"
    assert lines[3].startswith("| 4 | 6.7 | 26.8 | 8.0 (0.84) | 28.0 (0.96) | unfinished (")
    assert len(lines) == 4
    assert POINTS[3].ratio == pytest.approx(26.8 / 28.0)
    assert POINTS[4].ratio is None


def test_detail_table_has_one_row_per_run_with_its_load() -> None:
    rows = detail_table(POINTS).splitlines()[2:]
    assert len(rows) == len(POINTS)
    assert rows[3] == (
        "| 4 | bitswarm-cs | 26.8 | 28.0 | 0.957 | 1.0 | 1.20 | 0.90 | 3.0 | 2.0 / 3.5 |"
    )


def test_points_survive_their_json(tmp_path: Path) -> None:
    save_points(tmp_path / "sweep.json", POINTS)
    assert load_points(tmp_path / "sweep.json") == POINTS


def test_plot_is_a_png_of_the_size_asked() -> None:
    png = render_sweep_plot(POINTS, width=900, height=400)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (900, 400)
    with pytest.raises(ValueError):
        render_sweep_plot([])


def test_replot_rewrites_only_its_section_and_keeps_the_reading(tmp_path: Path) -> None:
    out = tmp_path / "out"
    save_points(out / "sweep.json", POINTS)
    results = tmp_path / "RESULTS.md"
    results.write_text(
        f"# Benchmark results\n\n## Before\n\nkept\n\n{SECTION}\n\nold table\n\n"
        "### Reading\n\nA person's words.\n\n## After\n\nkept too\n"
    )
    figure = tmp_path / "img" / "sweep.png"
    argv = ["--replot", "--out", str(out), "--write-results", str(results)]
    assert main([*argv, "--figure", str(figure)]) == 1  # one run did not finish
    text = results.read_text()
    assert "old table" not in text and "| 4 | 6.7 | 26.8 | 8.0 (0.84)" in text
    assert text.count(SECTION) == 1 and "A person's words." in text
    assert "## Before\n\nkept" in text and text.rstrip().endswith("## After\n\nkept too")
    copy = figure.read_bytes()
    assert copy[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", copy[16:24]) == (1200, 520)
    assert 5_000 < len(copy) < len((out / "sweep.png").read_bytes())


def require_lab() -> None:
    plan = plan_swarm(
        [("libtorrent", 1)], [("libtorrent", 2)], size=MiB, piece_size=1 << 16,
        up_bps=8 * MBIT, seed_up_bps=8 * MBIT,
    )  # fmt: skip
    reason = unavailable_reason(plan)
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"the lab cannot run: {reason} (CI=true: it must)", pytrace=False)
    pytest.skip(f"the lab cannot run: {reason}")


@pytest.mark.netns
@pytest.mark.interop
@pytest.mark.timeout(120)  # two lab runs, a few seconds each on a quiet machine
def test_a_small_sweep_measures_peer_to_peer_and_client_server(tmp_path: Path) -> None:
    require_lab()
    out = tmp_path / "out"
    results = tmp_path / "RESULTS.md"
    code = main([
        "--counts", "2", "--modes", "libtorrent,libtorrent-cs", "--size", "1MiB",
        "--seed-up", "8mbit", "--up", "8mbit", "--out", str(out),
        "--write-results", str(results),
    ])  # fmt: skip
    records = json.loads((out / "sweep.json").read_text())
    assert code == 0, records
    p2p, cs = load_points(out / "sweep.json")
    seconds = MiB * 8 / (8 * MBIT)
    assert (p2p.mode, p2p.leechers, cs.mode, cs.leechers) == ("libtorrent", 2, "libtorrent-cs", 2)
    assert p2p.t_min == pytest.approx(seconds) and cs.t_min == pytest.approx(2 * seconds)
    assert p2p.t_all is not None and cs.t_all is not None
    # Client-server: the seeder's link carried both copies, the leechers' only ACKs and
    # requests (a leecher serving the other would have sent a sizeable part of 1 MiB).
    assert cs.seeder_copies is not None and cs.seeder_copies >= 2.0
    assert cs.leecher_copies is not None and cs.leecher_copies < 0.1
    # The shaping holds: nobody beats the bound by more than tc's burst allows.
    assert cs.ratio is not None and cs.ratio <= 1.05
    png = (out / "sweep.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(io.BytesIO(png).getvalue()) > 10_000
    assert SECTION in results.read_text() and "| 2 | 1.0 | 2.1 |" in results.read_text()
