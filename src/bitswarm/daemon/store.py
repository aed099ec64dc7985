"""`StateStore`: the daemon's state in one SQLite file, written off the event loop.

What survives a restart lives here: each torrent (its .torrent bytes or magnet link, its
options, its lifetime counters), its resume data (which pieces are verified), the settings
changed over the network, qBittorrent's categories and the session's running totals.

Rules:
- Every sqlite3 call runs in ONE dedicated thread (a single-worker executor): the
  connection is made there and never leaves it, and the event loop never waits on the disk
  except through `await`.
- WAL journal with ``synchronous=NORMAL``: a committed transaction survives the process
  being killed at any moment (SIGKILL); only a power cut may lose the last few commits, and
  even then the file stays consistent.
- One daemon per state file: an exclusive ``flock`` on ``<file>.lock`` (held until `close`)
  makes a second daemon on the same state directory refuse with one line.
- ``PRAGMA user_version`` is the schema version; `_MIGRATIONS[n]` takes a database from
  version n to n + 1, so an old file is upgraded in place and a newer one is refused.
- Torrent ids come from an AUTOINCREMENT key: a removed torrent's id is never reused, so a
  client holding an old id can never act on a different torrent.
- The .torrent bytes (up to megabytes each) live in a table of their own and are written
  only when they change (added, or a magnet's metadata arrived): the periodic statistics
  flush of a thousand torrents rewrites small rows, not their files.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import fcntl
import json
import logging
import os
import sqlite3
import typing
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from .model import DaemonError, LimitMode, TorrentOptions

__all__ = ["SCHEMA_VERSION", "StateStore", "TorrentRecord", "options_from_json", "options_to_json"]

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(slots=True)
class TorrentRecord:
    """One torrent as the state database keeps it (times are Unix seconds, 0 = never)."""

    id: int  # 0 before `add_torrent` assigns one
    info_hash: str  # 40 hex digits, lower case
    torrent: bytes | None  # the .torrent file; None while a magnet fetches its metadata
    magnet: str | None
    name: str
    options: TorrentOptions
    paused: bool = False
    queue_position: int = 0
    added_at: float = 0.0
    done_at: float = 0.0
    activity_at: float = 0.0
    downloaded_ever: int = 0
    uploaded_ever: int = 0
    corrupt_ever: int = 0
    seconds_downloading: int = 0
    seconds_seeding: int = 0
    error: str | None = None


# ---------------------------------------------------------------- options as JSON

_OPTION_TYPES: dict[str, Any] = typing.get_type_hints(TorrentOptions)
_OPTION_DEFAULTS = TorrentOptions(download_dir="")


def options_to_json(options: TorrentOptions) -> str:
    """The options as a JSON object (enums as their numbers)."""
    out: dict[str, object] = {}
    for f in dataclasses.fields(TorrentOptions):
        value = getattr(options, f.name)
        out[f.name] = value.value if isinstance(value, enum.Enum) else value
    return json.dumps(out, separators=(",", ":"), sort_keys=True)


def options_from_json(text: str) -> TorrentOptions:
    """Options back from `options_to_json`, tolerant by design: an unknown key (written by a
    newer bitswarm) is ignored, and a missing or ill-typed one takes its default, so neither
    a downgrade nor an upgrade ever loses the torrent."""
    try:
        data = json.loads(text)
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    values: dict[str, Any] = {}
    for f in dataclasses.fields(TorrentOptions):
        default = getattr(_OPTION_DEFAULTS, f.name)
        if f.name not in data:
            values[f.name] = default
            continue
        converted = _convert_option(_OPTION_TYPES[f.name], data[f.name])
        if converted is _BAD:
            log.warning("state: option %s=%r ignored (wrong type)", f.name, data[f.name])
            converted = default
        values[f.name] = converted
    return TorrentOptions(**values)


_BAD = object()


def _convert_option(kind: Any, value: object) -> object:
    if kind is bool:
        return value if isinstance(value, bool) else _BAD
    if kind is int:
        return value if isinstance(value, int) and not isinstance(value, bool) else _BAD
    if kind is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return float(value) if ok else _BAD  # type: ignore[arg-type]
    if kind is str:
        return value if isinstance(value, str) else _BAD
    if kind is LimitMode:
        try:
            return LimitMode(value)  # type: ignore[arg-type]  # checked right here
        except ValueError:
            return _BAD
    item = typing.get_args(kind)[0] if typing.get_origin(kind) is list else None
    if item is None or not isinstance(value, list):
        return _BAD
    converted = [_convert_option(item, v) for v in value]
    return _BAD if any(c is _BAD for c in converted) else converted


# ---------------------------------------------------------------- the schema

_COLUMNS = (  # of the torrents table; the .torrent bytes are in torrent_files
    "info_hash",
    "magnet",
    "name",
    "options",
    "paused",
    "queue_position",
    "added_at",
    "done_at",
    "activity_at",
    "downloaded_ever",
    "uploaded_ever",
    "corrupt_ever",
    "seconds_downloading",
    "seconds_seeding",
    "error",
)


def _migrate_0_to_1(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE torrents (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            info_hash TEXT NOT NULL UNIQUE,
            torrent BLOB,
            magnet TEXT,
            name TEXT NOT NULL,
            options TEXT NOT NULL,
            paused INTEGER NOT NULL,
            queue_position INTEGER NOT NULL,
            added_at REAL NOT NULL,
            done_at REAL NOT NULL,
            activity_at REAL NOT NULL,
            downloaded_ever INTEGER NOT NULL,
            uploaded_ever INTEGER NOT NULL,
            corrupt_ever INTEGER NOT NULL,
            seconds_downloading INTEGER NOT NULL,
            seconds_seeding INTEGER NOT NULL,
            error TEXT
        )"""
    )
    db.execute("CREATE TABLE resume (info_hash TEXT PRIMARY KEY, data BLOB NOT NULL)")
    db.execute("CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("CREATE TABLE categories (name TEXT PRIMARY KEY, save_path TEXT NOT NULL)")
    db.execute("CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")


def _migrate_1_to_2(db: sqlite3.Connection) -> None:
    """The .torrent bytes move to their own table, so updating a torrent's counters no
    longer rewrites its (possibly megabytes of) metainfo."""
    db.execute("CREATE TABLE torrent_files (id INTEGER PRIMARY KEY, data BLOB NOT NULL)")
    db.execute(
        "INSERT INTO torrent_files (id, data) SELECT id, torrent FROM torrents "
        "WHERE torrent IS NOT NULL"
    )
    db.execute("ALTER TABLE torrents DROP COLUMN torrent")


#: `_MIGRATIONS[n]` upgrades a database at schema version n to n + 1, in one transaction.
_MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_migrate_0_to_1, _migrate_1_to_2]
SCHEMA_VERSION = len(_MIGRATIONS)


