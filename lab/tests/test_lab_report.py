"""How a lab run is reported: text table, JSON and plot (bitswarm_lab.lab_report), from a
result made by hand, so every figure can be checked against the plan it came from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bitswarm_lab.lab_report import format_bytes, result_json, result_text
from bitswarm_lab.progress_plot import result_plot
from bitswarm_lab.swarm_plan import plan_swarm
from bitswarm_lab.swarm_run import LabResult, PeerOutcome

MiB = 1 << 20
MBIT = 10**6


def make_result(t_all: float | None, failure: str | None = None) -> LabResult:
    plan = plan_swarm(
        [("bitswarm", 1)], [("bitswarm", 1), ("libtorrent", 1)], size=8 * MiB,
        piece_size=1 << 18, up_bps=10 * MBIT, seed_up_bps=20 * MBIT,
    )  # fmt: skip
    completions = {"S1": None, "L1": 3.5, "L2": t_all}
    samples = ((0.0, 0.0), (2.0, 0.5), (4.0, 1.0))
    peers = tuple(
        PeerOutcome(
            plan=peer,
            address=f"10.78.0.{index + 2}",
            completed=completions[peer.name],
            sent_bytes=(index + 1) * 4 * MiB,
            cpu_seconds=0.5,
            samples=samples,
            detail="",
            log_dir=Path("/tmp"),
        )
        for index, peer in enumerate(plan.peers)
    )
    return LabResult(plan, plan.bound(), t_all, 0.3, peers, ("bsw-1-a",), failure)


def test_text_gives_t_all_t_min_e_and_a_row_per_peer() -> None:
    result = make_result(4.2)
    text = result_text(result)
    t_min = 8 * MiB * 8 / (20 * MBIT)  # 3.36 s: seed-limited
    assert result.bound.t_min == pytest.approx(t_min)
    assert "T_all  4.20 s" in text
    assert f"T_min  {t_min:.2f} s" in text
    assert f"E      {t_min / 4.2:.3f}" in text
    rows = [line.split() for line in text.splitlines() if line.startswith(("S1", "L1", "L2"))]
    assert [row[:2] for row in rows] == [["S1", "bitswarm"], ["L1", "bitswarm"],
                                         ["L2", "libtorrent"]]  # fmt: skip
    assert rows[0][2:7] == ["10.78.0.2", "20mbit", "unlimited", "-", "4.0"]
    assert rows[0][7] == "0.50"  # 4 MiB sent of an 8 MiB file: half a copy
    assert rows[2][5] == "4.20"


def test_an_unfinished_run_says_so() -> None:
    result = make_result(None, failure="not complete after 10 s: L2")
    assert result.efficiency is None
    text = result_text(result)
    assert "E      -" in text and "FAILED: not complete after 10 s: L2" in text


def test_json_holds_the_same_figures_and_the_samples() -> None:
    result = make_result(4.2)
    document = json.loads(json.dumps(result_json(result)))
    assert document["t_all"] == 4.2
    assert document["t_min"] == pytest.approx(result.bound.t_min)
    assert document["efficiency"] == pytest.approx(result.bound.t_min / 4.2)
    assert document["bottleneck"] == "seed upload"
    assert document["terms"]["slowest_download"] is None
    assert [peer["name"] for peer in document["peers"]] == ["S1", "L1", "L2"]
    assert document["peers"][1]["samples"] == [[0.0, 0.0], [2.0, 0.5], [4.0, 1.0]]
    assert document["peers"][0]["up_bps"] == 20 * MBIT
    assert "samples" not in result_json(result, samples=False)["peers"][0]


def test_plot_is_a_png() -> None:
    png = result_plot(make_result(4.2))
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and png[12:16] == b"IHDR"


def test_sizes_read_as_people_write_them() -> None:
    assert format_bytes(64 * MiB) == "64 MiB"
    assert format_bytes(256 << 10) == "256 KiB"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(12) == "12 B"
