"""sync/maindata and sync/torrentPeers: qBittorrent's rid diffs, pure and over HTTP."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from typing import Any, cast

import aiohttp
from aiohttp import web

from bitswarm.daemon.model import Activity, PeerView
from bitswarm.daemon.qbittorrent.protocol import Call, Params
from bitswarm.daemon.qbittorrent.routes_sync import maindata_snapshot
from bitswarm.daemon.qbittorrent.state import QbtState, WebSession
from bitswarm.daemon.qbittorrent.sync import KEEP, Snapshot, SyncHistory, Table, sync_reply

from .qbt_fake import Client, FakeApi, make_view, with_client

H1, H2, H3 = f"{1:040x}", f"{2:040x}", f"{3:040x}"


def _table(rows: dict[str, tuple[Any, ...]]) -> Snapshot:
    return Snapshot(tables={"t": Table(("a", "b"), rows)})


def test_first_reply_is_full_and_later_ones_carry_only_changes() -> None:
    first = _table({"x": (1, "p"), "y": (2, "q")})
    full = sync_reply(None, first, 1)
    assert full == {
        "rid": 1,
        "full_update": True,
        "t": {"x": {"a": 1, "b": "p"}, "y": {"a": 2, "b": "q"}},
    }
    second = _table({"x": (1, "p"), "y": (3, "q"), "z": (0, "r")})
    diff = sync_reply(first, second, 2)
    assert diff == {"rid": 2, "t": {"y": {"a": 3}, "z": {"a": 0, "b": "r"}}}
    third = _table({"y": (3, "q"), "z": (0, "r")})
    assert sync_reply(second, third, 3) == {"rid": 3, "t_removed": ["x"]}
    assert sync_reply(third, third, 4) == {"rid": 4}


def test_lists_records_and_scalars_diff_like_qbittorrent() -> None:
    old = Snapshot(lists={"tags": ("a", "b")}, records={"s": (("u", "v"), (1, 2))})
    new = Snapshot(
        lists={"tags": ("b", "c")},
        records={"s": (("u", "v"), (1, 5))},
        scalars={"show_flags": False},
    )
    assert sync_reply(old, new, 7) == {
        "rid": 7,
        "tags": ["c"],
        "tags_removed": ["a"],
        "s": {"v": 5},
        "show_flags": False,
    }
    assert sync_reply(None, Snapshot(lists={"tags": ()}), 1) == {"rid": 1, "full_update": True}


def test_unchanged_rows_share_the_older_tuple() -> None:
    first = _table({"x": (int("1"), "p")})  # built at run time: not one shared constant
    second = _table({"x": (int("1"), "p")})
    assert first.tables["t"].rows["x"] is not second.tables["t"].rows["x"]
    sync_reply(first, second, 2)
    assert first.tables["t"].rows["x"] is second.tables["t"].rows["x"]


def test_history_is_bounded_and_rids_cycle() -> None:
    history = SyncHistory()
    snaps = [Snapshot() for _ in range(KEEP + 2)]
    rids = [history.record(s) for s in snaps]
    assert rids == list(range(1, KEEP + 3))
    assert len(history) == KEEP
    assert history.base(rids[-1]) is snaps[-1]
    assert history.base(rids[-KEEP]) is snaps[-KEEP]
    assert history.base(rids[0]) is None  # fell out: a full update
    assert history.base(0) is None
    assert history.base(-3) is None
    history._last_rid = 1_000_000
    assert history.record(Snapshot()) == 1


async def _maindata(client: Client, rid: int) -> dict[str, Any]:
    r = await client.get("/api/v2/sync/maindata", params={"rid": str(rid)})
    assert r.status == 200, await r.text()
    assert r.content_type == "application/json"
    return cast(dict[str, Any], await r.json())


def test_maindata_over_http_follows_rids_per_session() -> None:
    api = FakeApi([make_view(1), make_view(2), make_view(3)])

    async def body(client: Client) -> None:
        full = await _maindata(client, 0)
        assert full["full_update"] is True
        assert full["rid"] == 1
        assert set(full["torrents"]) == {H1, H2, H3}
        t1 = full["torrents"][H1]
        assert "hash" not in t1  # maindata rows are keyed by hash, as qBittorrent's
        assert t1["state"] == "downloading"
        assert t1["progress"] == 0.4
        assert full["server_state"]["dl_info_speed"] == 3000
        assert full["server_state"]["free_space_on_disk"] == 10**12
        assert "tags" not in full and "categories" not in full  # empty parts left out

        same = await _maindata(client, 1)
        assert same == {"rid": 2}

        api.change(1, progress=0.5, done_wanted=500 * 16384)
        api.change(2, activity=Activity.STOPPED)
        await api.remove([3], delete_data=False)
        await api.set_category("tv", "/tv")
        await api.set_options([1], {"labels": ["hd"]})
        diff = await _maindata(client, 2)
        assert diff["rid"] == 3
        assert "full_update" not in diff
        assert diff["torrents"][H1] == {
            "progress": 0.5,
            "amount_left": 500 * 16384,
            "completed": 500 * 16384,
            "tags": "hd",
        }
        assert diff["torrents"][H2] == {"state": "stoppedDL", "eta": 8640000}
        assert diff["torrents_removed"] == [H3]
        assert diff["categories"] == {"tv": {"name": "tv", "savePath": "/tv"}}
        assert diff["tags"] == ["hd"]

        # An older rid that this session still remembers: a diff against that reply.
        older = await _maindata(client, 1)
        assert "full_update" not in older
        assert older["torrents_removed"] == [H3]
        assert older["rid"] == 4
        # A rid it never sent: a full update.
        assert (await _maindata(client, 999))["full_update"] is True

        await api.set_category("tv", None)
        await api.set_options([1], {"labels": []})
        gone = await _maindata(client, 5)
        assert gone["categories_removed"] == ["tv"]
        assert gone["tags_removed"] == ["hd"]

    asyncio.run(with_client(api, body))


def test_each_session_has_its_own_rids() -> None:
    api = FakeApi([make_view(1)])

    async def body(client: Client) -> None:
        await _maindata(client, 0)
        await _maindata(client, 1)
        # A second client (no cookie jar shared) starts at rid 1 and gets a full update
        # even for a rid the first session knows.
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as other:
            url = client.make_url("/api/v2/sync/maindata")
            r = await other.get(url, params={"rid": "2"})
            data = await r.json()
            assert data["full_update"] is True and data["rid"] == 1
        assert await _maindata(client, 2) == {"rid": 3}

    asyncio.run(with_client(api, body))


def test_torrent_peers_diff() -> None:
    api = FakeApi([make_view(1)])
    peer = PeerView(
        host="10.0.0.2", port=6881, client="libtorrent 2.0.9", progress=0.5,
        download_rate=100.0, upload_rate=0.0, downloaded=1000, uploaded=0,
        am_choking=True, am_interested=True, peer_choking=False, peer_interested=False,
        outgoing=True, encrypted=False, transport="utp", flags="D T",
    )  # fmt: skip
    api.set_peers(1, [peer])

    async def body(client: Client) -> None:
        r = await client.get("/api/v2/sync/torrentPeers", params={"hash": H1, "rid": "0"})
        full = await r.json()
        assert full["full_update"] is True
        assert full["show_flags"] is False
        p = full["peers"]["10.0.0.2:6881"]
        assert p["connection"] == "μTP"
        assert p["flags"] == "D P"
        assert p["dl_speed"] == 100
        api.set_peers(1, [])
        r = await client.get("/api/v2/sync/torrentPeers", params={"hash": H1, "rid": "1"})
        assert await r.json() == {"rid": 2, "peers_removed": ["10.0.0.2:6881"]}
        r = await client.get("/api/v2/sync/torrentPeers", params={"hash": "ab" * 20})
        assert r.status == 404
        r = await client.get("/api/v2/sync/torrentPeers")
        assert r.status == 400

    asyncio.run(with_client(api, body))


def test_maindata_diff_of_1000_torrents_is_fast() -> None:
    """1,000 torrents, a tenth of them changing between polls: the snapshot, the diff and
    the JSON of one poll, median of 15 (the issue asks for under 20 ms)."""
    api = FakeApi([make_view(i) for i in range(1, 1001)])
    call = Call(cast(web.Request, None), api, QbtState(), WebSession("s", 0.0), Params({}))
    history = SyncHistory()
    rid = history.record(maindata_snapshot(call))
    times = []
    for n in range(15):
        for i in range(1 + n % 10, 1001, 10):
            api.change(i, download_rate=float(2000 + n), progress=0.41 + n / 1000)
        start = time.perf_counter()
        snapshot = maindata_snapshot(call)
        reply = sync_reply(history.base(rid), snapshot, history.record(snapshot))
        json.dumps(reply, separators=(",", ":"))
        times.append(time.perf_counter() - start)
        rid = reply["rid"]
        assert len(reply["torrents"]) == 100
    median_ms = statistics.median(times) * 1000
    print(f"maindata diff, 1000 torrents, 100 changed: median {median_ms:.1f} ms")
    assert median_ms < 60  # 20 ms on a quiet machine; room for a loaded CI runner
