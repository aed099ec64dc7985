"""The state of the machine's free memory, which decides what writing a download costs here.

This machine is a virtual machine whose guest gives free memory back to its host (free
page reporting: /sys/module/page_reporting). A page the guest touches again after that
costs a fault in the host, so writing into the page cache is several times dearer when
the memory it lands in was handed back than when it was freed a moment ago and reused.
Measured with a plain `os.pwrite` loop of 1 GiB into a new file: about 0.2 CPU s when
the memory was freed a moment before, 1.3 to 2.0 s once it had been returned. Which state a
download meets depends on how long ago the previous run's copy was deleted, so two
clients measured one after the other can differ by a second of CPU per GiB for nothing
they did.

The transfer benchmarks therefore call `settle()` right before each leecher starts: it
waits until the guest has stopped reporting freed pages, so every leecher, ours or not,
writes into returned memory, as the first download on a fresh machine does.
`first_touch_cost` measures, in the same state, what a plain pwrite loop pays for the
same amount of data: the floor that any client writing through the page cache pays here.
On a machine without page reporting, `settle()` returns at once.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

__all__ = ["REPORTED_KIB", "first_touch_cost", "settle"]

REPORTED_KIB = Path("/sys/module/page_reporting/parameters/reported_kib")
_CHUNK = 1 << 20


def _reported() -> int | None:
    try:
        return int(REPORTED_KIB.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def settle(quiet: float = 4.5, limit: float = 20.0) -> float:
    """Wait until no freed memory has been reported to the host for `quiet` seconds (at
    most `limit` seconds in all); return the seconds waited (0 without page reporting).

    The guest reports in passes about 2 s apart, a few hundred MiB at a time (after 1 GiB
    was freed: 464 MiB after 2.5 s, 640 MiB after 6.5 s, then a trickle), so `quiet`
    spans two passes.
    """
    last = _reported()
    if last is None:
        return 0.0
    start = now = time.monotonic()
    still_since = now
    while now - still_since < quiet and now - start < limit:
        time.sleep(0.1)
        now = time.monotonic()
        current = _reported()
        if current != last:
            last, still_since = current, now
    return now - start


def first_touch_cost(size: int, folder: Path) -> float:
    """CPU seconds a plain pwrite loop takes to write `size` bytes into a new file under
    `folder`, after `settle()`: the page-cache floor of a download of that size here."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"first-touch-{os.getpid()}.tmp"
    block = os.urandom(_CHUNK)
    settle()
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    try:
        start = time.thread_time()
        for offset in range(0, size, _CHUNK):
            os.pwrite(fd, block[: min(_CHUNK, size - offset)], offset)
        return time.thread_time() - start
    finally:
        os.close(fd)
        path.unlink()
