"""`SessionConfig`: how a session listens, limits and finds peers (plain settings, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..wire.mse import DEFAULT_ENCRYPTION, Encryption

__all__ = ["DEFAULT_PORT", "TRANSPORTS", "SessionConfig"]

TRANSPORTS = ("tcp", "utp", "both")

DEFAULT_PORT = 6881


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """How a `Session` listens, connects and limits; every field has a usable default.

    The port is tried first and, with `find_free_port`, the next ones up to 50 later;
    `listen_port=0` takes any free port. Rates are bytes per second; DHT and LSD are off
    unless asked for, so nothing leaves the machine unasked but tracker announces.
    `encryption` is the MSE/PE policy for incoming and outgoing connections
    (wire/mse/policy.py; `--encryption`).
    """

    listen_host: str | None = None  # None: every interface, IPv4 and IPv6
    listen_port: int = DEFAULT_PORT
    find_free_port: bool = True  # try the next ports when the one asked for is taken
    max_peers: int = 50  # per torrent
    max_connections: int = 400  # for the whole session
    upload_limit: float = 0.0  # bytes/s for the whole session; 0 = unlimited
    download_limit: float = 0.0
    dht_port: int | None = None  # run a DHT node (BEP 5) on this UDP port; None = no DHT
    dht_bootstrap: tuple[tuple[str, int], ...] = ()
    dht_state: Path | None = None  # the routing table, saved on exit and reused (BEP 5)
    dht_rate_limit: float = 20.0  # queries/s per source address (0: off, for loopback labs)
    lsd: bool = False  # BEP 14 local service discovery (multicast on the local network)
    lsd_interface: str = "0.0.0.0"
    lsd_port: int = 6771
    # write pieces with O_DIRECT, past the page cache (storage/filesystem.py; on by default
    # since issue 15: less CPU per GiB, see bench/RESULTS.md); False: through the page cache
    direct_io: bool = True
    encryption: Encryption = DEFAULT_ENCRYPTION  # MSE/PE: disabled/allowed/preferred/required
    # seconds between resume saves while pieces arrive (and at completion, pause, stop):
    # a crash or kill loses at most this much verified work to a recheck
    resume_save_interval: float = 30.0
    # "tcp", "utp" (BEP 29) or "both": which transports peers are dialled and accepted on;
    # with both, a dial races them, uTP first and TCP 250 ms later (session/racing.py)
    transport: str = "both"
    # peer slots (session/slots.py; defaults as libtorrent's settings of the same meaning)
    handshake_timeout: float = 10.0  # a socket without a complete BEP 3 handshake is closed
    inactivity_timeout: float = 600.0  # neither side interested this long, near the limit
    no_request_timeout: float = 60.0  # seeding: unchoked, interested, yet no payload moved
    peer_replace_after: float = 60.0  # a useful newcomer replaces an interested peer this idle
    peer_slack: int = 10  # newcomers admitted over a full torrent's limit, on probation
    peer_probation: float = 5.0  # ... to show they are useful, or be closed
    peer_probation_cooldown: float = 60.0  # ... and their address refused while full
    peer_turnover: float = 0.04  # share of peers turned over per interval near the limit
    peer_turnover_cutoff: float = 0.9
    peer_turnover_interval: float = 300.0
    max_peers_per_ip: int = 1  # per torrent; loopback addresses are exempt
    max_half_open: int = 64  # outgoing connection attempts in flight, session-wide
