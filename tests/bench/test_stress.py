"""bench/perf/stress.py: `stress-ng --cpu 1` runs for the span of the `with` block and
leaves nothing behind (its forked worker included), so P1's stressed runs stop cleanly."""

from __future__ import annotations

import os
import time
from pathlib import Path

from bench.perf.stress import CpuStress

from tests.interop.tools import require_program


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _cpu_of_group(pgid: int) -> float:
    total = 0.0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # pgrp
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def test_stress_keeps_a_core_busy_and_stops() -> None:
    require_program("stress-ng")
    with CpuStress() as stress:
        process = stress._process
        assert process is not None
        pgid = process.pid
        deadline = time.monotonic() + 30
        while _cpu_of_group(pgid) < 0.2:  # its worker spins
            assert time.monotonic() < deadline, "stress-ng used no CPU"
            time.sleep(0.1)
    assert process.poll() is not None
    deadline = time.monotonic() + 10
    while _group_alive(pgid):
        assert time.monotonic() < deadline, "stress-ng's worker outlived the block"
        time.sleep(0.05)
