"""An asyncio event loop on a thread that lives in a network namespace.

`setns(2)` with CLONE_NEWNET moves only the calling thread, and a socket stays in the
namespace it was created in. So a thread that enters a namespace first and then runs an
event loop gives every socket that loop's code opens -- a whole bitswarm `Session`: its
TCP listener, its uTP/UDP socket, its outgoing connections -- to that namespace, while the
test drives it from its own thread with `run(coro)` and reads its objects directly (the
LEDBAT state of a `UtpSocket`, say). Two of them in two namespaces are two hosts.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

__all__ = ["NamespaceLoop", "enter_namespace"]

T = TypeVar("T")
_CLONE_NEWNET = 0x40000000


def enter_namespace(netns: str) -> None:
    """Move the calling thread into network namespace `netns` (under /run/netns)."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(Path("/run/netns") / netns, os.O_RDONLY)
    try:
        if libc.setns(fd, _CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns into {netns}: {os.strerror(errno)}")
    finally:
        os.close(fd)


class NamespaceLoop:
    """`with NamespaceLoop(netns) as host: host.run(coro)`; leaving stops the loop."""

    def __init__(self, netns: str) -> None:
        self.netns = netns
        self.loop: asyncio.AbstractEventLoop | None = None
        self._ready: Future[asyncio.AbstractEventLoop] = Future()
        self._thread = threading.Thread(target=self._main, name=f"loop-{netns}", daemon=True)

    def _main(self) -> None:
        try:
            enter_namespace(self.netns)
            loop = asyncio.new_event_loop()
        except BaseException as exc:
            self._ready.set_exception(exc)
            return
        asyncio.set_event_loop(loop)
        self._ready.set_result(loop)
        try:
            loop.run_forever()
        finally:
            loop.close()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        """Run `coro` on the namespace's loop and wait for its result."""
        assert self.loop is not None, "not started"
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def __enter__(self) -> NamespaceLoop:
        self._thread.start()
        self.loop = self._ready.result(10)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
