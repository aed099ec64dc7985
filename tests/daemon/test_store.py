"""`StateStore`: the daemon's SQLite state (daemon/store.py).

Round trips of every table, ids never reused, one transaction per batch, the schema
version and its migrations, the errors a person sees (not a database, locked by another
daemon, written by a newer bitswarm), every sqlite call on the one state thread, and the
point of it all: a writer SIGKILLed at any moment leaves a consistent file holding every
commit it reported.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bitswarm.daemon import store as store_module
from bitswarm.daemon.model import DaemonError, LimitMode, TorrentOptions
from bitswarm.daemon.store import (
    SCHEMA_VERSION,
    StateStore,
    TorrentRecord,
    options_from_json,
    options_to_json,
)

T = TypeVar("T")


def run(fn: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(fn())  # type: ignore[arg-type]


def make_record(n: int, **changes: Any) -> TorrentRecord:
    record = TorrentRecord(
        id=0,
        info_hash=f"{n:040x}",
        torrent=b"d4:infod4:name" + str(n).encode() + b"ee",
        magnet=None,
        name=f"torrent {n}",
        options=TorrentOptions(download_dir=f"/data/{n}"),
    )
    for key, value in changes.items():
        setattr(record, key, value)
    return record


def rich_options() -> TorrentOptions:
    return TorrentOptions(
        download_dir="/srv/films",
        labels=["hd", "ü"],
        category="films",
        upload_limit=1000,
        upload_limited=True,
        download_limit=2000,
        download_limited=True,
        honors_session_limits=False,
        seed_ratio_mode=LimitMode.SINGLE,
        seed_ratio_limit=1.5,
        seed_idle_mode=LimitMode.UNLIMITED,
        seed_idle_limit=7,
        peer_limit=9,
        bandwidth_priority=1,
        sequential=True,
        file_priorities=[0, 1, 4, 7],
        extra_trackers=["http://t.example/announce"],
    )


# --------------------------------------------------------------------- round trips


def test_every_column_round_trips(tmp_path: Path) -> None:
    full = TorrentRecord(
        id=0,
        info_hash="AB" * 20,
        torrent=bytes(range(256)),
        magnet="magnet:?xt=urn:btih:" + "ab" * 20,
        name="Ünïcode name",
        options=rich_options(),
        paused=True,
        queue_position=3,
        added_at=1.5,
        done_at=2.5,
        activity_at=3.5,
        downloaded_ever=2**40,
        uploaded_ever=5,
        corrupt_ever=6,
        seconds_downloading=7,
        seconds_seeding=8,
        error="disk full",
    )
    magnet_only = make_record(2, torrent=None, magnet="magnet:?xt=urn:btih:" + "cd" * 20)

    async def go() -> list[TorrentRecord]:
        async with await StateStore.open(tmp_path / "state.db") as store:
            assert await store.add_torrent(full) == 1
            assert full.id == 1
            assert await store.add_torrent(magnet_only) == 2
        async with await StateStore.open(tmp_path / "state.db") as store:
            return await store.load_torrents()

    loaded = run(go)
    full.info_hash = full.info_hash.lower()  # stored lower case
    assert loaded == [full, magnet_only]
    assert loaded[1].torrent is None


def test_ids_are_never_reused(tmp_path: Path) -> None:
    async def go() -> list[int]:
        ids = []
        async with await StateStore.open(tmp_path / "s.db") as store:
            for n in range(3):
                ids.append(await store.add_torrent(make_record(n)))
            await store.delete_torrent(ids[-1])  # the highest id goes
            ids.append(await store.add_torrent(make_record(3)))
        async with await StateStore.open(tmp_path / "s.db") as store:
            await store.delete_torrent(ids[-1])
            ids.append(await store.add_torrent(make_record(4)))
            assert [r.id for r in await store.load_torrents()] == [1, 2, 5]
        return ids

    assert run(go) == [1, 2, 3, 4, 5]


def test_a_duplicate_info_hash_is_refused(tmp_path: Path) -> None:
    async def go() -> None:
        async with await StateStore.open(tmp_path / "s.db") as store:
            await store.add_torrent(make_record(1))
            with pytest.raises(DaemonError, match="in the state already"):
                await store.add_torrent(make_record(1, name="again"))
            assert [r.name for r in await store.load_torrents()] == ["torrent 1"]

    run(go)


def test_put_torrent_writes_every_column(tmp_path: Path) -> None:
    async def go() -> None:
        async with await StateStore.open(tmp_path / "s.db") as store:
            record = make_record(1, torrent=None, magnet="magnet:?xt=urn:btih:" + "01" * 20)
            await store.add_torrent(record)
            changed = make_record(
                1,
                id=record.id,
                name="renamed",
                options=rich_options(),
                paused=True,
                queue_position=4,
                added_at=10.0,
                done_at=11.0,
                activity_at=12.0,
                downloaded_ever=13,
                uploaded_ever=14,
                corrupt_ever=15,
                seconds_downloading=16,
                seconds_seeding=17,
                error="tracker said no",
            )
            assert await store.put_torrent(changed) is True
            assert await store.load_torrents() == [changed]
            changed.error = None
            await store.put_torrent(changed)
            assert (await store.load_torrents())[0].error is None
            assert await store.put_torrent(make_record(9, id=99)) is False  # gone: no error

    run(go)


def test_put_torrents_flushes_a_thousand_in_one_transaction(tmp_path: Path) -> None:
    async def go() -> float:
        async with await StateStore.open(tmp_path / "s.db") as store:
            records = [make_record(n) for n in range(1000)]
            for record in records:
                await store.add_torrent(record)
            for record in records:
                record.uploaded_ever = record.id * 10
                record.seconds_seeding = 60
            started = time.perf_counter()
            assert await store.put_torrents(records) == 1000
            elapsed = time.perf_counter() - started
            loaded = await store.load_torrents()
            assert [r.uploaded_ever for r in loaded] == [r.id * 10 for r in records]
            return elapsed

    # one fsync-free WAL transaction; seconds would mean a commit per row
    assert run(go) < 2.0


def test_put_torrents_is_all_or_nothing(tmp_path: Path) -> None:
    async def go() -> None:
        async with await StateStore.open(tmp_path / "s.db") as store:
            a, b = make_record(1), make_record(2)
            await store.add_torrent(a)
            await store.add_torrent(b)
            a.name = "changed"
            b.info_hash = a.info_hash  # breaks the UNIQUE constraint: the batch fails
            with pytest.raises(DaemonError, match="UNIQUE"):
                await store.put_torrents([a, b])
            assert [r.name for r in await store.load_torrents()] == ["torrent 1", "torrent 2"]

    run(go)


def test_resume_data_and_its_removal_with_the_torrent(tmp_path: Path) -> None:
    async def go() -> None:
        async with await StateStore.open(tmp_path / "s.db") as store:
            a, b = make_record(1), make_record(2)
            await store.add_torrent(a)
            await store.add_torrent(b)
            assert await store.get_resume(a.info_hash) is None
            await store.put_resume(a.info_hash.upper(), b"first")
            await store.put_resume(a.info_hash, b"\x00second")
            await store.put_resume(b.info_hash, b"other")
            assert await store.get_resume(a.info_hash.upper()) == b"\x00second"
            await store.delete_torrent(a.id)
            await store.delete_torrent(12345)  # unknown: nothing happens
            assert await store.get_resume(a.info_hash) is None
            assert await store.get_resume(b.info_hash) == b"other"
            assert [r.id for r in await store.load_torrents()] == [b.id]

    run(go)


def test_settings_categories_and_counters(tmp_path: Path) -> None:
    async def go() -> None:
        async with await StateStore.open(tmp_path / "s.db") as store:
            assert await store.load_settings() == {}
            await store.put_settings(
                {"speed_limit_down": 100, "alt_speed_enabled": True, "download_dir": "/x"}
            )
            await store.put_settings({"speed_limit_down": 200, "rpc_host_whitelist": ["a", "b"]})
            await store.put_settings({"download_dir": None})  # back to the default
            await store.put_category("films", "/srv/films")
            await store.put_category("music", "")
            await store.put_category("films", "/srv/movies")
            await store.put_category("gone", "/x")
            await store.put_category("gone", None)
            await store.put_counters({"uploaded_ever": 5, "downloaded_ever": 7})
            await store.put_counters({"uploaded_ever": 2**50})
        async with await StateStore.open(tmp_path / "s.db") as store:
            assert await store.load_settings() == {
                "alt_speed_enabled": True,
                "rpc_host_whitelist": ["a", "b"],
                "speed_limit_down": 200,
            }
            assert await store.load_categories() == {"films": "/srv/movies", "music": ""}
            assert await store.load_counters() == {
                "downloaded_ever": 7,
                "uploaded_ever": 2**50,
            }

    run(go)


def test_a_flush_rewrites_torrent_files_only_when_they_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements: list[str] = []
    connect = sqlite3.connect

    class Recording(sqlite3.Connection):
        def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
            statements.append(sql)
            return super().execute(sql, *args)

    def recording_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        return connect(*args, factory=Recording, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", recording_connect)

    def file_writes() -> int:
        count = sum("torrent_files" in sql and "SELECT" not in sql for sql in statements)
        statements.clear()
        return count

    big = bytes(2_000_000)  # a big torrent's piece hashes

    async def go() -> None:
        async with await StateStore.open(tmp_path / "s.db") as store:
            statements.clear()  # the schema's creation
            whole = make_record(1, torrent=big)
            magnet = make_record(2, torrent=None, magnet="magnet:?xt=urn:btih:" + "02" * 20)
            await store.add_torrent(whole)
            await store.add_torrent(magnet)
            assert file_writes() == 1
            for n in range(3):  # the statistics flush
                whole.uploaded_ever = magnet.uploaded_ever = n
                await store.put_torrents([whole, magnet])
            assert file_writes() == 0
            magnet.torrent = b"d4:infod4:name1:xee"  # its metadata arrived
            await store.put_torrent(magnet)
            assert file_writes() == 1
            await store.put_torrents([whole, magnet])
            assert file_writes() == 0
        async with await StateStore.open(tmp_path / "s.db") as store:
            loaded = await store.load_torrents()
            assert [r.torrent for r in loaded] == [big, b"d4:infod4:name1:xee"]
            statements.clear()
            await store.put_torrents(loaded)  # as loaded: known, not written
            assert file_writes() == 0
            loaded[1].torrent = None  # back to a bare magnet
            await store.put_torrents(loaded)
            assert file_writes() == 1
            await store.delete_torrent(loaded[0].id)
            assert file_writes() == 1
        async with await StateStore.open(tmp_path / "s.db") as store:
            assert [(r.id, r.torrent) for r in await store.load_torrents()] == [(2, None)]

    run(go)


# --------------------------------------------------------------------- options as JSON


def test_options_json_round_trip() -> None:
    options = rich_options()
    text = options_to_json(options)
    assert json.loads(text)["seed_ratio_mode"] == 1
    assert options_from_json(text) == options


def test_options_json_tolerates_unknown_missing_and_wrong_keys() -> None:
    text = json.dumps(
        {
            "download_dir": "/d",
            "from_the_future": {"x": 1},  # a newer bitswarm's field
            "upload_limit": "fast",  # wrong type: default
            "seed_ratio_mode": 9,  # no such mode: default
            "seed_ratio_limit": 3,  # an int for a float is fine
            "labels": ["a", 1],  # a list with a wrong item: default
            "peer_limit": True,  # a bool is not an int here
            "sequential": True,
        }
    )
    options = options_from_json(text)
    assert options == TorrentOptions(download_dir="/d", seed_ratio_limit=3.0, sequential=True)
    assert isinstance(options.seed_ratio_limit, float)
    assert options_from_json("not json") == TorrentOptions(download_dir="")
    assert options_from_json("[1, 2]") == TorrentOptions(download_dir="")


def test_options_written_by_another_version_load(tmp_path: Path) -> None:
    path = tmp_path / "s.db"

    async def add() -> None:
        async with await StateStore.open(path) as store:
            await store.add_torrent(make_record(1))

    run(add)
    with sqlite3.connect(path) as db:
        db.execute(
            "UPDATE torrents SET options = ?",
            (json.dumps({"download_dir": "/old", "labels": ["x"], "new_thing": 1}),),
        )
    db.close()

    async def load() -> list[TorrentRecord]:
        async with await StateStore.open(path) as store:
            return await store.load_torrents()

    assert run(load)[0].options == TorrentOptions(download_dir="/old", labels=["x"])


# --------------------------------------------------------------------- files and errors


def test_open_creates_folders_and_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "state.db"

    async def go() -> None:
        store = await StateStore.open(path)
        await store.close()
        await store.close()  # idempotent
        with pytest.raises(DaemonError, match="closed"):
            await store.load_torrents()

    run(go)
    assert path.is_file()
    assert path.stat().st_mode & 0o077 == 0
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is a text file, not SQLite\n" * 100)

    async def go() -> None:
        await StateStore.open(path)

    with pytest.raises(DaemonError) as caught:
        run(go)
    message = str(caught.value)
    assert "not a database" in message and str(path) in message and "\n" not in message

    # and the lock is released after the failure: a good file opens at once
    path.unlink()
    run(lambda: _open_close(path))


def test_a_folder_where_the_file_should_be(tmp_path: Path) -> None:
    (tmp_path / "state.db").mkdir()
    with pytest.raises(DaemonError, match="cannot create the state database"):
        run(lambda: _open_close(tmp_path / "state.db"))


async def _open_close(path: Path) -> None:
    store = await StateStore.open(path)
    await store.close()


def test_a_second_daemon_on_the_same_state_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"

    async def go() -> None:
        first = await StateStore.open(path)
        with pytest.raises(DaemonError) as caught:
            await StateStore.open(path)
        assert str(caught.value) == (
            f"another bitswarm daemon (process {os.getpid()}) is using the state in {tmp_path}"
        )
        await first.add_torrent(make_record(1))  # the first one works on
        await first.close()
        second = await StateStore.open(path)  # free again
        assert len(await second.load_torrents()) == 1
        await second.close()

    run(go)


def test_a_daemon_in_another_process_holds_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    child = _python(
        f"""
        import asyncio, sys
        from pathlib import Path
        from bitswarm.daemon.store import StateStore
        async def main():
            store = await StateStore.open(Path({str(path)!r}))
            print("open", flush=True)
            sys.stdin.readline()
            await store.close()
        asyncio.run(main())
        """,
        stdin=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline() == "open\n"
        with pytest.raises(DaemonError, match=f"process {child.pid}"):
            run(lambda: _open_close(path))
        child.stdin.write("done\n")
        child.stdin.flush()
        assert child.wait(timeout=30) == 0
    finally:
        child.kill()
        child.wait()
        for pipe in (child.stdin, child.stdout):
            if pipe is not None:
                pipe.close()
    run(lambda: _open_close(path))


def test_a_database_from_a_newer_bitswarm_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    run(lambda: _open_close(path))
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(DaemonError, match="newer bitswarm"):
        run(lambda: _open_close(path))


def test_an_old_schema_is_migrated_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.db"

    async def version_1() -> None:
        async with await StateStore.open(path) as store:
            await store.add_torrent(make_record(1))

    run(version_1)

    def add_note_column(db: sqlite3.Connection) -> None:
        db.execute("ALTER TABLE torrents ADD COLUMN note TEXT NOT NULL DEFAULT 'n'")

    def broken(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE half_done (x)")
        raise sqlite3.OperationalError("migration failed")

    migrations = [*store_module._MIGRATIONS, add_note_column, broken]
    monkeypatch.setattr(store_module, "_MIGRATIONS", migrations)
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", len(migrations))
    with pytest.raises(DaemonError, match="migration failed"):
        run(lambda: _open_close(path))
    with sqlite3.connect(path) as db:
        # the good step is kept, the failed one rolled back whole
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
        assert db.execute("SELECT note FROM torrents").fetchall() == [("n",)]
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        assert "half_done" not in tables
    db.close()
    migrations.pop()
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", len(migrations))

    async def after() -> list[TorrentRecord]:
        async with await StateStore.open(path) as store:
            return await store.load_torrents()

    assert [r.name for r in run(after)] == ["torrent 1"]


def test_a_version_1_database_is_upgraded_keeping_its_torrents(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = sqlite3.connect(path)
    store_module._migrate_0_to_1(db)  # the schema as the first daemon wrote it
    db.execute("PRAGMA user_version=1")
    columns = "info_hash, torrent, magnet, name, options, paused, queue_position, added_at, "
    columns += "done_at, activity_at, downloaded_ever, uploaded_ever, corrupt_ever, "
    columns += "seconds_downloading, seconds_seeding, error"
    rows = [
        ("aa" * 20, b"d4:infodee", None, "whole", '{"download_dir": "/a"}', 0, 0, 1.0),
        ("bb" * 20, None, "magnet:?xt=urn:btih:" + "bb" * 20, "magnet", "{}", 1, 1, 2.0),
    ]
    for row in rows:
        db.execute(
            f"INSERT INTO torrents ({columns}) VALUES (?,?,?,?,?,?,?,?,0,0,5,6,0,0,0,NULL)", row
        )
    db.commit()
    db.close()

    async def go() -> list[TorrentRecord]:
        async with await StateStore.open(path) as store:
            return await store.load_torrents()

    loaded = run(go)
    assert [(r.id, r.name, r.torrent, r.magnet) for r in loaded] == [
        (1, "whole", b"d4:infodee", None),
        (2, "magnet", None, "magnet:?xt=urn:btih:" + "bb" * 20),
    ]
    assert loaded[0].options.download_dir == "/a" and loaded[1].paused
    assert loaded[0].downloaded_ever == 5
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()


def test_every_sqlite_call_runs_on_the_state_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: set[str] = set()
    connect = sqlite3.connect

    class Watched(sqlite3.Connection):
        def execute(self, *args: Any) -> sqlite3.Cursor:
            threads.add(threading.current_thread().name)
            return super().execute(*args)

        def executemany(self, *args: Any) -> sqlite3.Cursor:
            threads.add(threading.current_thread().name)
            return super().executemany(*args)

    def watched_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        threads.add(threading.current_thread().name)
        return connect(*args, factory=Watched, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", watched_connect)

    async def go() -> None:
        async with await StateStore.open(tmp_path / "s.db") as store:
            await store.add_torrent(make_record(1))
            await store.put_torrents([make_record(1, id=1)])
            await store.put_resume("00" * 20, b"r")
            await store.get_resume("00" * 20)
            await store.put_settings({"a": 1})
            await store.load_settings()
            await store.put_counters({"a": 1})
            await store.load_counters()
            await store.put_category("c", "/c")
            await store.load_categories()
            await store.load_torrents()
            await store.delete_torrent(1)

    run(go)
    assert len(threads) == 1, threads
    (name,) = threads
    assert name.startswith("bitswarm-state") and name != threading.main_thread().name


# --------------------------------------------------------------------- SIGKILL


def _python(code: str, *args: str, **kwargs: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        text=True,
        **kwargs,
    )


WRITER = """
    import asyncio, sys
    from pathlib import Path
    from bitswarm.daemon.model import TorrentOptions
    from bitswarm.daemon.store import StateStore, TorrentRecord

    async def main():
        store = await StateStore.open(Path(sys.argv[1]))
        start = len(await store.load_torrents())
        records = []
        n = start
        while True:
            n += 1
            record = TorrentRecord(
                id=0, info_hash=f"{n:040x}", torrent=b"x" * 5000, magnet=None,
                name=f"t{n}", options=TorrentOptions(download_dir=f"/d/{n}", labels=["l"]),
                queue_position=n,
            )
            await store.add_torrent(record)
            await store.put_resume(record.info_hash, b"r" * 3000 + str(n).encode())
            records.append(record)
            for r in records[-200:]:
                r.uploaded_ever = n
            await store.put_torrents(records[-200:])
            await store.put_counters({"uploaded_ever": n})
            print(record.id, n, flush=True)

    asyncio.run(main())
