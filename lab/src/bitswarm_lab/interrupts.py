"""Interrupt safety for the lab: SIGTERM unwinds like Ctrl-C, and clean-up is not cut short.

`bitswarm lab` owns namespaces, qdiscs and child processes that outlive it unless it removes
them. Ctrl-C (SIGINT) raises KeyboardInterrupt, which runs every `finally`; SIGTERM by
default kills the process on the spot, so `sigterm_raises_interrupt` turns it into the same
KeyboardInterrupt. Once clean-up has begun, `signals_deferred` keeps a second Ctrl-C from
abandoning it half-way (the signal is remembered and raised when clean-up is over). Outside
the main thread signals cannot be handled, and both managers do nothing there.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

__all__ = ["signals_deferred", "sigterm_raises_interrupt"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


@contextlib.contextmanager
def sigterm_raises_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt (as SIGINT does)."""
    if not _in_main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM for the block; raise KeyboardInterrupt after it if one came."""
    if not _in_main_thread():
        yield
        return
    received: list[int] = []

    def remember(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    previous = {signum: signal.signal(signum, remember) for signum in _SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if received:
        raise KeyboardInterrupt(f"signal {signal.Signals(received[0]).name} during clean-up")
