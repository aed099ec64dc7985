"""One DHT state file per running process: `claim_state_file`.

The DHT state file holds the node id (BEP 5: a node keeps its id across restarts). When
two bitswarm processes on one machine (two `download`s, a `download` next to the daemon)
were handed the same file they both took the id in it, and two nodes with one id confuse
every routing table that meets them. So a process *claims* the file: it takes an
exclusive, non-blocking `flock` on a lock file beside it (``dht.state.lock``) and holds
it until it closes the DHT. A process that finds the lock held tries the next sibling,
``dht-2.state``, ``dht-3.state``, ...: it gets an id of its own, kept for the next
process that finds the first files busy. The kernel drops a dead process's lock, so a
crash never leaves a file claimed. Where `fcntl` does not exist the file is used as is.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Linux or the BSDs
    fcntl = None  # type: ignore[assignment]

__all__ = ["MAX_SIBLINGS", "StateClaim", "claim_state_file", "sibling_path"]

log = logging.getLogger("bitswarm.dht")

MAX_SIBLINGS = 32  # processes at once on one state folder that each keep their id


def sibling_path(path: Path, n: int) -> Path:
    """The `n`-th candidate (1: `path` itself): ``dht.state`` -> ``dht-2.state``."""
    if n == 1:
        return path
    return path.with_name(f"{path.stem}-{n}{path.suffix}")


class StateClaim:
    """A state file this process holds (`path`), until `release`."""

    def __init__(self, path: Path, fd: int | None) -> None:
        self.path = path
        self._fd = fd

    def release(self) -> None:
        """Let another process take the file (closing the lock file drops the lock)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def claim_state_file(path: Path) -> StateClaim | None:
    """The first of `path`, ``<stem>-2<suffix>``, ... that no other process holds, claimed.

    None when all `MAX_SIBLINGS` are held or the folder cannot hold a lock file: the
    caller then runs with a fresh id and saves nothing.
    """
    if fcntl is None:  # pragma: no cover
        return StateClaim(path, None)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        log.warning("cannot create the DHT state folder %s: %s", path.parent, exc)
        return None
    for n in range(1, MAX_SIBLINGS + 1):
        candidate = sibling_path(path, n)
        lock = candidate.with_name(candidate.name + ".lock")
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            log.warning("cannot open the DHT state lock %s: %s", lock, exc)
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held by another process
            os.close(fd)
            continue
        if n > 1:
            log.info("DHT state %s is in use by another process: using %s", path, candidate)
        return StateClaim(candidate, fd)
    log.warning("all %d DHT state files beside %s are in use: a fresh id", MAX_SIBLINGS, path)
    return None