"""


@pytest.mark.timeout(180)  # three child processes, each started under a loaded machine
def test_sigkill_at_any_moment_keeps_every_commit(tmp_path: Path) -> None:
    path = tmp_path / "state" / "state.db"
    reported: dict[int, int] = {}  # id -> n, as the writer printed after its commits
    for round_, kill_after in enumerate((40, 97, 151)):
        child = _python(WRITER, str(path), stdin=subprocess.DEVNULL)
        assert child.stdout is not None
        try:
            seen = 0
            for line in child.stdout:
                id_, n = map(int, line.split())
                reported[id_] = n
                seen += 1
                if seen == kill_after:
                    break
            assert seen == kill_after, f"round {round_}: the writer stopped early"
            # it is writing on: the kill lands in the middle of some transaction
            os.kill(child.pid, signal.SIGKILL)
            assert child.wait(timeout=30) == -signal.SIGKILL
        finally:
            child.kill()
            child.wait()
            child.stdout.close()

        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db.close()

        async def check() -> None:
            async with await StateStore.open(path) as store:  # the lock died with the child
                loaded = {r.id: r for r in await store.load_torrents()}
                assert set(reported) <= set(loaded)
                for id_, n in reported.items():
                    record = loaded[id_]
                    assert record.name == f"t{n}"
                    assert record.options.download_dir == f"/d/{n}"
                    assert record.torrent == b"x" * 5000
                    resume = await store.get_resume(record.info_hash)
                    assert resume == b"r" * 3000 + str(n).encode()
                # ids are dense: no half-inserted torrent without its row
                assert sorted(loaded) == list(range(1, len(loaded) + 1))
                counters = await store.load_counters()
                assert counters["uploaded_ever"] >= max(reported.values())

        run(check)
    assert len(reported) == 40 + 97 + 151
