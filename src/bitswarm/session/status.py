"""A torrent's status as a plain snapshot, for progress displays, JSON lines and the RPC."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .torrent import TorrentRuntime

__all__ = ["FileProgress", "TorrentState", "TorrentStatus"]


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
class TorrentStatus:
    """A snapshot of one torrent, from `TorrentRuntime.status()`.

    Progress counts the verified bytes of the content (padding excluded); rates are
    bytes/s; `downloaded`, `uploaded` and `wasted` are payload bytes since the torrent was
    added; `eta` is seconds at the current rate (None when unknown); `error` is set in the
    `ERROR` state; `banned` counts the addresses refused for sending bad data.
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

    @classmethod
    def of(cls, rt: TorrentRuntime) -> TorrentStatus:
        """The status of `rt` now."""
        info = rt.meta.info
        core = rt.core
        loop_now = rt._now()
        if core is None:
            have_count = 0
            down_rate = up_rate = 0.0
            downloaded = uploaded = wasted = 0
            peers = seeds = 0
        else:
            have_count = core.have.count()
            down_rate, up_rate = core.down.rate(loop_now), core.up.rate(loop_now)
            downloaded, uploaded, wasted = core.downloaded, core.uploaded, core.wasted
            conns = [p.conn for p in rt.protocols if p.conn is not None]
            peers = len(conns)
            seeds = sum(1 for c in conns if c.peer_has.all())
        done = _done_bytes(rt, have_count)
        total = info.total_length
        remaining = total - done
        eta = remaining / down_rate if down_rate > 0 and remaining > 0 else None
        return cls(
            name=info.name,
            info_hash=info.info_hashes.wire.hex(),
            state=rt.state,
            progress=done / total if total else 1.0,
            total_bytes=total,
            done_bytes=done,
            pieces_done=have_count,
            num_pieces=info.num_pieces,
            download_rate=down_rate,
            upload_rate=up_rate,
            downloaded=downloaded,
            uploaded=uploaded,
            wasted=wasted,
            peers=peers,
            seeds=seeds,
            eta=eta,
            error=rt.error,
            tracker_message=rt.announcer.message,
            banned=len(rt.banned),
        )

    def to_json(self) -> dict[str, Any]:
        """The fields as a dict of JSON types (the state as its string value)."""
        d = asdict(self)
        d["state"] = self.state.value
        return d


def _done_bytes(rt: TorrentRuntime, have_count: int) -> int:
    """Verified content bytes (padding excluded), estimated per piece for speed."""
    info = rt.meta.info
    if rt.core is None or have_count == 0:
        return 0
    if have_count == info.num_pieces:
        return info.total_length
    return min(info.total_length, have_count * info.piece_length)


def file_progress(rt: TorrentRuntime) -> list[FileProgress]:
    info = rt.meta.info
    out: list[FileProgress] = []
    have = rt.core.have if rt.core is not None else None
    for index, f in enumerate(info.files):
        if f.is_pad:
            continue
        done = 0
        if have is not None and f.length:
            for piece in rt.layout.file_piece_range(index):
                if piece in have:
                    start = max(f.offset, piece * info.piece_length)
                    end = min(f.end, (piece + 1) * info.piece_length)
                    done += max(0, end - start)
        out.append(FileProgress("/".join(f.path), f.length, done))
    return out
