"""`python -m bench daemon` in small: bitswarm alone, 20 torrents, one run, no Chromium.

The benchmark itself is not part of the suite; this checks that it still runs against
the daemon as it is (its APIs, its ready line) and that it writes its RESULTS.md
section with every measured column filled, leaving the other sections alone.
"""

from __future__ import annotations

from pathlib import Path

from bench.daemon import main
from bench.service.report import HEADING


def test_daemon_bench_runs_on_bitswarm_alone(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\n## Other\n\nkept\n")
    argv = ["--torrents", "20", "--runs", "1", "--only", "bitswarm", "--loads", "seeding"]
    argv += ["--idle-seconds", "0.5", "--settle", "0", "--calls", "5", "--no-webui"]
    argv += ["--workdir", str(tmp_path / "work"), "--write-results", str(results)]
    assert main(argv) == 0
    text = results.read_text()
    assert "## Other\n\nkept\n" in text and text.count(HEADING) == 1
    row = next(line for line in text.splitlines() if line.startswith("| seeding | bitswarm |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert all(c != "–" for c in cells[:8]), row  # web UI (skipped) is the only blank
    assert "daemon --torrents 20 --runs 1" in text
    assert main(argv) == 0  # a second write replaces the section
    assert results.read_text().count(HEADING) == 1
