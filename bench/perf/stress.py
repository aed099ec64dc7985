"""`stress-ng --cpu 1` beside a transfer: P1's "shared machine" variant (issue 15, target 1).

A leecher that spends more CPU per GiB loses more of its rate when another program keeps
a core busy: on a 2-core machine with one core taken, the seeder, the leecher's threads
and the kernel's writeback share the other. P1 therefore measures the libtorrent-seeder
pair a second time with `stress-ng --cpu 1` (one worker spinning on CPU methods) started
before the seeder and stopped after the leecher has finished, for bitswarm and libtorrent
alike, runs alternating. The stress process is a child of the bench, so `LoadWatch` counts
it as ours and does not call such a run disturbed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from types import TracebackType

__all__ = ["STRESS_COMMAND", "CpuStress", "stress_unavailable"]

STRESS_COMMAND = ("stress-ng", "--cpu", "1", "--quiet")


def stress_unavailable() -> str | None:
    """Why the stressed variant cannot run here, or None."""
    if shutil.which(STRESS_COMMAND[0]) is None:
        return "stress-ng is not installed (scripts/install-system-deps.sh installs it)"
    return None


class CpuStress:
    """`stress-ng --cpu 1` for the span of a `with` block (its own process group, so the
    worker it forks is stopped with it)."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> CpuStress:
        self._process = subprocess.Popen(
            STRESS_COMMAND,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        except ProcessLookupError:
            process.wait()
