"""The harness's CPU and memory figures for a child: a sample taken as the child exits
must not erase the peak it reached (the benchmarks' "unsampled" runs came from that)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bitswarm_lab.peers.process import ResourceUsage, _later, _read_proc_usage

_HOLD_48_MIB = "x = b'\\1' * (48 << 20); import time; time.sleep(0.5)"


def test_a_sample_of_an_exiting_process_keeps_the_peak_seen_before() -> None:
    child = subprocess.Popen([sys.executable, "-c", _HOLD_48_MIB])
    try:
        usage = ResourceUsage(0.0, 0)
        deadline = time.monotonic() + 20
        while usage.peak_rss_bytes < 48 << 20 and time.monotonic() < deadline:
            sample = _read_proc_usage(child.pid)
            if sample is not None:
                usage = _later(usage, sample)
            time.sleep(0.01)
        assert usage.peak_rss_bytes >= 48 << 20
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped
        exiting = _read_proc_usage(child.pid)
        assert exiting is not None and exiting.peak_rss_bytes == 0  # /proc has no VmHWM now
        after = _later(usage, exiting)
    finally:
        child.wait()
    assert after.peak_rss_bytes == usage.peak_rss_bytes
    assert after.cpu_seconds == exiting.cpu_seconds
