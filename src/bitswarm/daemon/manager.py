"""`TorrentManager`: the daemon's torrents over one `Session`, kept in SQLite (L4 service).

It implements `DaemonApi` (daemon/api.py), the one interface the Transmission RPC, the
qBittorrent API and the web UI drive. Every torrent added stays in the state database
(daemon/store.py) with its options until it is removed; resume data goes there too, so a
restart (or a SIGKILL) loses no torrent, no setting and no verified piece. A torrent runs
in the session only while it is started and the queue gives it a slot (daemon/policy.py);
`upkeep.Upkeep` is the once-a-second loop that enforces the queue, the limits and the
seeding goals.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import shutil
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import fields, replace
from functools import partial
from pathlib import Path
from typing import Any, TypeVar, cast

from ..errors import BitswarmError, MagnetError, MetainfoError, TorrentFailed
from ..magnet import Magnet, parse_magnet
from ..metainfo import Metainfo, parse_torrent, safe_relative_path
from ..metainfo.encode import torrent_file_bytes
from ..session import Session, TorrentRuntime, TorrentState
from ..session.config import TRANSPORTS
from ..session.stream import FileReader
from ..session.torrent import build_layout
from ..storage.file_ops import delete_files, move_files, rename_within
from ..storage.parts import parts_file_name
from ..wire.mse import parse_encryption
from .api import AddRequest, AddResult, FileStream, TorrentRef
from .fetch import fetch_torrent_url
from .managed import ManagedTorrent
from .model import (
    PRIORITY_NORMAL,
    DaemonError,
    FileView,
    LimitMode,
    PeerView,
    PieceMap,
    SessionStats,
    TorrentOptions,
    TorrentView,
    TrackerInfo,
    UnknownTorrent,
)
from .resume import SqliteResume
from .settings import LOCAL_ONLY, DaemonSettings
from .store import StateStore, TorrentRecord

__all__ = ["TorrentManager"]

_M = TypeVar("_M", bound=Callable[..., Awaitable[Any]])

log = logging.getLogger("bitswarm.daemon")

_OPTION_NAMES = frozenset(f.name for f in fields(TorrentOptions))


def _changes(method: _M) -> _M:
    """Mark a method that changes what the views show: the view cache is dropped before
    it runs and after it returns (or fails)."""

    @functools.wraps(method)
    async def wrapper(self: TorrentManager, *args: Any, **kwargs: Any) -> Any:
        self.changed()
        try:
            return await method(self, *args, **kwargs)
        finally:
            self.changed()

    return cast(_M, wrapper)


class TorrentManager:
    """Many torrents in one session, their state in `store`. Use `start` then `close`."""

    def __init__(self, settings: DaemonSettings, store: StateStore, session: Session) -> None:
        self.settings = settings
        self.store = store
        self.session = session
        self.started_at = time.time()
        self._torrents: dict[int, ManagedTorrent] = {}
        self._by_hash: dict[str, ManagedTorrent] = {}
        self._categories: dict[str, str] = {}
        self.counters: dict[str, int] = {}
        self.dirty: set[int] = set()  # records whose counters changed since the last save
        self.wake = asyncio.Event()  # the upkeep loop runs at once (a torrent wants to run)
        self.generation = 0  # see `torrents`
        self._views: tuple[int, list[TorrentView]] | None = None
        self.closing = False

    # ------------------------------------------------------------------ lifecycle
    async def load(self) -> None:
        """Take back every torrent the store holds; those that were started queue to run."""
        self._categories = await self.store.load_categories()
        self.counters = await self.store.load_counters()
        self.counters["downloaded_session"] = self.counters["uploaded_session"] = 0
        for record in await self.store.load_torrents():
            meta: Metainfo | None = None
            magnet: Magnet | None = None
            try:
                if record.torrent is not None:
                    meta = parse_torrent(record.torrent)
                if record.magnet:
                    magnet = parse_magnet(record.magnet)
            except (MetainfoError, MagnetError) as exc:
                record.error = f"saved torrent unreadable: {exc}"
            mt = ManagedTorrent(record, meta, magnet)
            mt.queued = not record.paused and not record.error
            self._remember(mt)
        self.wake.set()

    async def close(self) -> None:
        """Stop every torrent (saving resume data) and save every record."""
        self.closing = True
        for mt in list(self._torrents.values()):
            await self.halt(mt)
        await self.save_records(self._torrents.values())
        await self.store.put_counters(self.counters)

    def _remember(self, mt: ManagedTorrent) -> None:
        self._torrents[mt.id] = mt
        self._by_hash[mt.info_hash] = mt

    def all(self) -> list[ManagedTorrent]:
        return [self._torrents[i] for i in sorted(self._torrents)]

    async def save_records(self, mts: Iterable[ManagedTorrent]) -> None:
        records = [mt.record for mt in mts]
        if records:
            await self.store.put_torrents(records)

    # ------------------------------------------------------------------ reading
    def get(self, ref: TorrentRef) -> ManagedTorrent:
        mt: ManagedTorrent | None
        if isinstance(ref, int) and not isinstance(ref, bool):
            mt = self._torrents.get(ref)
        elif isinstance(ref, str):
            text = ref.strip().lower()
            mt = self._by_hash.get(text)
            if mt is None and text.isdigit():
                mt = self._torrents.get(int(text))
        else:
            mt = None
        if mt is None:
            raise UnknownTorrent(f"no torrent {ref!r} in this daemon")
        return mt

    def resolve(self, refs: Iterable[TorrentRef] | None) -> list[int]:
        if refs is None:
            return sorted(self._torrents)
        out: list[int] = []
        for ref in refs:
            with contextlib.suppress(UnknownTorrent):
                mt = self.get(ref)
                if mt.id not in out:
                    out.append(mt.id)
        return out

    def _many(self, refs: Iterable[TorrentRef] | None) -> list[ManagedTorrent]:
        return [self._torrents[i] for i in self.resolve(refs)]

    def torrents(self) -> list[TorrentView]:
        """Every torrent's view. Built at most once per `generation`: the generation moves
        on with every change made through this API and with every upkeep round (once a
        second), so clients polling several APIs at once share one set of views."""
        cached = self._views
        if cached is not None and cached[0] == self.generation:
            return list(cached[1])
        now = time.time()
        views = [mt.view(now) for mt in self.all()]
        self._views = (self.generation, views)
        return list(views)

    def changed(self) -> None:
        """Something the views show may have changed: the next `torrents()` builds anew."""
        self.generation += 1

    def view(self, ref: TorrentRef) -> TorrentView:
        return self.get(ref).view(time.time())

    def files(self, ref: TorrentRef) -> list[FileView]:
        return self.get(ref).files()

    def open_stream(self, ref: TorrentRef, index: int) -> FileStream:
        mt = self.get(ref)
        if mt.meta is None:
            raise DaemonError(f"torrent {mt.record.id} has no metadata yet")
        files = mt.content_files()
        if not 0 <= index < len(files):
            raise DaemonError(f"torrent {mt.record.id} has no file {index} (counted from 0)")
        rt = mt.runtime
        if rt is None or rt.core is None or rt.ended:
            raise DaemonError(f"torrent {mt.record.id} is not running: start it to stream")
        if mt.priorities()[index] == 0:
            raise DaemonError(f"file {index} of torrent {mt.record.id} is skipped: want it first")
        return FileReader(rt, files[index][0])

    def peers(self, ref: TorrentRef) -> list[PeerView]:
        return self.get(ref).peers()

    def trackers(self, ref: TorrentRef) -> list[TrackerInfo]:
        return self.get(ref).trackers()

    def pieces(self, ref: TorrentRef) -> PieceMap:
        mt = self.get(ref)
        rt = mt.runtime
        if rt is None or rt.core is None:
            n = mt.meta.info.num_pieces if mt.meta is not None else 0
            full = mt.record.done_at > 0 and all(p > 0 for p in mt.priorities())
            have = bytearray((n + 7) // 8)
            if full:
                for i in range(n):
                    have[i >> 3] |= 0x80 >> (i & 7)
            return PieceMap(bytes(have), [], [0] * n)
        have_bytes, downloading, availability = rt.piece_states()
        return PieceMap(have_bytes, downloading, availability)

    def stats(self) -> SessionStats:
        # The rates straight from each core's meters, on the runtimes' clock (what
        # `TorrentRuntime.status` reports), not a whole status per torrent: front-ends ask
        # this on every poll, and with 1,000 torrents the statuses cost ~20 ms.
        now = asyncio.get_running_loop().time()
        active = 0
        down = up = 0.0
        for mt in self._torrents.values():
            rt = mt.runtime
            if rt is None:
                continue
            active += 1
            core = rt.core
            if core is not None:
                down += core.down.rate(now)
                up += core.up.rate(now)
        c = self.counters
        return SessionStats(
            torrents=len(self._torrents),
            active=active,
            paused=len(self._torrents) - active,
            download_rate=down,
            upload_rate=up,
            downloaded_session=c.get("downloaded_session", 0),
            uploaded_session=c.get("uploaded_session", 0),
            downloaded_ever=c.get("downloaded_ever", 0),
            uploaded_ever=c.get("uploaded_ever", 0),
            seconds_active_session=int(time.time() - self.started_at),
            seconds_active_ever=c.get("seconds_active_ever", 0),
            started_at=self.started_at,
            free_space=self._free(self.settings.download_dir),
        )

    def categories(self) -> dict[str, str]:
        return dict(self._categories)

    def free_space(self, path: str) -> int:
        try:
            return shutil.disk_usage(path).free
        except OSError as exc:
            raise DaemonError(f"cannot read the free space of {path}: {exc.strerror}") from None

    def _free(self, path: str) -> int:
        try:
            return shutil.disk_usage(path).free
        except OSError:
            return -1

    # ------------------------------------------------------------------ adding
    @_changes
    async def add(self, request: AddRequest) -> AddResult:
        meta, magnet, raw = await self._source(request)
        wire = meta.info.info_hashes.wire if meta is not None else magnet.info_hashes.wire  # type: ignore[union-attr]
        key = wire.hex()
        existing = self._by_hash.get(key)
        if existing is not None:
            return AddResult(existing.view(time.time()), duplicate=True)
        s = self.settings
        folder = request.download_dir or self._categories.get(request.category) or s.download_dir
        options = TorrentOptions(
            download_dir=folder,
            labels=list(dict.fromkeys(request.labels)),
            category=request.category,
            peer_limit=request.peer_limit or s.peer_limit_per_torrent,
            sequential=request.sequential,
        )
        if request.category and request.category not in self._categories:
            raise DaemonError(f"no category {request.category!r}: create it first")
        if request.upload_limit is not None:
            options.upload_limit, options.upload_limited = request.upload_limit, True
        if request.download_limit is not None:
            options.download_limit, options.download_limited = request.download_limit, True
        if request.seed_ratio_limit is not None:
            options.seed_ratio_mode = LimitMode.SINGLE
            options.seed_ratio_limit = request.seed_ratio_limit
        if request.seed_idle_limit is not None:
            options.seed_idle_mode = LimitMode.SINGLE
            options.seed_idle_limit = request.seed_idle_limit
        if meta is not None:
            count = sum(1 for f in meta.info.files if not f.is_pad)
            prios = [PRIORITY_NORMAL] * count
            for index, prio in (request.file_priorities or {}).items():
                if not 0 <= index < count:
                    raise DaemonError(f"no file {index} in {meta.info.name} ({count} files)")
                prios[index] = _priority(prio)
            if magnet is not None and magnet.select_only:  # BEP 53
                prios = [p if i in magnet.select_only else 0 for i, p in enumerate(prios)]
            options.file_priorities = prios
        paused = (not s.start_added_torrents) if request.paused is None else request.paused
        now = time.time()
        positions = [mt.record.queue_position for mt in self._torrents.values()]
        record = TorrentRecord(
            id=0,
            info_hash=key,
            torrent=raw,
            magnet=magnet.to_uri() if magnet is not None else None,
            name=meta.info.name if meta is not None else (magnet.display_name or key),  # type: ignore[union-attr]
            options=options,
            paused=paused,
            queue_position=(min(positions, default=0) - 1)
            if request.queue_top
            else max(positions, default=-1) + 1,
            added_at=now,
            done_at=0.0,
            activity_at=0.0,
            downloaded_ever=0,
            uploaded_ever=0,
            corrupt_ever=0,
            seconds_downloading=0,
            seconds_seeding=0,
            error=None,
        )
        record.id = await self.store.add_torrent(record)
        mt = ManagedTorrent(record, meta, magnet)
        self._remember(mt)
        self._renumber_queue()
        if not paused:
            mt.queued = True
            self.wake.set()
        log.info("added %s (%s)", mt.name, key)
        return AddResult(mt.view(now), duplicate=False)

    async def _source(
        self, request: AddRequest
    ) -> tuple[Metainfo | None, Magnet | None, bytes | None]:
        given = [x for x in (request.torrent, request.magnet, request.url) if x]
        if len(given) != 1:
            raise DaemonError("give exactly one of a .torrent file, a magnet link or a URL")
        raw = request.torrent
        uri = request.magnet
        if request.url:
            if request.url.startswith("magnet:"):
                uri = request.url
            else:
                raw = await fetch_torrent_url(request.url, limit=self.settings.rpc_max_body)
        if uri is not None:
            try:
                return None, parse_magnet(uri), None
            except MagnetError as exc:
                raise DaemonError(f"bad magnet link: {exc}") from None
        assert raw is not None
        try:
            meta = parse_torrent(raw)
        except BitswarmError as exc:
            raise DaemonError(f"not a usable torrent file: {exc}") from None
        return meta, None, raw

    # ------------------------------------------------------------------ running
    def launch(self, mt: ManagedTorrent) -> None:
        """Run the torrent in the session (fetching its metadata first for a magnet)."""
        if mt.task is not None or mt.runtime is not None or self.closing:
            return
        mt.queued = False
        mt.record.error = None
        mt.task = asyncio.get_running_loop().create_task(self._run(mt))

    async def _run(self, mt: ManagedTorrent) -> None:
        try:
            if mt.meta is None:
                assert mt.magnet is not None
                mt.busy = "metadata"
                meta = await self.session.fetch_metadata(
                    mt.magnet, trackers=mt.record.options.extra_trackers
                )
                mt.meta = meta
                mt.record.torrent = torrent_file_bytes(meta)
                mt.record.name = meta.info.name
                count = sum(1 for f in meta.info.files if not f.is_pad)
                sel = mt.magnet.select_only
                mt.record.options.file_priorities = [
                    PRIORITY_NORMAL if not sel or i in sel else 0 for i in range(count)
                ]
                await self.store.put_torrent(mt.record)
            mt.busy = "starting"
            if mt.check_requested:
                await self.store.put_resume(mt.info_hash, b"")
            folder = Path(self.data_dir(mt))
            await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
            o = mt.record.options
            rt = await self.session.add(
                mt.meta,
                folder,
                trackers=o.extra_trackers,
                resume=SqliteResume(self.store, mt.info_hash),
                file_priorities=mt.entry_priorities(),
                file_paths=mt.entry_paths(),
                max_peers=o.peer_limit,
                upload_limit=o.upload_limit if o.upload_limited else 0,
                download_limit=o.download_limit if o.download_limited else 0,
                sequential=o.sequential,
            )
            mt.runtime_started(rt)
            mt.waiter = asyncio.get_running_loop().create_task(self._wake_on_complete(rt))
            mt.data_dir = str(folder)
            mt.check_requested = False
            if rt.completed.is_set() and mt.record.done_at == 0:
                mt.record.done_at = time.time()
            await self.store.put_torrent(mt.record)
        except asyncio.CancelledError:
            raise
        except (BitswarmError, OSError) as exc:
            reason = exc.reason if isinstance(exc, TorrentFailed) else str(exc)
            if not self.closing and mt.busy is not None:
                mt.record.error = reason
                log.warning("%s: %s", mt.name, reason)
                await self.store.put_torrent(mt.record)
        finally:
            mt.busy = None
            mt.task = None

    async def _wake_on_complete(self, rt: TorrentRuntime) -> None:
        """Completion is handled at once (upkeep), not at the next round."""
        await rt.completed.wait()
        self.wake.set()

    def data_dir(self, mt: ManagedTorrent) -> str:
        """Where the torrent's data lives now: the incomplete folder until it completes,
        when that folder is enabled."""
        s = self.settings
        if mt.data_dir is not None:
            return mt.data_dir
        if s.incomplete_dir_enabled and s.incomplete_dir and mt.record.done_at == 0:
            return s.incomplete_dir
        return mt.record.options.download_dir

    @_changes
    async def halt(self, mt: ManagedTorrent) -> None:
        """Take the torrent out of the session (saving its resume data); no-op if out."""
        mt.queued = False
        task = mt.task
        if task is not None:
            fetch = self.session.fetches.get(bytes.fromhex(mt.info_hash))
            if fetch is not None:
                fetch.abort("stopped")
            mt.busy = None
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        if mt.waiter is not None:
            mt.waiter.cancel()
            mt.waiter = None
        rt = mt.runtime
        if rt is not None:
            mt.fold_counters()
            mt.runtime = None
            halting = mt.halting = asyncio.get_running_loop().create_future()
            try:
                await self.session.remove(rt)
            finally:
                halting.set_result(None)
                mt.halting = None
            if rt.error and not mt.record.error:
                mt.record.error = rt.error
        elif mt.halting is not None:  # another halt is saving it: out only once that is done
            await asyncio.shield(mt.halting)

    # ------------------------------------------------------------------ changing
    @_changes
    async def start(self, refs: Iterable[TorrentRef] | None, *, force: bool = False) -> None:
        for mt in self._many(refs):
            rt = mt.runtime
            if rt is not None and rt.state is TorrentState.ERROR:
                await self.halt(mt)  # paused by a disk fault: start it again (resume)
            mt.record.paused = False
            mt.forced = force
            mt.record.error = None
            if mt.runtime is None and mt.task is None:
                mt.queued = True
            await self.store.put_torrent(mt.record)
        self.wake.set()

    @_changes
    async def stop(self, refs: Iterable[TorrentRef] | None) -> None:
        for mt in self._many(refs):
            mt.record.paused = True
            mt.forced = False
            await self.halt(mt)
            await self.store.put_torrent(mt.record)

    @_changes
    async def verify(self, refs: Iterable[TorrentRef] | None) -> None:
        for mt in self._many(refs):
            if mt.meta is None:
                continue
            was_running = mt.runtime is not None or mt.task is not None
            await self.halt(mt)
            mt.check_requested = True
            mt.record.done_at = 0.0
            mt.record.error = None
            await self.store.put_resume(mt.info_hash, b"")
            if was_running or not mt.record.paused:
                mt.queued = True
            else:  # a stopped torrent is checked and stays stopped (Transmission's way)
                mt.forced = True
                mt.queued = True
                mt.stop_after_check = True
        self.wake.set()

    @_changes
    async def reannounce(self, refs: Iterable[TorrentRef] | None) -> None:
        for mt in self._many(refs):
            if mt.runtime is not None:
                mt.runtime.reannounce()

    @_changes
    async def remove(self, refs: Iterable[TorrentRef] | None, *, delete_data: bool) -> None:
        for mt in self._many(refs):
            await self.halt(mt)
            self._torrents.pop(mt.id, None)
            self._by_hash.pop(mt.info_hash, None)
            await self.store.delete_torrent(mt.id)
            if delete_data and mt.meta is not None:
                layout = build_layout(mt.meta)
                parts = parts_file_name(mt.meta.info.info_hashes.wire)
                folders = {self.data_dir(mt), mt.record.options.download_dir}
                for folder in folders:
                    try:
                        await asyncio.to_thread(
                            partial(delete_files, parts_name=parts),
                            Path(folder),
                            layout,
                        )
                    except (BitswarmError, OSError) as exc:
                        log.warning("%s: could not delete its data: %s", mt.name, exc)
            log.info("removed %s%s", mt.name, " and its data" if delete_data else "")
        self._renumber_queue()

    @_changes
    async def set_location(self, refs: Iterable[TorrentRef], location: str, *, move: bool) -> None:
        target = Path(location)
        if not target.is_absolute():
            raise DaemonError(f"the location must be an absolute path: {location}")
        for mt in self._many(refs):
            running = mt.runtime is not None or mt.task is not None
            await self.halt(mt)
            if move and mt.meta is not None:
                src = Path(self.data_dir(mt))
                parts = parts_file_name(mt.meta.info.info_hashes.wire)
                if src != target:
                    try:
                        await asyncio.to_thread(
                            partial(move_files, parts_name=parts),
                            src,
                            target,
                            build_layout(mt.meta),
                        )
                    except (BitswarmError, OSError) as exc:
                        if running:
                            mt.queued = True
                            self.wake.set()
                        raise DaemonError(f"could not move {mt.name}: {exc}") from None
            mt.record.options.download_dir = str(target)
            mt.data_dir = str(target)
            await self.store.put_torrent(mt.record)
            if running:
                mt.queued = True
        self.wake.set()

    @_changes
    async def rename(self, ref: TorrentRef, path: str, name: str) -> tuple[str, str]:
        """Rename the file or folder `path` (as `FileView.path` shows it) to `name`, on disk
        too, as Transmission's torrent-rename-path does; renaming the top folder (or the
        file of a one-file torrent) renames the torrent."""
        mt = self.get(ref)
        if mt.meta is None:
            raise DaemonError(f"{mt.name}: its files are unknown until the metadata arrives")
        if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
            raise DaemonError(f"not a file name: {name!r}")
        try:
            safe_relative_path((name,))
        except MetainfoError as exc:
            raise DaemonError(f"not a usable file name: {exc}") from None
        parts = path.strip("/").split("/")
        source = "/".join(parts)
        depth = len(parts) - 1
        target = "/".join([*parts[:depth], name])
        paths = [p for (_entry, p, _length) in mt.content_files()]
        hits = {n for n, p in enumerate(paths) if p == source or p.startswith(source + "/")}
        if not hits:
            raise DaemonError(f"{mt.name} has no file or folder {path!r}")
        if any(
            p == target or p.startswith(target + "/") for n, p in enumerate(paths) if n not in hits
        ):
            raise DaemonError(f"{mt.name} already has a file or folder named {name!r} there")
        new_paths = list(paths)
        for n in hits:
            components = paths[n].split("/")
            components[depth] = name
            new_paths[n] = "/".join(components)
        running = mt.runtime is not None or mt.task is not None
        await self.halt(mt)
        folder = Path(self.data_dir(mt))
        try:
            await asyncio.to_thread(rename_within, folder, source, target)
        except (BitswarmError, OSError) as exc:
            if running:
                mt.queued = True
                self.wake.set()
            raise DaemonError(f"could not rename {path!r}: {exc}") from None
        mt.record.options.file_paths = new_paths
        if depth == 0:
            mt.record.options.name = name
        await self.store.put_torrent(mt.record)
        if running:
            mt.queued = True
            self.wake.set()
        return path, name

    @_changes
    async def set_file_priorities(self, ref: TorrentRef, priorities: Mapping[int, int]) -> None:
        mt = self.get(ref)
        if mt.meta is None:
            raise DaemonError(f"{mt.name}: its files are unknown until the metadata arrives")
        prios = mt.priorities()
        for index, prio in priorities.items():
            if not 0 <= index < len(prios):
                raise DaemonError(f"no file {index} in {mt.name} ({len(prios)} files)")
            prios[index] = _priority(prio)
        mt.record.options.file_priorities = prios
        if mt.runtime is not None:
            mt.runtime.set_file_priorities(mt.entry_priorities())
            if not mt.runtime.completed.is_set():
                mt.record.done_at = 0.0
        elif mt.record.done_at and any(p > 0 for p in prios):
            mt.record.done_at = 0.0  # a newly wanted file: complete no more until it is
        await self.store.put_torrent(mt.record)

    @_changes
    async def set_options(self, refs: Iterable[TorrentRef], changes: Mapping[str, object]) -> None:
        unknown = set(changes) - _OPTION_NAMES
        if unknown:
            raise DaemonError(f"unknown torrent option: {', '.join(sorted(unknown))}")
        if "file_priorities" in changes:
            raise DaemonError("set file priorities with set_file_priorities")
        if "download_dir" in changes:
            raise DaemonError("change the folder with set_location")
        category = changes.get("category")
        if category and category not in self._categories:
            raise DaemonError(f"no category {category!r}: create it first")
        for mt in self._many(refs):
            try:
                options = replace(mt.record.options, **changes)  # type: ignore[arg-type]
            except TypeError as exc:
                raise DaemonError(str(exc)) from None
            for key in ("seed_ratio_mode", "seed_idle_mode"):
                value = getattr(options, key)
                if not isinstance(value, LimitMode):
                    setattr(options, key, LimitMode(int(value)))
            mt.record.options = options
            rt = mt.runtime
            if rt is not None:
                rt.set_rate_limits(
                    options.upload_limit if options.upload_limited else 0,
                    options.download_limit if options.download_limited else 0,
                )
                rt.set_max_peers(options.peer_limit)
                rt.set_sequential(bool(options.sequential))
            await self.store.put_torrent(mt.record)

    @_changes
    async def queue_move(self, refs: Iterable[TorrentRef], where: str) -> None:
        chosen = self._many(refs)
        order = sorted(self._torrents.values(), key=lambda m: m.record.queue_position)
        ids = {m.id for m in chosen}
        if where == "top":
            order = [m for m in order if m.id in ids] + [m for m in order if m.id not in ids]
        elif where == "bottom":
            order = [m for m in order if m.id not in ids] + [m for m in order if m.id in ids]
        elif where in ("up", "down"):
            step = -1 if where == "up" else 1
            indices = range(len(order)) if step < 0 else range(len(order) - 1, -1, -1)
            for i in indices:
                j = i + step
                if order[i].id in ids and 0 <= j < len(order) and order[j].id not in ids:
                    order[i], order[j] = order[j], order[i]
        else:
            raise DaemonError(f"queue move must be top, up, down or bottom, not {where!r}")
        for position, mt in enumerate(order):
            mt.record.queue_position = position
        await self.save_records(order)
        self.wake.set()

    def _renumber_queue(self) -> None:
        order = sorted(self._torrents.values(), key=lambda m: m.record.queue_position)
        for position, mt in enumerate(order):
            mt.record.queue_position = position

    @_changes
    async def set_settings(self, changes: Mapping[str, object], *, remote: bool = True) -> None:
        current = self.settings
        names = {f.name: f for f in fields(DaemonSettings)}
        for key, value in changes.items():
            if key not in names:
                raise DaemonError(f"unknown setting: {key}")
            if remote and key in LOCAL_ONLY:
                raise DaemonError(f"{key} can only be set in the daemon's config file")
            default = getattr(DaemonSettings(), key)
            if not _same_kind(default, value):
                raise DaemonError(f"setting {key}: expected {type(default).__name__}")
            if key == "encryption":
                try:
                    parse_encryption(str(value))
                except ValueError:
                    raise DaemonError(f"setting encryption: unknown level {value!r}") from None
            if key == "transport" and value not in TRANSPORTS:
                raise DaemonError(f"setting transport: one of {', '.join(TRANSPORTS)}")
        for key, value in changes.items():
            default = getattr(DaemonSettings(), key)
            setattr(current, key, float(value) if isinstance(default, float) else value)  # type: ignore[arg-type]
        await self.store.put_settings(dict(changes))
        if "encryption" in changes:
            self.session.set_encryption(parse_encryption(current.encryption))
        self.wake.set()

    @_changes
    async def set_category(self, name: str, save_path: str | None) -> None:
        if not name or "\n" in name:
            raise DaemonError("a category needs a one-line name")
        if save_path is None:
            self._categories.pop(name, None)
            for mt in self._torrents.values():
                if mt.record.options.category == name:
                    mt.record.options.category = ""
                    await self.store.put_torrent(mt.record)
        else:
            self._categories[name] = save_path
        await self.store.put_category(name, save_path)


def _priority(value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 7:
        raise DaemonError(f"a file priority is 0 (skip) to 7 (highest), not {value!r}")
    return value


def _same_kind(default: object, value: object) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(default, str):
        return isinstance(value, str)
    if isinstance(default, list):
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return False
