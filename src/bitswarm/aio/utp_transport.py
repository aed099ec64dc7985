"""`UtpTransport`: one uTP connection seen as an asyncio `Transport` by its protocol.

The peer code (`PeerProtocol`, an `asyncio.BufferedProtocol`) and any layer that wraps a
transport need no change to run over uTP: received bytes are copied into the protocol's
`get_buffer()` and announced with `buffer_updated`; `write` queues into the `UtpSocket`
(pausing the writer above the high-water mark, resuming it on the core's `Writable`);
`pause_reading` keeps what arrives in a backlog that shrinks the window the core
advertises, so a slow reader slows the sender (BEP 29 ``wnd_size``); `close` sends FIN
after the queued bytes and `abort` sends ST_RESET.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from ..utp import Closed, Connected, DataReceived, Eof, UtpEvent, UtpSocket, Writable

__all__ = ["UtpRefused", "UtpTransport"]

Addr = tuple[str, int]


class UtpRefused(ConnectionRefusedError):
    """The peer answered our SYN with FIN or RESET: it is there and hung up at once (a
    busy or not yet ready client; qBittorrent does it), so a new SYN soon may well work."""


class UtpManager(Protocol):
    """What a transport needs of the manager of its UDP socket (aio/utp.py)."""

    loop: asyncio.AbstractEventLoop
    sockname: Addr

    def mark_dirty(self, transport: UtpTransport) -> None: ...
    def flush(self, transport: UtpTransport) -> None: ...
    def forget(self, transport: UtpTransport) -> None: ...


class UtpTransport(asyncio.Transport):
    """The transport of one uTP connection (see the module docstring)."""

    def __init__(self, manager: UtpManager, core: UtpSocket, address: Addr, *,
                 connected: asyncio.Future[None] | None = None) -> None:  # fmt: skip
        super().__init__()
        self.manager = manager
        self.core = core
        self.address = address
        self._protocol: asyncio.BufferedProtocol | None = None
        self._connected = connected
        self._paused_reading = False
        self._writing_paused = False
        self._backlog = bytearray()
        self._eof_pending = False
        self._closing = False
        self._lost = False
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None

    # ------------------------------------------------------------ asyncio.Transport
    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "peername":
            return self.address
        if name == "sockname":
            return self.manager.sockname
        if name == "socket":
            return None  # no socket of its own: the UDP one is shared
        return default

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        assert isinstance(protocol, asyncio.BufferedProtocol)
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        assert self._protocol is not None
        return self._protocol

    def is_closing(self) -> bool:
        return self._closing or self._lost

    def is_reading(self) -> bool:
        return not self._paused_reading

    def pause_reading(self) -> None:
        self._paused_reading = True

    def resume_reading(self) -> None:
        if not self._paused_reading:
            return
        self._paused_reading = False
        if self._backlog:
            data = bytes(self._backlog)
            self._backlog.clear()
            self._deliver(data)
        if not self._paused_reading:
            self.core.set_read_backlog(len(self._backlog))
            if self._eof_pending and not self._backlog:
                self._eof_pending = False
                self._eof()
            self.manager.mark_dirty(self)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        if high is not None:
            self.core.send_high_water = high
            self.core.send_low_water = low if low is not None else high // 4

    def get_write_buffer_size(self) -> int:
        return self.core.unsent

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self.core.send_low_water, self.core.send_high_water

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or self._lost or not data:
            return
        if self.core.send(data) and not self._writing_paused and self._protocol is not None:
            self._writing_paused = True
            self._protocol.pause_writing()
        self.manager.mark_dirty(self)

    def can_write_eof(self) -> bool:
        return False

    def close(self) -> None:
        if self._closing or self._lost:
            return
        self._closing = True
        self.core.close()
        self.manager.mark_dirty(self)

    def abort(self) -> None:
        if self._lost:
            return
        self._closing = True
        self.core.abort()
        self.manager.flush(self)  # sends the RESET and reports Closed

    # ------------------------------------------------------------ driven by the manager
    def after_connect(self) -> None:
        """The protocol of an outgoing connection is attached: send what it wrote."""
        self.manager.mark_dirty(self)

    def dispatch(self, events: list[UtpEvent]) -> None:
        for event in events:
            match event:
                case DataReceived(data=data):
                    if self._paused_reading:
                        self._backlog += data
                        self.core.set_read_backlog(len(self._backlog))
                    else:
                        self._deliver(data)
                case Eof():
                    if self._paused_reading and self._backlog:
                        self._eof_pending = True
                    else:
                        self._eof()
                case Writable():
                    if self._writing_paused and self._protocol is not None:
                        self._writing_paused = False
                        self._protocol.resume_writing()
                case Connected():
                    if self._connected is not None and not self._connected.done():
                        self._connected.set_result(None)
                case Closed(reason=reason):
                    self._connection_lost(reason)

    def rearm(self, deadline: float | None) -> None:
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = deadline
        if deadline is not None and not self._lost:
            self._timer = self.manager.loop.call_at(deadline, self._on_timer)

    # ------------------------------------------------------------ internals
    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        self.core.handle_timer(self.manager.loop.time())
        self.manager.flush(self)

    def _deliver(self, data: bytes) -> None:
        protocol = self._protocol
        if protocol is None or self._lost:
            return
        view = memoryview(data)
        while view:
            if self._paused_reading:  # the protocol paused us while reading a part
                self._backlog += view
                self.core.set_read_backlog(len(self._backlog))
                return
            buf = memoryview(protocol.get_buffer(len(view))).cast("B")
            n = min(len(buf), len(view))
            if n == 0:
                self._backlog += view
                self.core.set_read_backlog(len(self._backlog))
                return
            buf[:n] = view[:n]
            protocol.buffer_updated(n)
            view = view[n:]

    def _eof(self) -> None:
        protocol = self._protocol
        if protocol is None or self._lost:
            return
        if not protocol.eof_received():
            self.close()

    def _connection_lost(self, reason: str) -> None:
        if self._lost:
            return
        self._lost = True
        self._closing = True
        self.rearm(None)
        self.manager.forget(self)
        if self._connected is not None and not self._connected.done():
            cls = UtpRefused if reason == "refused" else ConnectionError
            self._connected.set_exception(cls(f"uTP connect failed: {reason}"))
            return
        if self._protocol is not None:
            exc = None if reason in ("closed", "aborted") else ConnectionError(f"uTP {reason}")
            self._protocol.connection_lost(exc)
