"""What a `UtpSocket` tells its driver (drained with `UtpSocket.events()`)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Closed", "Connected", "DataReceived", "Eof", "UtpEvent", "Writable"]


@dataclass(frozen=True, slots=True)
class Connected:
    """The handshake finished (outgoing: our SYN was answered; incoming: a SYN came)."""


@dataclass(frozen=True, slots=True)
class DataReceived:
    """Bytes of the stream, in order."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Eof:
    """The peer sent FIN and every byte before it has been delivered."""


@dataclass(frozen=True, slots=True)
class Writable:
    """The unsent bytes fell below the low-water mark after `send` went over the high one."""


@dataclass(frozen=True, slots=True)
class Closed:
    """The connection is over: `reason` is "closed" (FIN exchange), "reset", "timed out"
    or "connect timed out". No datagram is sent for it after this event."""

    reason: str


UtpEvent = Connected | DataReceived | Eof | Writable | Closed
