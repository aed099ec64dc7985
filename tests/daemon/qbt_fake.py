"""A small in-memory `DaemonApi` for the qBittorrent front-end's unit tests.

It keeps torrents as `TorrentView`s and changes them as the real manager would be
expected to (stop -> STOPPED, set_options -> options, ...), and records the calls it
cannot show in a view (verify, reannounce, queue moves). It parses added .torrent files
and magnets with bitswarm's own codecs, so hashes and names are real.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bitswarm.daemon.api import AddRequest, AddResult, FileStream, TorrentRef
from bitswarm.daemon.appkeys import API_KEY
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
from bitswarm.daemon.qbittorrent import add_routes
from bitswarm.daemon.settings import LOCAL_ONLY, DaemonSettings
from bitswarm.magnet import parse_magnet
from bitswarm.metainfo.parse import parse_torrent


def make_view(i: int, name: str | None = None, **changes: Any) -> TorrentView:
    """A torrent view with plausible values; `changes` override fields."""
    options = changes.pop("options", None) or TorrentOptions(download_dir="/data")
    view = TorrentView(
        id=i,
        info_hash=f"{i:040x}",
        name=name or f"torrent-{i}",
        activity=Activity.DOWNLOADING,
        error=None,
        has_metadata=True,
        total_size=1000 * 16384,
        wanted_size=1000 * 16384,
        done_wanted=400 * 16384,
        have_valid=400 * 16384,
        progress=0.4,
        download_rate=1000.0,
        upload_rate=0.0,
        downloaded_ever=400 * 16384,
        uploaded_ever=0,
        corrupt_ever=0,
        ratio=0.0,
        eta=60.0,
        peers_connected=3,
        peers_sending=1,
        peers_receiving=0,
        seeds_connected=1,
        piece_count=1000,
        piece_size=16384,
        pieces_done=400,
        private=False,
        comment="",
        creator="test",
        created=1_700_000_000,
        magnet_link=f"magnet:?xt=urn:btih:{i:040x}",
        added_at=1_700_000_000.0 + i,
        done_at=0.0,
        activity_at=1_700_000_100.0,
        queue_position=i,
        options=options,
        tracker_message=None,
        seconds_downloading=100,
        seconds_seeding=0,
        metadata_progress=1.0,
    )
    return dataclasses.replace(view, **changes)


class FakeApi:
    """Enough of `DaemonApi` for the front-end; `calls` records what it was asked."""

    def __init__(self, views: Iterable[TorrentView] = ()) -> None:
        self.settings = DaemonSettings(download_dir="/data")
        self._views: dict[int, TorrentView] = {v.id: v for v in views}
        self._files: dict[int, list[FileView]] = {}
        self._peers: dict[int, list[PeerView]] = {}
        self._trackers: dict[int, list[TrackerInfo]] = {}
        self._categories: dict[str, str] = {}
        self.calls: list[tuple[str, Any]] = []
        self.added: list[AddRequest] = []

    # ------------------------------------------------------------ test helpers
    def put(self, view: TorrentView) -> None:
        self._views[view.id] = view

    def change(self, i: int, **changes: Any) -> None:
        self._views[i] = dataclasses.replace(self._views[i], **changes)

    def set_files(self, i: int, files: list[FileView]) -> None:
        self._files[i] = files

    def set_peers(self, i: int, peers: list[PeerView]) -> None:
        self._peers[i] = peers

    def set_trackers(self, i: int, trackers: list[TrackerInfo]) -> None:
        self._trackers[i] = trackers

    def by_hash(self, h: str) -> TorrentView:
        return self.view(h)

    # ------------------------------------------------------------ reading
    def torrents(self) -> list[TorrentView]:
        return [self._views[i] for i in sorted(self._views)]

    def _id(self, ref: TorrentRef) -> int:
        if isinstance(ref, int):
            if ref in self._views:
                return ref
        else:
            for v in self._views.values():
                if v.info_hash == ref.lower():
                    return v.id
        raise UnknownTorrent(f"no torrent {ref}")

    def view(self, ref: TorrentRef) -> TorrentView:
        return self._views[self._id(ref)]

    def resolve(self, refs: Iterable[TorrentRef] | None) -> list[int]:
        if refs is None:
            return sorted(self._views)
        out = []
        for r in refs:
            try:
                out.append(self._id(r))
            except UnknownTorrent:
                pass
        return out

    def files(self, ref: TorrentRef) -> list[FileView]:
        return self._files.get(self._id(ref), [])

    def peers(self, ref: TorrentRef) -> list[PeerView]:
        return self._peers.get(self._id(ref), [])

    def trackers(self, ref: TorrentRef) -> list[TrackerInfo]:
        return self._trackers.get(self._id(ref) if not isinstance(ref, int) else ref, [])

    def pieces(self, ref: TorrentRef) -> PieceMap:
        v = self.view(ref)
        have = bytearray((v.piece_count + 7) // 8)
        for p in range(v.pieces_done):
            have[p >> 3] |= 0x80 >> (p & 7)
        return PieceMap(bytes(have), [v.pieces_done], [0] * v.piece_count)

    def stats(self) -> SessionStats:
        views = self.torrents()
        return SessionStats(
            torrents=len(views),
            active=len(views),
            paused=0,
            download_rate=sum(v.download_rate for v in views),
            upload_rate=sum(v.upload_rate for v in views),
            downloaded_session=sum(v.downloaded_ever for v in views),
            uploaded_session=0,
            downloaded_ever=sum(v.downloaded_ever for v in views),
            uploaded_ever=0,
            seconds_active_session=10,
            seconds_active_ever=10,
            started_at=time.time(),
            free_space=10**12,
        )

    def categories(self) -> dict[str, str]:
        return dict(self._categories)

    def free_space(self, path: str) -> int:
        return 10**12

    # ------------------------------------------------------------ changing
    async def add(self, request: AddRequest) -> AddResult:
        self.added.append(request)
        if request.torrent is not None:
            meta = parse_torrent(request.torrent)
            h, name = meta.info_hashes.hex_v1 or "", meta.info.name
        elif request.magnet is not None:
            m = parse_magnet(request.magnet)
            h, name = m.info_hashes.hex_v1 or "", m.display_name or ""
        else:
            raise DaemonError("cannot fetch URLs in the fake")
        for v in self._views.values():
            if v.info_hash == h:
                return AddResult(v, duplicate=True)
        i = max(self._views, default=0) + 1
        options = TorrentOptions(
            download_dir=request.download_dir or self.settings.download_dir,
            labels=list(request.labels),
            category=request.category,
            sequential=request.sequential,
        )
        activity = Activity.STOPPED if request.paused else Activity.DOWNLOADING
        view = make_view(i, name or h, info_hash=h, options=options, activity=activity)
        self._views[i] = view
        return AddResult(view, duplicate=False)

    def _each(self, refs: Iterable[TorrentRef] | None) -> list[int]:
        return self.resolve(None) if refs is None else [self._id(r) for r in refs]

    async def start(self, refs: Iterable[TorrentRef] | None, *, force: bool = False) -> None:
        for i in self._each(refs):
            self.change(i, activity=Activity.DOWNLOADING)
        self.calls.append(("start", force))

    async def stop(self, refs: Iterable[TorrentRef] | None) -> None:
        for i in self._each(refs):
            self.change(i, activity=Activity.STOPPED)

    async def verify(self, refs: Iterable[TorrentRef] | None) -> None:
        self.calls.append(("verify", self._each(refs)))

    async def reannounce(self, refs: Iterable[TorrentRef] | None) -> None:
        self.calls.append(("reannounce", self._each(refs)))

    async def remove(self, refs: Iterable[TorrentRef] | None, *, delete_data: bool) -> None:
        ids = self._each(refs)
        for i in ids:
            del self._views[i]
        self.calls.append(("remove", (ids, delete_data)))

    async def set_location(self, refs: Iterable[TorrentRef], location: str, *, move: bool) -> None:
        for i in self._each(refs):
            v = self._views[i]
            self.change(i, options=dataclasses.replace(v.options, download_dir=location))

    async def rename(self, ref: TorrentRef, path: str, name: str) -> tuple[str, str]:
        i = self._id(ref)
        if path == self._views[i].name:
            self.change(i, name=name)
        self.calls.append(("rename", (i, path, name)))
        return path, name

    def open_stream(self, ref: TorrentRef, index: int) -> FileStream:
        raise DaemonError("this fake does not stream (tests/daemon/test_stream_routes.py does)")

    async def set_file_priorities(self, ref: TorrentRef, priorities: Mapping[int, int]) -> None:
        i = self._id(ref)
        self._files[i] = [
            dataclasses.replace(f, priority=priorities.get(f.index, f.priority))
            for f in self._files.get(i, [])
        ]

    async def set_options(self, refs: Iterable[TorrentRef], changes: Mapping[str, object]) -> None:
        for i in self._each(refs):
            v = self._views[i]
            self.change(i, options=dataclasses.replace(v.options, **changes))  # type: ignore[arg-type]

    async def queue_move(self, refs: Iterable[TorrentRef], where: str) -> None:
        self.calls.append(("queue_move", (self._each(refs), where)))

    async def set_settings(self, changes: Mapping[str, object], *, remote: bool = True) -> None:
        if remote and LOCAL_ONLY & changes.keys():
            raise DaemonError("local only")
        for k, v in changes.items():
            setattr(self.settings, k, v)

    async def set_category(self, name: str, save_path: str | None) -> None:
        if save_path is None:
            self._categories.pop(name, None)
        else:
            self._categories[name] = save_path


def make_app(api: FakeApi) -> web.Application:
    app = web.Application()
    app[API_KEY] = api
    add_routes(app)
    return app


Client = TestClient[web.Request, web.Application]


async def with_client(
    api: FakeApi, body: Callable[[Client], Awaitable[None]], app: web.Application | None = None
) -> None:
    """Serve the front-end over `api` on a loopback port and run `body` with a client
    (one cookie jar: one qBittorrent web session)."""
    server = TestServer(app or make_app(api), host="127.0.0.1")
    client: Client = TestClient(server)
    async with server, client:
        await body(client)
