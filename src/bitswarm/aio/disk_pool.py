"""`DiskPool`: the threads that do blocking disk work and hashing, shared by many torrents.

Every `DiskWorker` used to own a thread pool of up to cores + 2 threads, kept after its data
check: a session seeding 1,000 torrents held 3,665 threads doing nothing (bench/RESULTS.md,
P6). A session now owns one pool for all its torrents and shuts it down when it closes; a
worker made on its own (tests, tools) still makes a pool for itself.

Sizing: one thread per usable core hashes (hashlib releases the GIL), and a few more may
wait on the disk (a cold read, an fsync) without stalling the hashing.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from ..errors import LocalProtocolError

__all__ = ["DiskPool", "usable_cores"]

IO_THREADS = 4  # threads beyond the cores, for work that waits on the disk
MAX_THREADS = 32


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class DiskPool:
    """The threads that do blocking disk work and hashing for one or many `DiskWorker`s.

    `threads` defaults to the usable cores (hashing) plus a few threads that may sit in I/O
    waits; a `ThreadPoolExecutor` starts them only as work arrives, so an idle pool costs
    little. `hashing_threads` is how many a recheck keeps busy: one per core.
    """

    def __init__(self, threads: int | None = None) -> None:
        self.cores = usable_cores()
        if threads is None:
            threads = min(MAX_THREADS, self.cores + IO_THREADS)
        if threads < 1:
            raise LocalProtocolError("DiskPool needs threads >= 1")
        self.threads = threads
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="bitswarm-disk")
        self._shut = False

    @property
    def hashing_threads(self) -> int:
        return min(self.cores, self.threads)

    @property
    def is_shut_down(self) -> bool:
        return self._shut

    def shutdown(self) -> None:
        """Take no more work; idle threads exit now, busy ones when their job ends."""
        self._shut = True
        self.executor.shutdown(wait=False)
