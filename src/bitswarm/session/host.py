"""`SessionHost`: the session as its torrents and magnet fetches see it.

A `TorrentRuntime`, a `MetadataFetch` and their `Announcer` and `Dialer` live inside a
`Session`, and each needs a little of it: our peer id and listen port, the global limits,
the disk pool, the shared rate buckets, the DHT. They depend on this protocol instead of on
`Session` itself, so the session imports its children and never the other way round (no
import cycle), and a child can be driven in a test by a small stand-in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol

from ..addresses import Addr

if TYPE_CHECKING:
    from ..aio.dht import DhtService
    from ..aio.disk_pool import DiskPool
    from ..aio.utp import UtpManager
    from ..ratelimit import TokenBucket
    from .config import SessionConfig

__all__ = ["SessionHost"]


class SessionHost(Protocol):
    """What a session offers the torrents and magnet fetches it runs (`Session` is one)."""

    @property
    def config(self) -> SessionConfig: ...
    @property
    def peer_id(self) -> bytes:
        """Ours (BEP 20), the same for every torrent."""
        ...

    @property
    def listen_port(self) -> int: ...
    @property
    def own_hosts(self) -> frozenset[str]:
        """The addresses of this host, to recognise ourselves among peers."""
        ...

    @property
    def source_host(self) -> str | None:
        """The address outgoing connections and announces come from (None: any)."""
        ...

    @property
    def disk_pool(self) -> DiskPool:
        """The threads every torrent's `DiskWorker` shares."""
        ...

    @property
    def upload_bucket(self) -> TokenBucket:
        """The session-wide upload limit (each torrent has its own as well)."""
        ...

    @property
    def download_bucket(self) -> TokenBucket: ...
    @property
    def dht(self) -> DhtService | None:
        """The session's DHT node (BEP 5), None when it runs none."""
        ...

    def source_for(self, host: str) -> tuple[str, int] | None:
        """`local_addr` for a connection to `host`, when `source_host` suits its family."""
        ...

    def is_own_address(self, addr: Addr) -> bool:
        """Whether `addr` is this session's listening socket."""
        ...

    def is_blocked(self, host: str) -> bool:
        """Whether the session's IP filter refuses the peer address `host`."""
        ...

    def connection_count(self) -> int:
        """Peer connections open in the whole session."""
        ...

    def utp_for(self, host: str) -> UtpManager | None:
        """The uTP socket of the peer port (BEP 29) for `host`'s address family, None when
        uTP is off or that family has none."""

    def half_open_count(self) -> int:
        """Outgoing connection attempts in flight in the whole session."""
        ...

    def dht_lookup(
        self,
        info_hash: bytes,
        found: Callable[[Iterable[Addr]], None],
        *,
        announce: bool = False,
    ) -> None:
        """Ask the DHT for peers of `info_hash` (and maybe announce us); a no-op without one."""
        ...
