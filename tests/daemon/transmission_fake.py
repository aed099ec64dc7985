"""A small in-memory `DaemonApi` for the Transmission front-end's unit tests.

It keeps torrents as `TorrentView`s with files, peers and trackers, and records every
change the front-end asks for, so a test can check both the replies and the calls."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from bitswarm.daemon.api import AddRequest, AddResult, FileStream, TorrentRef
from bitswarm.daemon.model import (
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

HASHES = ["aa" * 20, "bb" * 20, "cc" * 20]


def make_view(torrent_id: int, info_hash: str, name: str, **changes: Any) -> TorrentView:
    base = TorrentView(
        id=torrent_id,
        info_hash=info_hash,
        name=name,
        activity=Activity.DOWNLOADING,
        error=None,
        has_metadata=True,
        total_size=3 * 16384,
        wanted_size=3 * 16384,
        done_wanted=16384,
        have_valid=16384,
        progress=1 / 3,
        download_rate=2500.7,
        upload_rate=10.0,
        downloaded_ever=16384,
        uploaded_ever=100,
        corrupt_ever=0,
        ratio=100 / 16384,
        eta=12.4,
        peers_connected=2,
        peers_sending=1,
        peers_receiving=1,
        seeds_connected=1,
        piece_count=3,
        piece_size=16384,
        pieces_done=1,
        private=False,
        comment="a comment",
        creator="mktorrent",
        created=1_700_000_000,
        magnet_link=f"magnet:?xt=urn:btih:{info_hash}",
        added_at=1_700_000_100.5,
        done_at=0,
        activity_at=1_700_000_200,
        queue_position=torrent_id - 1,
        options=TorrentOptions(download_dir="/data/dl"),
        tracker_message=None,
        seconds_downloading=60,
        seconds_seeding=0,
        metadata_progress=1.0,
    )
    return dataclasses.replace(base, **changes)


class FakeApi:
    """Implements `DaemonApi` over dicts; `calls` lists (method, args) of every change."""

    def __init__(self) -> None:
        self.settings = DaemonSettings(download_dir="/data/dl")
        self.views: dict[int, TorrentView] = {}
        self.file_lists: dict[int, list[FileView]] = {}
        self.calls: list[tuple[str, Any]] = []
        self.fail_with: DaemonError | None = None
        for i, h in enumerate(HASHES[:2], start=1):
            self.views[i] = make_view(i, h, f"torrent {i}")
            self.file_lists[i] = [
                FileView(0, f"torrent {i}/a.txt", 16384, 16384, 4),
                FileView(1, f"torrent {i}/b.mkv", 32768, 0, 7),
                FileView(2, f"torrent {i}/c.bin", 0, 0, 0),
            ]

    # ------------------------------------------------------------------ reading
    def torrents(self) -> list[TorrentView]:
        return [self.views[i] for i in sorted(self.views)]

    def _id(self, ref: TorrentRef) -> int:
        if isinstance(ref, int):
            if ref in self.views:
                return ref
        else:
            for v in self.views.values():
                if v.info_hash == ref.lower():
                    return v.id
        raise UnknownTorrent(f"no torrent {ref}")

    def view(self, ref: TorrentRef) -> TorrentView:
        return self.views[self._id(ref)]

    def resolve(self, refs: Iterable[TorrentRef] | None) -> list[int]:
        if refs is None:
            return sorted(self.views)
        out = []
        for ref in refs:
            try:
                out.append(self._id(ref))
            except UnknownTorrent:
                continue
        return out

    def files(self, ref: TorrentRef) -> list[FileView]:
        return self.file_lists[self._id(ref)]

    def peers(self, ref: TorrentRef) -> list[PeerView]:
        self._id(ref)
        return [
            PeerView(
                host="127.0.0.1",
                port=6881,
                client="libtorrent 2.0.9",
                progress=1.0,
                download_rate=2500.0,
                upload_rate=0.0,
                downloaded=16384,
                uploaded=0,
                am_choking=True,
                am_interested=True,
                peer_choking=False,
                peer_interested=False,
                outgoing=False,
                encrypted=False,
                transport="utp",
                flags="DI",
            )
        ]

    def trackers(self, ref: TorrentRef) -> list[TrackerInfo]:
        view = self.views[self._id(ref)]
        urls = ["http://tracker.example.org:8080/announce", *view.options.extra_trackers]
        return [
            TrackerInfo(i, u, i, "working", "", 1_700_000_300, 1_700_002_100, 5, 3, 9)
            for i, u in enumerate(urls)
        ]

    def pieces(self, ref: TorrentRef) -> PieceMap:
        self._id(ref)
        return PieceMap(have=bytes([0b10000000]), downloading=[1], availability=[1, 2, 0])

    def stats(self) -> SessionStats:
        return SessionStats(2, 2, 0, 2500.0, 10.0, 16384, 100, 32768, 200, 60, 600, 1.0, 10**9)

    def categories(self) -> dict[str, str]:
        return {}

    def free_space(self, path: str) -> int:
        if path == "/missing":
            raise DaemonError("no folder /missing")
        return 123456789

    # ------------------------------------------------------------------ changing
    def _record(self, name: str, args: Any) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.calls.append((name, args))

    async def add(self, request: AddRequest) -> AddResult:
        self._record("add", request)
        for v in self.views.values():
            if v.info_hash == HASHES[0] and request.torrent == b"d4:infod4:name1:xee":
                return AddResult(v, duplicate=True)
        new_id = max(self.views) + 1
        view = make_view(new_id, HASHES[2], "added", options=TorrentOptions(download_dir="/x"))
        self.views[new_id] = view
        self.file_lists[new_id] = [FileView(0, "added/f", 5, 0, 4), FileView(1, "added/g", 5, 0, 4)]
        return AddResult(view, duplicate=False)

    async def start(self, refs: Iterable[TorrentRef] | None, *, force: bool = False) -> None:
        self._record("start", (None if refs is None else list(refs), force))

    async def stop(self, refs: Iterable[TorrentRef] | None) -> None:
        self._record("stop", None if refs is None else list(refs))

    async def verify(self, refs: Iterable[TorrentRef] | None) -> None:
        self._record("verify", None if refs is None else list(refs))

    async def reannounce(self, refs: Iterable[TorrentRef] | None) -> None:
        self._record("reannounce", None if refs is None else list(refs))

    async def remove(self, refs: Iterable[TorrentRef] | None, *, delete_data: bool) -> None:
        ids = self.resolve(refs)
        self._record("remove", (ids, delete_data))
        for i in ids:
            del self.views[i]

    async def set_location(self, refs: Iterable[TorrentRef], location: str, *, move: bool) -> None:
        self._record("set_location", (list(refs), location, move))

    async def rename(self, ref: TorrentRef, path: str, name: str) -> tuple[str, str]:
        self._record("rename", (ref, path, name))
        return path, name

    def open_stream(self, ref: TorrentRef, index: int) -> FileStream:
        raise DaemonError("this fake does not stream (tests/daemon/test_stream_routes.py does)")

    async def set_file_priorities(self, ref: TorrentRef, priorities: Mapping[int, int]) -> None:
        self._record("set_file_priorities", (ref, dict(priorities)))

    async def set_options(self, refs: Iterable[TorrentRef], changes: Mapping[str, object]) -> None:
        ids = self.resolve(refs)
        self._record("set_options", (ids, dict(changes)))
        for i in ids:
            options = dataclasses.replace(self.views[i].options, **changes)  # type: ignore[arg-type]
            self.views[i] = dataclasses.replace(self.views[i], options=options)

    async def queue_move(self, refs: Iterable[TorrentRef], where: str) -> None:
        ids = self.resolve(refs)
        self._record("queue_move", (ids, where))
        step = {"up": -1, "down": 1}.get(where, 0)
        for i in ids:
            v = self.views[i]
            self.views[i] = dataclasses.replace(v, queue_position=v.queue_position + step)

    async def set_settings(self, changes: Mapping[str, object], *, remote: bool = True) -> None:
        if remote and LOCAL_ONLY & changes.keys():
            raise DaemonError("local only")
        self._record("set_settings", dict(changes))
        for key, value in changes.items():
            setattr(self.settings, key, value)

    async def set_category(self, name: str, save_path: str | None) -> None:
        self._record("set_category", (name, save_path))
