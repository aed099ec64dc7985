"""What a `TorrentCore` asks its driver to do: disk work, disconnects, bans, status.

The core never touches a socket or a file. It drains these with `TorrentCore.actions()`;
the session carries each one out and reports back (`piece_checked`, `block_read`).
Messages to peers are not actions: the core queues them on the peers' sans-IO
connections and names those peers in `TorrentCore.touched_peers()`, whose sockets the
session then flushes.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass
from typing import TypeAlias

from ..addresses import PeerKey

__all__ = [
    "Action",
    "BanPeer",
    "DisconnectPeer",
    "PeersDiscovered",
    "PieceBuffer",
    "PieceVerified",
    "ReadBlock",
    "TorrentCompleted",
    "TorrentReopened",
    "VerifyPiece",
]

PieceBuffer: TypeAlias = bytearray | mmap.mmap
"""A piece's assembly buffer: a bytearray, or page-aligned anonymous memory (an mmap) that
a disk writing with O_DIRECT takes as it is, without copying it into an aligned buffer."""


@dataclass(frozen=True, slots=True)
class VerifyPiece:
    """Hash `data` off the loop; write it only if it matches; report `piece_checked`.

    `data` is the piece's assembly buffer, handed over (the core no longer touches it).
    """

    piece: int
    data: PieceBuffer


@dataclass(frozen=True, slots=True)
class ReadBlock:
    """Read a block for a peer's request; report `block_read` with the bytes."""

    peer: PeerKey
    piece: int
    begin: int
    length: int


@dataclass(frozen=True, slots=True)
class DisconnectPeer:
    peer: PeerKey
    reason: str


@dataclass(frozen=True, slots=True)
class BanPeer:
    """Disconnect and never reconnect to this peer's address (smart ban)."""

    peer: PeerKey
    reason: str


@dataclass(frozen=True, slots=True)
class PeersDiscovered:
    """Peer addresses learned from other peers (BEP 11 PEX): worth connecting to."""

    addresses: tuple[tuple[str, int], ...]
    source: str


@dataclass(frozen=True, slots=True)
class PieceVerified:
    """A piece passed its hash and was written (for progress and resume)."""

    piece: int


@dataclass(frozen=True, slots=True)
class TorrentCompleted:
    """Every wanted piece is verified: announce `completed`, start seeding."""


@dataclass(frozen=True, slots=True)
class TorrentReopened:
    """After `TorrentCompleted`, pieces we lack became wanted again (file priorities):
    the torrent downloads again, and a later `TorrentCompleted` follows."""


Action = (
    VerifyPiece
    | ReadBlock
    | DisconnectPeer
    | BanPeer
    | PeersDiscovered
    | PieceVerified
    | TorrentCompleted
    | TorrentReopened
)
