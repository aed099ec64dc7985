"""`DaemonApi`: the one interface every remote-control front-end drives.

The Transmission RPC (daemon/transmission.py), the qBittorrent WebUI API
(daemon/qbittorrent.py) and bitswarm's own web UI (daemon/webui.py) each translate their
protocol into these calls; `TorrentManager` (daemon/manager.py) implements them over one
`Session`. A torrent is named by a `TorrentRef`: its id (int) or its info-hash (40 hex
digits, either case). Every method raises `UnknownTorrent` for a ref it does not know and
`DaemonError` (one line for a person) for a request it cannot carry out; nothing else.
Views are snapshots: reading them never blocks and never waits on the disk.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from .model import FileView, PeerView, PieceMap, SessionStats, TorrentView, TrackerInfo
from .settings import DaemonSettings

__all__ = ["AddRequest", "AddResult", "DaemonApi", "FileStream", "TorrentRef"]

TorrentRef = int | str


@dataclass(frozen=True, slots=True)
class AddRequest:
    """A torrent to add: exactly one of `torrent` (the .torrent file's bytes), `magnet`
    (a magnet URI) or `url` (http(s) address of a .torrent file, or a magnet URI)."""

    torrent: bytes | None = None
    magnet: str | None = None
    url: str | None = None
    download_dir: str | None = None  # None: the category's folder, else the default
    paused: bool | None = None  # None: the `start_added_torrents` setting
    labels: Sequence[str] = ()
    category: str = ""
    file_priorities: Mapping[int, int] | None = None  # index -> 0..7; others normal
    sequential: bool = False
    upload_limit: int | None = None  # bytes/s
    download_limit: int | None = None
    peer_limit: int | None = None
    seed_ratio_limit: float | None = None  # a torrent-own ratio (mode SINGLE)
    seed_idle_limit: int | None = None  # minutes (mode SINGLE)
    queue_top: bool = False


class FileStream(Protocol):
    """A reader of one file of a running torrent (`session.stream.FileReader`): bytes once
    their pieces are verified, with deadlines that fetch them first."""

    size: int

    @property
    def name(self) -> str: ...
    async def read(self, offset: int, length: int) -> bytes: ...
    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class AddResult:
    view: TorrentView
    duplicate: bool  # it was there already (nothing changed)


class DaemonApi(Protocol):
    """What the front-ends may call. Refs of None mean every torrent."""

    settings: DaemonSettings  # read freely; change only through `set_settings`

    # ------------------------------------------------------------------ reading
    def torrents(self) -> list[TorrentView]:
        """Every torrent, ordered by id."""
        ...

    def view(self, ref: TorrentRef) -> TorrentView: ...
    def resolve(self, refs: Iterable[TorrentRef] | None) -> list[int]:
        """The ids of `refs` (None: all); unknown refs are skipped, as Transmission does."""
        ...

    def files(self, ref: TorrentRef) -> list[FileView]: ...
    def peers(self, ref: TorrentRef) -> list[PeerView]: ...
    def trackers(self, ref: TorrentRef) -> list[TrackerInfo]: ...
    def pieces(self, ref: TorrentRef) -> PieceMap: ...
    def stats(self) -> SessionStats: ...
    def categories(self) -> dict[str, str]:
        """qBittorrent categories: name -> save path ("" = the default folder)."""
        ...

    def free_space(self, path: str) -> int:
        """Bytes free where `path` lives (raises DaemonError for a missing folder)."""
        ...

    # ------------------------------------------------------------------ changing
    async def add(self, request: AddRequest) -> AddResult: ...
    async def start(self, refs: Iterable[TorrentRef] | None, *, force: bool = False) -> None:
        """Start (queued if the queue is full, unless `force`: Transmission's start-now)."""
        ...

    async def stop(self, refs: Iterable[TorrentRef] | None) -> None: ...
    async def verify(self, refs: Iterable[TorrentRef] | None) -> None: ...
    async def reannounce(self, refs: Iterable[TorrentRef] | None) -> None: ...
    async def remove(self, refs: Iterable[TorrentRef] | None, *, delete_data: bool) -> None:
        """Remove from the daemon; with `delete_data`, the torrent's files too (never
        following a symlink out of its download folder)."""
        ...

    async def set_location(self, refs: Iterable[TorrentRef], location: str, *, move: bool) -> None:
        """Point at another folder; with `move`, move the data there first."""
        ...

    async def rename(self, ref: TorrentRef, path: str, name: str) -> tuple[str, str]:
        """Rename the file or folder `path` (as in `FileView.path`) to `name`; returns
        (path, new name) as Transmission's torrent-rename-path does."""
        ...

    async def set_file_priorities(self, ref: TorrentRef, priorities: Mapping[int, int]) -> None:
        """file index -> priority 0..7 (0: do not download)."""
        ...

    def open_stream(self, ref: TorrentRef, index: int) -> FileStream:
        """A reader of file `index` (0-based, as `files` numbers them) for streaming. A
        torrent that is not running (stopped, queued, checking, without metadata) or a
        skipped file (priority 0) is refused with `DaemonError`: streaming never starts a
        torrent or changes what it downloads behind the user's back."""
        ...

    async def set_options(self, refs: Iterable[TorrentRef], changes: Mapping[str, object]) -> None:
        """Change `TorrentOptions` fields by name (labels, limits, category, trackers...)."""
        ...

    async def queue_move(self, refs: Iterable[TorrentRef], where: str) -> None:
        """where: "top", "up", "down" or "bottom"."""
        ...

    async def set_settings(self, changes: Mapping[str, object], *, remote: bool = True) -> None:
        """Change settings by `DaemonSettings` name; with `remote` a `LOCAL_ONLY` key raises
        DaemonError. Saved at once."""
        ...

    async def set_category(self, name: str, save_path: str | None) -> None:
        """Create or change a category (None: remove it)."""
        ...
