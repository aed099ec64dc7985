"""bench/perf/report.py and bench/perf/profiles.py: the RESULTS.md section and profile reading.

`merge_section` must replace only the performance section's subsections being rewritten,
keep the others and every other `## ` section byte for byte, and rebuild the summary; the
py-spy reader must attribute samples to functions with line numbers merged.
"""

from __future__ import annotations

from pathlib import Path

from bench.perf.profiles import read_stacks
from bench.perf.report import SECTION, TargetReport, Verdict, merge_section, write_results

OTHERS = (
    "# Benchmark results\n\nMachine: test.\n\n## Tracker\n\ntracker text\n| a | b |\n\n"
    "## DHT\n\ndht text\n"
)


def report(key: str, measured: str, met: bool | None) -> TargetReport:
    r = TargetReport(key, f"{key} title", f"perf.py {key.lower()}")
    r.verdicts.append(Verdict(f"{key} thing", "≥ 1.0×", measured, met))
    r.blocks.append(f"table of {key} {measured}")
    return r


def test_section_is_appended_once_and_other_sections_are_untouched() -> None:
    text = merge_section(OTHERS, "intro one", [report("P1", "0.9×", False)])
    assert text.startswith(OTHERS.rstrip("\n"))
    assert text.count(SECTION) == 1
    assert "- **P1 thing**: 0.9× (target ≥ 1.0×): NOT met" in text
    again = merge_section(text, "intro one", [report("P1", "0.9×", False)])
    assert again == text  # idempotent


def test_rewriting_one_target_keeps_the_other_subsections() -> None:
    both = [report("P1", "0.8×", False), report("P5", "0.95×", True)]
    first = merge_section(OTHERS, "intro", both)
    middle = first.replace("## DHT", "## Moved\n\nmoved\n\n## DHT")  # someone else's section
    second = merge_section(middle, "intro two", [report("P1", "1.1×", True)])
    assert "table of P1 1.1×" in second and "table of P1 0.8×" not in second
    assert "table of P5 0.95×" in second  # not rewritten, kept
    assert "## Moved\n\nmoved\n" in second and "dht text" in second and "tracker text" in second
    summary = second[second.index("perf summary") : second.index("/perf summary")]
    assert summary.index("P1 thing") < summary.index("P5 thing")
    assert "0.8×" not in summary and "1.1×" in summary
    assert "intro two" in second and "intro\n" not in second


def test_subsections_stay_in_target_order() -> None:
    text = merge_section("", "i", [report("P6", "x", None)])
    text = merge_section(text, "i", [report("P2", "y", True)])
    assert text.index("### P2 title") < text.index("### P6 title")
    assert "- **P6 thing**: x (recorded, no target)" in text


def test_write_results_rereads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    path.write_text(OTHERS)
    write_results(path, "intro", [report("P3", "1.2×", True)])
    path.write_text(path.read_text() + "\n## Later\n\nadded meanwhile\n")
    write_results(path, "intro", [report("P3", "1.3×", True)])
    text = path.read_text()
    assert "added meanwhile" in text and "1.3×" in text and "1.2×" not in text


def test_read_stacks_merges_lines_and_counts_bitswarm_frames(tmp_path: Path) -> None:
    raw = tmp_path / "stacks.raw"
    raw.write_text(
        "main (bitswarm/cli/main.py:10);_on_timer (/x/src/bitswarm/session/torrent.py:350) 7\n"
        "main (bitswarm/cli/main.py:10);_on_timer (/x/src/bitswarm/session/torrent.py:361) 3\n"
        "_worker (/usr/lib/python3.11/concurrent/futures/thread.py:83) 5\n"
        "not a stack line\n"
    )
    total, own, through = read_stacks(raw)
    assert total == 15
    assert own == {
        "bitswarm/session/torrent.py _on_timer": 10,
        "concurrent/futures/thread.py _worker": 5,
    }
    assert through["bitswarm/cli/main.py main"] == 10
    assert through["bitswarm/session/torrent.py _on_timer"] == 10
    assert "concurrent/futures/thread.py _worker" not in through
