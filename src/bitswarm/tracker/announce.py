"""What a client asks a tracker and what it hears back, for every transport.

The HTTP codec (BEP 3, 23, 7, 48), the UDP core (BEP 15) and the tier policy (BEP 12)
share these values, so the session never needs to know which transport answered.
Requests validate themselves when built: a wrong-sized info-hash or a negative byte
count is our bug (`LocalProtocolError`), caught before it reaches any tracker.

Errors a person sees come in two kinds:

* `TrackerFailure`: the tracker answered and refused (BEP 3 ``failure reason``, or the
  BEP 15 error action 3). Retrying the same request soon will not help.
* `TrackerUnreachable`: no usable answer (timeout, refused connection, garbage or an
  HTML page instead of bencoding). `TrackerResponseError` is the "garbage" case and is
  also a `RemoteProtocolError`, since the remote broke the protocol.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import BitswarmError, LocalProtocolError, RemoteProtocolError

__all__ = [
    "AnnounceEvent",
    "AnnounceRequest",
    "AnnounceResponse",
    "PeerAddress",
    "ScrapeResponse",
    "ScrapeStats",
    "ScrapeUnsupported",
    "TrackerFailure",
    "TrackerResponseError",
    "TrackerUnreachable",
    "one_line",
]

_U64_MAX = 2**63 - 1  # BEP 15 carries byte counts as signed 64-bit integers
_MESSAGE_LIMIT = 300


def one_line(text: str, limit: int = _MESSAGE_LIMIT) -> str:
    """`text` with control characters flattened to spaces and cut to `limit` characters.

    Tracker-supplied strings end up in logs and on the command line, which print one
    line per error; a reason with embedded newlines or escape codes must not break that.
    """
    flat = "".join(c if c.isprintable() else " " for c in text)
    flat = " ".join(flat.split())
    if len(flat) > limit:
        flat = flat[: limit - 3] + "..."
    return flat


class TrackerFailure(BitswarmError):
    """The tracker refused the request and said why (BEP 3 ``failure reason``)."""

    def __init__(self, reason: str, *, url: str | None = None) -> None:
        self.reason = reason
        self.url = url
        where = f"tracker {url}" if url else "tracker"
        super().__init__(f"{where} refused: {one_line(reason) or '(no reason given)'}")


class TrackerUnreachable(BitswarmError):
    """No usable answer from the tracker: timeout, refused connection, bad response."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


class TrackerResponseError(TrackerUnreachable, RemoteProtocolError):
    """The tracker answered with bytes that are not a valid response."""


class ScrapeUnsupported(TrackerUnreachable):
    """The tracker URL offers no scrape: its last path part has no ``announce`` (BEP 48)."""


class AnnounceEvent(enum.Enum):
    """The ``event`` of an announce (BEP 3); the value is its HTTP spelling."""

    #: a regular re-announce (the key is left out of HTTP requests)
    NONE = ""
    #: the first announce of a download
    STARTED = "started"
    #: sent once, when the download finishes (never if it was complete when started)
    COMPLETED = "completed"
    #: the client is leaving the swarm
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class PeerAddress:
    """One peer a tracker told us about. `peer_id` is only in BEP 3 dictionary lists."""

    host: str
    port: int
    peer_id: bytes | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AnnounceRequest:
    """One announce, as both transports send it.

    Keyword-only, because five neighbouring integers are too easy to swap. `key` is the
    BEP 7 per-session random value (32 bits) that lets a tracker match our announces
    across addresses; `tracker_id` echoes what this tracker sent last time (BEP 3).
    """

    info_hash: bytes
    peer_id: bytes
    port: int
    uploaded: int
    downloaded: int
    left: int
    event: AnnounceEvent
    key: int
    numwant: int = 50
    compact: bool = True
    ip: str | None = None
    tracker_id: bytes | None = None

    def __post_init__(self) -> None:
        if len(self.info_hash) != 20:
            raise LocalProtocolError(f"info_hash must be 20 bytes, not {len(self.info_hash)}")
        if len(self.peer_id) != 20:
            raise LocalProtocolError(f"peer_id must be 20 bytes, not {len(self.peer_id)}")
        if not 0 <= self.port <= 0xFFFF:
            raise LocalProtocolError(f"port {self.port} is out of range")
        for name in ("uploaded", "downloaded", "left"):
            value = getattr(self, name)
            if not 0 <= value <= _U64_MAX:
                raise LocalProtocolError(f"{name} must be in 0..2**63-1, not {value}")
        if not 0 <= self.key <= 0xFFFFFFFF:
            raise LocalProtocolError(f"key must fit in 32 bits, not {self.key}")
        if not 0 <= self.numwant <= 0x7FFFFFFF:
            raise LocalProtocolError(f"numwant must be in 0..2**31-1, not {self.numwant}")
        if not isinstance(self.event, AnnounceEvent):
            raise LocalProtocolError(f"event must be an AnnounceEvent, not {self.event!r}")


@dataclass(frozen=True, slots=True)
class AnnounceResponse:
    """A successful announce reply. Counts the tracker did not send are None."""

    interval: int
    min_interval: int | None
    peers: tuple[PeerAddress, ...]
    complete: int | None
    incomplete: int | None
    tracker_id: bytes | None
    warning: str | None


@dataclass(frozen=True, slots=True)
class ScrapeStats:
    """Swarm counts for one info-hash (BEP 48 ``files`` entry / BEP 15 scrape triple)."""

    #: peers that have the whole torrent now (seeders)
    complete: int
    #: peers that ever finished downloading
    downloaded: int
    #: peers still downloading (leechers)
    incomplete: int


@dataclass(frozen=True, slots=True)
class ScrapeResponse:
    """A scrape reply: stats by 20-byte info-hash. Hashes the tracker left out are absent."""

    files: Mapping[bytes, ScrapeStats]
