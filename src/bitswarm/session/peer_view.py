"""Snapshots of a torrent's peers and pieces, for peer tables and piece maps.

Read from what the torrent's core and the peers' sans-IO connections already hold (rate
meters, choke and interest flags, bitfields, the picker's availability): no disk access
and no I/O, so a front-end may ask every second for every torrent.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..aio.peer import PeerProtocol
from ..core.torrent import TorrentCore
from ..peer_id import client_name
from .status import PeerSnapshot, peer_progress

__all__ = ["peer_snapshots", "piece_states", "readable_client"]

MAX_CLIENT = 64  # characters of a client name shown (the BEP 10 "v" is the peer's to choose)


def readable_client(version: str | None, peer_id: bytes | None) -> str:
    """The peer's client: its BEP 10 ``v`` when it sent one (cleaned of control characters,
    bounded), else the name its peer id spells (BEP 20), else "unknown"."""
    if version:
        text = "".join(c for c in version if c.isprintable()).strip()[:MAX_CLIENT]
        if text:
            return text
    if peer_id is None:
        return "unknown"
    return client_name(peer_id)


def peer_snapshots(
    protocols: Iterable[PeerProtocol], core: TorrentCore | None, now: float
) -> list[PeerSnapshot]:
    """One `PeerSnapshot` per connected peer whose handshake arrived (a peer still
    handshaking is not a peer of the torrent yet)."""
    out: list[PeerSnapshot] = []
    if core is None:
        return out
    for proto in protocols:
        conn = proto.conn
        info = core.peers.get(proto)
        if conn is None or info is None or conn.closed or conn.remote_peer_id is None:
            continue
        ext = conn.remote_extension_handshake
        have = conn.peer_has
        host, port = proto.address
        if not proto.outgoing:  # an incoming socket's port is ephemeral: show its listen port
            listen = core.listen_address(proto)
            if listen is not None:
                port = listen[1]
        out.append(
            PeerSnapshot(
                host=host,
                port=port,
                client=readable_client(ext.v if ext is not None else None, conn.remote_peer_id),
                progress=peer_progress(have.count(), have.size),
                download_rate=info.down.rate(now),
                upload_rate=info.up.rate(now),
                downloaded=info.down.total,
                uploaded=info.up.total,
                am_choking=conn.am_choking,
                am_interested=conn.am_interested,
                peer_choking=conn.peer_choking,
                peer_interested=conn.peer_interested,
                outgoing=proto.outgoing,
                snubbed=core.is_snubbed(info, now),
                seed=have.size > 0 and have.all(),
                peer_id=conn.remote_peer_id,
                encrypted=proto.encrypted,
                transport=proto.transport_name,
            )
        )
    return out


def piece_states(core: TorrentCore | None, num_pieces: int) -> tuple[bytes, list[int], list[int]]:
    """(our have-bitfield in BEP 3 wire layout, the pieces partly received or in flight,
    how many connected peers have each piece); all empty-handed while checking."""
    if core is None:
        return bytes((num_pieces + 7) // 8), [], [0] * num_pieces
    partial, availability = core.piece_map()
    return core.have.to_bytes(), partial, availability