def _lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


class StateStore:
    """The daemon's SQLite state. Make one with `await StateStore.open(path)`."""

    def __init__(self, path: Path, executor: ThreadPoolExecutor, lock_fd: int) -> None:
        self.path = path
        self._executor = executor
        self._lock_fd = lock_fd
        self._db: sqlite3.Connection | None = None  # lives in the executor's thread
        # id -> the .torrent bytes last written or read (the state thread's only): a flush
        # writes them again only when a record holds different ones
        self._files: dict[int, bytes | None] = {}
        self._closed = False

    # ------------------------------------------------------------ opening and closing

    @classmethod
    async def open(cls, path: Path) -> StateStore:
        """Open (or create, with its parent folders) the state database at `path`.

        Raises:
            DaemonError: the file is not a bitswarm state database, was written by a newer
                bitswarm, cannot be created, or another daemon holds it.
        """
        path = Path(path)
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bitswarm-state")
        loop = asyncio.get_running_loop()
        try:
            lock_fd = await loop.run_in_executor(executor, _take_lock, path)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        store = cls(path, executor, lock_fd)
        try:
            await store._run(store._connect)
        except BaseException:
            await store.close()
            raise
        return store

    def _connect(self) -> None:
        db = sqlite3.connect(self.path, isolation_level=None, timeout=5.0)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise DaemonError(
                    f"state database {self.path} has schema version {version}, written by a "
                    f"newer bitswarm (this one knows up to {SCHEMA_VERSION})"
                )
            for number in range(version, SCHEMA_VERSION):
                db.execute("BEGIN IMMEDIATE")
                try:
                    _MIGRATIONS[number](db)
                    db.execute(f"PRAGMA user_version={number + 1}")
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                log.info("state: %s migrated to schema version %d", self.path, number + 1)
        except BaseException:
            db.close()
            raise
        self._db = db

    async def close(self) -> None:
        """Close the database and release the lock (idempotent)."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._close_in_thread)
        finally:
            self._executor.shutdown(wait=True)

    def _close_in_thread(self) -> None:
        try:
            if self._db is not None:
                self._db.close()
                self._db = None
        finally:
            os.close(self._lock_fd)  # closing the descriptor releases the flock

    async def __aenter__(self) -> StateStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------ running in the thread

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise DaemonError(f"state database {self.path} is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._guarded, fn, args)

    def _guarded(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        try:
            return fn(*args)
        except sqlite3.Error as exc:
            # "file is not a database", "database disk image is malformed", "disk is full"
            raise DaemonError(f"state database {self.path}: {exc}") from exc

    def _conn(self) -> sqlite3.Connection:
        assert self._db is not None, "state database used before open()"
        return self._db

    def _transaction(self, body: Callable[[sqlite3.Connection], T]) -> T:
        db = self._conn()
        db.execute("BEGIN IMMEDIATE")
        try:
            result = body(db)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return result

    # ------------------------------------------------------------ torrents

    async def load_torrents(self) -> list[TorrentRecord]:
        """Every torrent, in id order."""
        return await self._run(self._load_torrents)

    def _load_torrents(self) -> list[TorrentRecord]:
        columns = ", ".join(f"t.{column}" for column in _COLUMNS)
        rows = self._conn().execute(
            f"SELECT t.id, f.data, {columns} FROM torrents AS t "
            "LEFT JOIN torrent_files AS f ON f.id = t.id ORDER BY t.id"
        )
        records = [_record_from_row(row) for row in rows]
        self._files = {record.id: record.torrent for record in records}
        return records

    async def add_torrent(self, record: TorrentRecord) -> int:
        """Insert a new torrent; returns its id (also set on `record`), never one used before.

        Raises:
            DaemonError: a torrent with that info-hash is there already.
        """
        new_id = await self._run(self._add_torrent, record)
        record.id = new_id
        return new_id

    def _add_torrent(self, record: TorrentRecord) -> int:
        marks = ", ".join("?" for _ in _COLUMNS)
        sql = f"INSERT INTO torrents ({', '.join(_COLUMNS)}) VALUES ({marks})"

        def body(db: sqlite3.Connection) -> int:
            new_id = db.execute(sql, _row_values(record)).lastrowid
            assert new_id is not None
            if record.torrent is not None:
                db.execute(
                    "INSERT INTO torrent_files (id, data) VALUES (?, ?)", (new_id, record.torrent)
                )
            return new_id

        try:
            new_id = self._transaction(body)
        except sqlite3.IntegrityError:
            raise DaemonError(f"torrent {record.info_hash} is in the state already") from None
        self._files[new_id] = record.torrent
        return new_id

    async def put_torrent(self, record: TorrentRecord) -> bool:
        """Write every column of `record` (by its id); False when no such torrent is stored
        (removed meanwhile), which is not an error."""
        return await self._run(self._put_torrents, [record]) == 1

    async def put_torrents(self, records: Iterable[TorrentRecord]) -> int:
        """`put_torrent` for many in one transaction (the periodic statistics flush);
        returns how many were stored."""
        return await self._run(self._put_torrents, list(records))

    def _put_torrents(self, records: list[TorrentRecord]) -> int:
        sets = ", ".join(f"{column} = ?" for column in _COLUMNS)
        sql = f"UPDATE torrents SET {sets} WHERE id = ?"

        written: dict[int, bytes | None] = {}

        def body(db: sqlite3.Connection) -> int:
            updated = 0
            for record in records:
                if db.execute(sql, (*_row_values(record), record.id)).rowcount == 0:
                    continue  # removed meanwhile
                updated += 1
                torrent = record.torrent
                known = self._files.get(record.id, b"")  # b"": not known, write it
                if torrent is known or torrent == known:
                    continue
                if torrent is None:
                    db.execute("DELETE FROM torrent_files WHERE id = ?", (record.id,))
                else:
                    db.execute(
                        "INSERT OR REPLACE INTO torrent_files (id, data) VALUES (?, ?)",
                        (record.id, torrent),
                    )
                written[record.id] = torrent
            return updated

        updated = self._transaction(body)
        self._files.update(written)  # only once committed
        return updated

    async def delete_torrent(self, torrent_id: int) -> None:
        """Forget a torrent and its resume data (no error when it is not there)."""
        await self._run(self._delete_torrent, torrent_id)

    def _delete_torrent(self, torrent_id: int) -> None:
        def body(db: sqlite3.Connection) -> None:
            db.execute(
                "DELETE FROM resume WHERE info_hash IN "
                "(SELECT info_hash FROM torrents WHERE id = ?)",
                (torrent_id,),
            )
            db.execute("DELETE FROM torrent_files WHERE id = ?", (torrent_id,))
            db.execute("DELETE FROM torrents WHERE id = ?", (torrent_id,))

        self._transaction(body)
        self._files.pop(torrent_id, None)

    # ------------------------------------------------------------ resume data

    async def get_resume(self, info_hash: str) -> bytes | None:
        """The resume data saved for a torrent, or None."""
        return await self._run(self._get_resume, info_hash.lower())

    def _get_resume(self, info_hash: str) -> bytes | None:
        row = (
            self._conn()
            .execute("SELECT data FROM resume WHERE info_hash = ?", (info_hash,))
            .fetchone()
        )
        return None if row is None else bytes(row[0])

    async def put_resume(self, info_hash: str, raw: bytes) -> None:
        """Save (replace) a torrent's resume data."""
        await self._run(self._put_resume, info_hash.lower(), bytes(raw))

    def _put_resume(self, info_hash: str, raw: bytes) -> None:
        sql = "INSERT OR REPLACE INTO resume (info_hash, data) VALUES (?, ?)"
        self._transaction(lambda db: db.execute(sql, (info_hash, raw)))

    # ------------------------------------------------------------ settings, categories, totals

    async def load_settings(self) -> dict[str, object]:
        """The settings changed at run time, key -> value (decoded JSON)."""
        return await self._run(self._load_settings)

    def _load_settings(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for key, text in self._conn().execute("SELECT key, value FROM settings ORDER BY key"):
            try:
                out[key] = json.loads(text)
            except ValueError:
                log.warning("state: setting %s has an unreadable value; ignored", key)
        return out

    async def put_settings(self, changes: Mapping[str, object]) -> None:
        """Save changed settings (JSON values); a value of None forgets the key."""
        encoded = {
            key: None if value is None else json.dumps(value) for key, value in changes.items()
        }
        await self._run(self._put_settings, encoded)

    def _put_settings(self, encoded: dict[str, str | None]) -> None:
        def body(db: sqlite3.Connection) -> None:
            for key, text in encoded.items():
                if text is None:
                    db.execute("DELETE FROM settings WHERE key = ?", (key,))
                else:
                    db.execute(
                        "INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (key, text)
                    )

        self._transaction(body)

    async def load_categories(self) -> dict[str, str]:
        """qBittorrent categories: name -> save path ("" = the default folder)."""
        return await self._run(self._load_categories)

    def _load_categories(self) -> dict[str, str]:
        rows = self._conn().execute("SELECT name, save_path FROM categories ORDER BY name")
        return {str(name): str(path) for name, path in rows}

    async def put_category(self, name: str, save_path: str | None) -> None:
        """Create or change a category; a `save_path` of None deletes it."""
        await self._run(self._put_category, name, save_path)

    def _put_category(self, name: str, save_path: str | None) -> None:
        args: tuple[str, ...]
        if save_path is None:
            sql, args = "DELETE FROM categories WHERE name = ?", (name,)
        else:
            sql = "INSERT OR REPLACE INTO categories (name, save_path) VALUES (?, ?)"
            args = (name, save_path)
        self._transaction(lambda db: db.execute(sql, args))

    async def load_counters(self) -> dict[str, int]:
        """The session's totals (bytes up and down ever, seconds active, ...)."""
        return await self._run(self._load_counters)

    def _load_counters(self) -> dict[str, int]:
        rows = self._conn().execute("SELECT name, value FROM counters ORDER BY name")
        return {name: int(value) for name, value in rows}

    async def put_counters(self, counters: Mapping[str, int]) -> None:
        """Save (replace) the named totals; others are kept."""
        await self._run(self._put_counters, {k: int(v) for k, v in counters.items()})

    def _put_counters(self, counters: dict[str, int]) -> None:
        sql = "INSERT OR REPLACE INTO counters (name, value) VALUES (?, ?)"
        self._transaction(lambda db: db.executemany(sql, counters.items()))


# ---------------------------------------------------------------- helpers


def _take_lock(path: Path) -> int:
    """Create the folders and take the daemon's exclusive lock; returns its descriptor."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(_lock_path(path), os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise DaemonError(f"cannot create the state database {path}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        os.close(fd)
        who = f" (process {holder})" if holder.isdigit() else ""
        raise DaemonError(
            f"another bitswarm daemon{who} is using the state in {path.parent}"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    try:  # private from the start: the settings may hold the RPC password's hash
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    except OSError as exc:
        os.close(fd)
        raise DaemonError(f"cannot create the state database {path}: {exc.strerror}") from None
    return fd


def _row_values(record: TorrentRecord) -> tuple[object, ...]:
    return (
        record.info_hash.lower(),
        record.magnet,
        record.name,
        options_to_json(record.options),
        int(record.paused),
        record.queue_position,
        record.added_at,
        record.done_at,
        record.activity_at,
        record.downloaded_ever,
        record.uploaded_ever,
        record.corrupt_ever,
        record.seconds_downloading,
        record.seconds_seeding,
        record.error,
    )


def _record_from_row(row: tuple[Any, ...]) -> TorrentRecord:
    (id_, torrent, info_hash, magnet, name, options, paused, queue_position) = row[:8]
    (added_at, done_at, activity_at, down, up, corrupt, s_down, s_seed, error) = row[8:]
    return TorrentRecord(
        id=id_,
        info_hash=info_hash,
        torrent=None if torrent is None else bytes(torrent),
        magnet=magnet,
        name=name,
        options=options_from_json(options),
        paused=bool(paused),
        queue_position=queue_position,
        added_at=added_at,
        done_at=done_at,
        activity_at=activity_at,
        downloaded_ever=down,
        uploaded_ever=up,
        corrupt_ever=corrupt,
        seconds_downloading=s_down,
        seconds_seeding=s_seed,
        error=error,
    )
