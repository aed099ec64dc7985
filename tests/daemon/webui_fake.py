"""A small in-memory `DaemonApi` for the web UI's tests: torrents with the state a test sets.

It keeps what the page asked for (priorities, options, settings, removals) so the tests can
check each request reached the daemon, and `step()` moves the numbers the list shows, as a
running daemon would. It is no stand-in for a real peer: the tests that download use the
lead's daemon and a real seeder.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from bitswarm.daemon.api import AddRequest, AddResult, FileStream, TorrentRef
from bitswarm.daemon.model import (
    PRIORITY_NORMAL,
    Activity,
    DaemonError,
    FileView,
    PeerView,
    PieceMap,
    SessionStats,
    TorrentOptions,
    TorrentView,
    TrackerInfo,
    UnknownTorrent,
)
from bitswarm.daemon.settings import LOCAL_ONLY, DaemonSettings
from bitswarm.errors import BitswarmError
from bitswarm.magnet import parse_magnet
from bitswarm.metainfo import parse_torrent

__all__ = ["FakeDaemon", "FakeTorrent"]


@dataclass
class FakeTorrent:
    id: int
    info_hash: str
    name: str
    files: list[tuple[str, int]]
    piece_size: int = 16384
    activity: Activity = Activity.DOWNLOADING
    done: int = 0
    down: float = 0.0
    up: float = 0.0
    options: TorrentOptions = field(default_factory=lambda: TorrentOptions(download_dir="/dl"))
    peers: list[PeerView] = field(default_factory=list)
    added_at: float = field(default_factory=time.time)

    @property
    def size(self) -> int:
        return sum(length for _, length in self.files)

    @property
    def piece_count(self) -> int:
        return max(1, -(-self.size // self.piece_size))

    def view(self) -> TorrentView:
        size = self.size
        return TorrentView(
            id=self.id,
            info_hash=self.info_hash,
            name=self.name,
            activity=self.activity,
            error=None,
            has_metadata=True,
            total_size=size,
            wanted_size=size,
            done_wanted=self.done,
            have_valid=self.done,
            progress=self.done / size if size else 1.0,
            download_rate=self.down,
            upload_rate=self.up,
            downloaded_ever=self.done,
            uploaded_ever=0,
            corrupt_ever=0,
            ratio=0.0,
            eta=(size - self.done) / self.down if self.down else None,
            peers_connected=len(self.peers),
            peers_sending=sum(1 for p in self.peers if p.download_rate > 0),
            peers_receiving=sum(1 for p in self.peers if p.upload_rate > 0),
            seeds_connected=sum(1 for p in self.peers if p.progress >= 1),
            piece_count=self.piece_count,
            piece_size=self.piece_size,
            pieces_done=self.done // self.piece_size,
            private=False,
            comment="",
            creator="",
            created=0,
            magnet_link=f"magnet:?xt=urn:btih:{self.info_hash}",
            added_at=self.added_at,
            done_at=0.0,
            activity_at=0.0,
            queue_position=self.id,
            options=self.options,
            tracker_message=None,
            seconds_downloading=0,
            seconds_seeding=0,
            metadata_progress=1.0,
        )


class FakeDaemon:
    """`DaemonApi` over a dict of `FakeTorrent`s; `calls` records every change asked for."""

    def __init__(self, download_dir: str = "/dl") -> None:
        self.settings = DaemonSettings(download_dir=download_dir)
        self.items: dict[int, FakeTorrent] = {}
        self.calls: list[tuple[str, Any]] = []
        self._next = 1

    # ---------------------------------------------------------------- helpers for tests
    def put(self, name: str, files: list[tuple[str, int]], **kw: Any) -> FakeTorrent:
        tid = self._next
        self._next += 1
        digest = hashlib.sha1(f"{tid}:{name}".encode()).hexdigest()
        opts = TorrentOptions(download_dir=self.settings.download_dir or "/dl")
        opts.file_priorities = [PRIORITY_NORMAL] * len(files)
        t = FakeTorrent(tid, digest, name, files, options=opts, **kw)
        self.items[tid] = t
        return t

    def _get(self, ref: TorrentRef) -> FakeTorrent:
        for t in self.items.values():
            if ref == t.id or (isinstance(ref, str) and ref.lower() == t.info_hash):
                return t
        raise UnknownTorrent(f"no torrent {ref!r}")

    # ---------------------------------------------------------------- reading
    def torrents(self) -> list[TorrentView]:
        return [t.view() for t in sorted(self.items.values(), key=lambda t: t.id)]

    def view(self, ref: TorrentRef) -> TorrentView:
        return self._get(ref).view()

    def resolve(self, refs: Iterable[TorrentRef] | None) -> list[int]:
        if refs is None:
            return sorted(self.items)
        out = []
        for ref in refs:
            try:
                out.append(self._get(ref).id)
            except UnknownTorrent:
                pass
        return out

    def files(self, ref: TorrentRef) -> list[FileView]:
        t = self._get(ref)
        out, left = [], t.done
        for i, (path, length) in enumerate(t.files):
            done = min(length, left)
            left -= done
            out.append(FileView(i, path, length, done, t.options.file_priorities[i]))
        return out

    def peers(self, ref: TorrentRef) -> list[PeerView]:
        return list(self._get(ref).peers)

    def trackers(self, ref: TorrentRef) -> list[TrackerInfo]:
        self._get(ref)
        return [TrackerInfo(0, "http://127.0.0.1:1/announce", 0, "working", "", 0, 0, 3, 4, 5)]

    def pieces(self, ref: TorrentRef) -> PieceMap:
        t = self._get(ref)
        n, have_n = t.piece_count, t.done // t.piece_size
        bits = bytearray(-(-n // 8))
        for i in range(have_n):
            bits[i >> 3] |= 0x80 >> (i & 7)
        return PieceMap(bytes(bits), [have_n] if have_n < n else [], [i % 4 for i in range(n)])

    def stats(self) -> SessionStats:
        items = self.items.values()
        return SessionStats(
            torrents=len(self.items),
            active=sum(1 for t in items if t.activity is not Activity.STOPPED),
            paused=sum(1 for t in items if t.activity is Activity.STOPPED),
            download_rate=sum(t.down for t in items),
            upload_rate=sum(t.up for t in items),
            downloaded_session=0,
            uploaded_session=0,
            downloaded_ever=0,
            uploaded_ever=0,
            seconds_active_session=0,
            seconds_active_ever=0,
            started_at=0.0,
            free_space=10**12,
        )

    def categories(self) -> dict[str, str]:
        return {}

    def free_space(self, path: str) -> int:
        return 10**12

    # ---------------------------------------------------------------- changing
    async def add(self, request: AddRequest) -> AddResult:
        self.calls.append(("add", request))
        if request.torrent is not None:
            try:
                meta = parse_torrent(request.torrent)
            except BitswarmError as exc:
                raise DaemonError(str(exc)) from exc
            info = meta.info
            files = [("/".join(f.path), f.length) for f in info.files if not f.is_pad]
            digest = info.info_hashes.hex_v1 or (info.info_hashes.hex_v2 or "")[:40]
            name, size_files = info.name, files
        elif request.magnet is not None:
            magnet = parse_magnet(request.magnet)
            digest = magnet.info_hashes.hex_v1 or (magnet.info_hashes.hex_v2 or "")[:40]
            name, size_files = magnet.display_name or digest, []
        else:
            raise DaemonError("this fake daemon fetches no URLs")
        for t in self.items.values():
            if t.info_hash == digest:
                return AddResult(t.view(), duplicate=True)
        t = self.put(name, size_files)
        t.info_hash = digest
        if request.download_dir:
            t.options.download_dir = request.download_dir
        if request.paused:
            t.activity = Activity.STOPPED
        return AddResult(t.view(), duplicate=False)

    async def _each(self, what: str, refs: Iterable[TorrentRef] | None, **kw: Any) -> None:
        ids = self.resolve(refs)
        self.calls.append((what, (ids, kw)))
        for tid in ids:
            t = self.items[tid]
            if what == "start":
                t.activity = Activity.SEEDING if t.done >= t.size else Activity.DOWNLOADING
            elif what == "stop":
                t.activity, t.down, t.up = Activity.STOPPED, 0.0, 0.0
            elif what == "remove":
                del self.items[tid]

    async def start(self, refs: Iterable[TorrentRef] | None, *, force: bool = False) -> None:
        await self._each("start", refs, force=force)

    async def stop(self, refs: Iterable[TorrentRef] | None) -> None:
        await self._each("stop", refs)

    async def verify(self, refs: Iterable[TorrentRef] | None) -> None:
        await self._each("verify", refs)

    async def reannounce(self, refs: Iterable[TorrentRef] | None) -> None:
        await self._each("reannounce", refs)

    async def remove(self, refs: Iterable[TorrentRef] | None, *, delete_data: bool) -> None:
        await self._each("remove", refs, delete_data=delete_data)

    async def set_location(self, refs: Iterable[TorrentRef], location: str, *, move: bool) -> None:
        raise DaemonError("not in the fake")

    async def rename(self, ref: TorrentRef, path: str, name: str) -> tuple[str, str]:
        raise DaemonError("not in the fake")

    def open_stream(self, ref: TorrentRef, index: int) -> FileStream:
        raise DaemonError("this fake does not stream (tests/daemon/test_stream_routes.py does)")

    async def set_file_priorities(self, ref: TorrentRef, priorities: Mapping[int, int]) -> None:
        t = self._get(ref)
        self.calls.append(("priorities", (t.id, dict(priorities))))
        for index, value in priorities.items():
            if not 0 <= index < len(t.files):
                raise DaemonError(f"no file {index}")
            t.options.file_priorities[index] = value

    async def set_options(self, refs: Iterable[TorrentRef], changes: Mapping[str, object]) -> None:
        self.calls.append(("options", (list(refs), dict(changes))))
        for tid in self.resolve(refs):
            t = self.items[tid]
            t.options = replace(t.options, **changes)  # type: ignore[arg-type]

    async def queue_move(self, refs: Iterable[TorrentRef], where: str) -> None:
        raise DaemonError("not in the fake")

    async def set_settings(self, changes: Mapping[str, object], *, remote: bool = True) -> None:
        self.calls.append(("settings", dict(changes)))
        for name in changes:
            if remote and name in LOCAL_ONLY:
                raise DaemonError(f"{name} can only be set in the config file")
        for name, value in changes.items():
            setattr(self.settings, name, value)

    async def set_category(self, name: str, save_path: str | None) -> None:
        raise DaemonError("not in the fake")

    # ---------------------------------------------------------------- simulated time
    def step(self, seconds: float = 1.0) -> None:
        """Move every downloading torrent on by its rate for `seconds`."""
        for t in self.items.values():
            if t.activity is Activity.DOWNLOADING and t.down:
                t.done = min(t.size, t.done + int(t.down * seconds))
                if t.done >= t.size:
                    t.activity, t.down = Activity.SEEDING, 0.0
