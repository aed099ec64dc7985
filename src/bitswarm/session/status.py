"""A torrent's status as a plain snapshot, for progress displays, JSON lines and the RPC.

Built from plain values the runtime hands over (`Transfer`: what its core counts), never
by reading the runtime's internals, so this module depends on no part of the session.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..bitfield import Bitfield
    from ..metainfo import InfoDict
    from ..storage.layout import Layout

__all__ = [
    "FileProgress",
    "PeerSnapshot",
    "TorrentState",
    "TorrentStatus",
    "Transfer",
    "done_bytes",
    "file_progress",
]


class TorrentState(enum.Enum):
    """What a torrent is doing: `ERROR` is a pause on a disk error (`TorrentStatus.error`
    says which), with the verified pieces kept."""

    CHECKING = "checking"
    DOWNLOADING = "downloading"
    SEEDING = "seeding"
    ERROR = "error"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class FileProgress:
    """How much of one file is verified: `done` of `length` bytes (`path` joined by /)."""

    path: str
    length: int
    done: int


@dataclass(frozen=True, slots=True)
class PeerSnapshot:
    """One connected peer as `TorrentRuntime.peers()` sees it, for peer tables.

    `client` is the BEP 10 handshake's ``v`` when the peer sent one, else a name read from
    its peer id (BEP 20); `progress` is the share of pieces its bitfield says it has;
    rates are bytes/s and `downloaded`/`uploaded` payload bytes from/to it since it
    connected. The four choke/interest flags are BEP 3's, from each side; `outgoing`: we
    dialled it; `snubbed`: it owes us blocks and sent none for a minute; `seed`: it has
    every piece. `encrypted`: the connection is RC4 after an MSE handshake (aio/mse.py);
    `transport` is "tcp" or "utp" (BEP 29), whatever the encryption over it.
    """

    host: str
    port: int
    client: str
    progress: float
    download_rate: float
    upload_rate: float
    downloaded: int
    uploaded: int
    am_choking: bool
    am_interested: bool
    peer_choking: bool
    peer_interested: bool
    outgoing: bool
    snubbed: bool
    seed: bool
    peer_id: bytes | None = None
    transport: str = "tcp"
    encrypted: bool = False


@dataclass(frozen=True, slots=True)
class Transfer:
    """What a torrent's core counts at one moment; all zero before its core exists."""

    pieces_done: int = 0
    download_rate: float = 0.0
    upload_rate: float = 0.0
    downloaded: int = 0
    uploaded: int = 0
    wasted: int = 0
    peers: int = 0
    seeds: int = 0
    utp_peers: int = 0  # of `peers`, those over uTP (BEP 29); the rest are TCP


@dataclass(frozen=True, slots=True)
class TorrentStatus:
    """A snapshot of one torrent, from `TorrentRuntime.status()`.

    Progress counts the verified bytes of the content (padding excluded); rates are
    bytes/s; `downloaded`, `uploaded` and `wasted` are payload bytes since the torrent was
    added; `eta` is seconds at the current rate (None when unknown); `error` is set in the
    `ERROR` state; `banned` counts the addresses refused for sending bad data.
    `wanted_bytes` is the content of the files we download (file priority > 0) and
    `wanted_done_bytes` their verified bytes; `progress` and `eta` are of those.
    `handshake_failures` counts the peers we dialled that closed the connection before
    their BitTorrent handshake (plain or encrypted); `hint`, when set, says in words what
    that likely means (peers that require encryption, say: wire/mse/policy.py).
    `waiting` is a one-line reason the download cannot go on, when it knows one (a pure v2
    torrent whose piece hashes no connected peer will give: "waiting for piece hashes of
    FILE: no peer has them").
    """

    name: str
    info_hash: str
    state: TorrentState
    progress: float  # 0..1 of the wanted bytes
    total_bytes: int
    done_bytes: int
    pieces_done: int
    num_pieces: int
    download_rate: float
    upload_rate: float
    downloaded: int
    uploaded: int
    wasted: int
    peers: int
    seeds: int
    eta: float | None
    error: str | None
    tracker_message: str | None
    banned: int
    wanted_bytes: int
    wanted_done_bytes: int
    handshake_failures: int = 0
    hint: str | None = None
    waiting: str | None = None
    utp_peers: int = 0  # of `peers`, those connected over uTP (BEP 29)

    @classmethod
    def of(
        cls,
        info: InfoDict,
        *,
        state: TorrentState,
        transfer: Transfer,
        error: str | None = None,
        tracker_message: str | None = None,
        banned: int = 0,
        wanted: tuple[int, int] | None = None,
        handshake_failures: int = 0,
        hint: str | None = None,
        waiting: str | None = None,
    ) -> TorrentStatus:
        """The status of the torrent `info` from what its runtime counts (`transfer`);
        `wanted` is (wanted bytes, verified wanted bytes), None when every file is."""
        done = done_bytes(info, transfer.pieces_done)
        total = info.total_length
        wanted_bytes, wanted_done = (total, done) if wanted is None else wanted
        remaining = wanted_bytes - wanted_done
        down_rate = transfer.download_rate
        eta = remaining / down_rate if down_rate > 0 and remaining > 0 else None
        return cls(
            name=info.name,
            info_hash=info.info_hashes.wire.hex(),
            state=state,
            progress=wanted_done / wanted_bytes if wanted_bytes else 1.0,
            total_bytes=total,
            done_bytes=done,
            pieces_done=transfer.pieces_done,
            num_pieces=info.num_pieces,
            download_rate=down_rate,
            upload_rate=transfer.upload_rate,
            downloaded=transfer.downloaded,
            uploaded=transfer.uploaded,
            wasted=transfer.wasted,
            peers=transfer.peers,
            seeds=transfer.seeds,
            eta=eta,
            error=error,
            tracker_message=tracker_message,
            banned=banned,
            wanted_bytes=wanted_bytes,
            wanted_done_bytes=wanted_done,
            handshake_failures=handshake_failures,
            hint=hint,
            waiting=waiting,
            utp_peers=transfer.utp_peers,
        )

    def to_json(self) -> dict[str, Any]:
        """The fields as a dict of JSON types (the state as its string value)."""
        d = asdict(self)
        d["state"] = self.state.value
        return d


def peer_progress(have: int, num_pieces: int) -> float:
    """A peer's share of the pieces (0..1); 1.0 for a torrent of no pieces."""
    return have / num_pieces if num_pieces else 1.0


def done_bytes(info: InfoDict, pieces_done: int) -> int:
    """Verified content bytes (padding excluded), estimated per piece for speed."""
    if pieces_done == 0:
        return 0
    if pieces_done == info.num_pieces:
        return info.total_length
    return min(info.total_length, pieces_done * info.piece_length)


def file_progress(info: InfoDict, layout: Layout, have: Bitfield | None) -> list[FileProgress]:
    """Verified bytes of each file (padding files left out); `have` None: nothing yet."""
    out: list[FileProgress] = []
    for index, f in enumerate(info.files):
        if f.is_pad:
            continue
        done = 0
        if have is not None and f.length:
            for piece in layout.file_piece_range(index):
                if piece in have:
                    start = max(f.offset, piece * info.piece_length)
                    end = min(f.end, (piece + 1) * info.piece_length)
                    done += max(0, end - start)
        out.append(FileProgress("/".join(f.path), f.length, done))
    return out
