"""Running out of file descriptors: a higher limit at start, and one log line, not a flood.

Issue 14: a tracker out of descriptors wrote about 100 asyncio tracebacks a second
(`accept() … Errno 24`), and kept a soft limit of 128 where the hard limit allowed 4096.

* `raise_open_file_limit` lifts the soft `RLIMIT_NOFILE` to the hard limit, as libtorrent
  and Transmission do at start (every peer, tracker client or RPC client is a socket).
* `AcceptErrors` is a loop exception handler: asyncio's servers already stop accepting for
  a second after EMFILE/ENFILE/ENOBUFS/ENOMEM (`ACCEPT_RETRY_DELAY`, as nginx and other
  servers pause), but report each one with a traceback; this handler turns them into one
  warning line per `interval` with a count, and passes every other error on to the
  handler it found (or the loop's default). A library's `Session` installs it on its
  caller's loop only while it runs, once per loop however many sessions share it, and
  gives the previous handler back at close unless the caller set another meanwhile: a
  library user's own handler keeps seeing every other exception.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import resource
from typing import Any

__all__ = ["AcceptErrors", "raise_open_file_limit"]

log = logging.getLogger("bitswarm.fdlimit")

OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
FALLBACK_CEILING = 1 << 20  # an unlimited hard limit: ask for this much


def raise_open_file_limit() -> int:
    """Lift the soft descriptor limit to the hard one (best effort); returns the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = FALLBACK_CEILING if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.debug("cannot raise the open-file limit to %d: %s", target, exc)
    return soft


class AcceptErrors:
    """`loop.set_exception_handler(AcceptErrors(loop))`: see the module docstring."""

    def __init__(self, loop: asyncio.AbstractEventLoop, *, interval: float = 10.0) -> None:
        self.interval = interval
        self.count = 0
        self._previous = loop.get_exception_handler()
        self._next_report = 0.0

    def install(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Chain in front of `loop`'s handler, unless an `AcceptErrors` is in place
        already (another session on the same loop); True if this one was installed."""
        current = loop.get_exception_handler()
        if isinstance(current, AcceptErrors):
            return False
        self._previous = current
        loop.set_exception_handler(self)
        return True

    def uninstall(self, loop: asyncio.AbstractEventLoop) -> None:
        """Give `loop` its previous handler back, if this one is still in place."""
        if loop.get_exception_handler() is self:
            loop.set_exception_handler(self._previous)

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if (
            isinstance(exc, OSError)
            and exc.errno in OUT_OF_RESOURCES
            and "accept" in str(context.get("message", ""))
        ):
            self.count += 1
            now = loop.time()
            if now >= self._next_report:
                log.warning(
                    "cannot accept connections: %s (%d times since the last report); "
                    "accepting pauses 1 s each time",
                    os.strerror(exc.errno or 0),
                    self.count,
                )
                self.count = 0
                self._next_report = now + self.interval
            return
        if "_start_serving" in repr(context.get("handle")):
            # asyncio's retry of a paused server that was closed meanwhile (at shutdown)
            # fails on the closed socket: nothing is lost, so no traceback either.
            log.debug("accept retry after close: %s", context.get("exception"))
            return
        if self._previous is not None:
            self._previous(loop, context)
        else:
            loop.default_exception_handler(context)
