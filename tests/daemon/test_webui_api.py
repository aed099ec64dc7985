"""The web UI's JSON API (/api/ui/) against a fake DaemonApi: each request reaches the
daemon as the right call, and every refusal is a JSON error with its status."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from bitswarm.create import create_torrent
from bitswarm.daemon.http_app import SESSION_HEADER
from bitswarm.daemon.model import Activity, LimitMode, PeerView

from .webui_app import Client, webui_client
from .webui_fake import FakeDaemon


def run(api: FakeDaemon, body: Callable[[Client], Awaitable[None]]) -> None:
    async def main() -> None:
        async with webui_client(api) as client:
            await body(client)

    asyncio.run(main())


def daemon_with_two() -> FakeDaemon:
    api = FakeDaemon()
    a = api.put("alpha", [("alpha/a.bin", 100_000), ("alpha/b.bin", 50_000)], down=2048.4)
    a.done = 40_000
    a.peers = [
        PeerView(
            "127.0.0.2", 6881, "libtorrent 2.0", 0.5, 1000.0, 20.0, 1, 2,
            False, True, False, True, True, True, "utp", "DEI",
        )
    ]  # fmt: skip
    api.put("beta", [("beta.iso", 1_000_000)], activity=Activity.STOPPED)
    return api


async def ok(resp: aiohttp.ClientResponse) -> Any:
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "application/json"
    return await resp.json()


async def refused(resp: aiohttp.ClientResponse, status: int) -> str:
    assert resp.status == status, await resp.text()
    body = await resp.json()
    assert isinstance(body["error"], str) and body["error"]
    return str(body["error"])


def test_reading_torrents_files_peers_trackers_pieces() -> None:
    api = daemon_with_two()

    async def body(client: Client) -> None:
        rows = (await ok(await client.get("/api/ui/torrents")))["rows"]
        assert [r["name"] for r in rows] == ["alpha", "beta"]
        assert rows[0]["down"] == 2048 and rows[0]["progress"] == round(40_000 / 150_000, 4)
        assert rows[1]["state"] == "stopped"
        detail = await ok(await client.get("/api/ui/torrents/1"))
        assert detail["options"]["download_dir"] == "/dl" and "file_priorities" not in detail
        by_hash = await ok(await client.get(f"/api/ui/torrents/{api.items[1].info_hash.upper()}"))
        assert by_hash["id"] == 1
        files = (await ok(await client.get("/api/ui/torrents/1/files")))["files"]
        assert [(f["path"], f["done"], f["priority"]) for f in files] == [
            ("alpha/a.bin", 40_000, 4),
            ("alpha/b.bin", 0, 4),
        ]
        peers = (await ok(await client.get("/api/ui/torrents/1/peers")))["peers"]
        assert peers[0]["client"] == "libtorrent 2.0" and peers[0]["transport"] == "utp"
        assert peers[0]["encrypted"] is True and peers[0]["down"] == 1000
        trackers = (await ok(await client.get("/api/ui/torrents/1/trackers")))["trackers"]
        assert trackers[0]["seeders"] == 3
        pieces = await ok(await client.get("/api/ui/torrents/1/pieces"))
        have = base64.b64decode(pieces["have"])
        count = pieces["count"]
        assert count == api.items[1].piece_count
        bits = [bool(have[i >> 3] & (0x80 >> (i & 7))) for i in range(count)]
        assert bits == [i < 40_000 // 16384 for i in range(count)]
        assert list(base64.b64decode(pieces["availability"])) == [i % 4 for i in range(count)]
        await refused(await client.get("/api/ui/torrents/99"), 404)
        await refused(await client.get("/api/ui/torrents/99/files"), 404)
        await refused(await client.get("/api/ui/torrents/not-a-ref/peers"), 404)

    run(api, body)


def test_file_priorities_and_options() -> None:
    api = daemon_with_two()

    async def body(client: Client) -> None:
        reply = await ok(
            await client.post("/api/ui/torrents/1/files", json={"priorities": {"1": 0, "0": 7}})
        )
        assert [f["priority"] for f in reply["files"]] == [7, 0]
        assert api.items[1].options.file_priorities == [7, 0]
        for bad in ({"0": 8}, {"0": True}, {"x": 1}, [1]):
            await refused(
                await client.post("/api/ui/torrents/1/files", json={"priorities": bad}), 400
            )
        await refused(await client.post("/api/ui/torrents/1/files", data=b"{nope"), 400)
        changes = {
            "labels": ["tv", "hd"],
            "download_limited": True,
            "download_limit": 51200,
            "seed_ratio_mode": 1,
            "seed_ratio_limit": 3,
        }
        detail = await ok(
            await client.post("/api/ui/torrents/1/options", json={"changes": changes})
        )
        assert detail["labels"] == ["tv", "hd"] and detail["options"]["download_limit"] == 51200
        opts = api.items[1].options
        assert opts.seed_ratio_mode is LimitMode.SINGLE and opts.seed_ratio_limit == 3.0
        assert isinstance(opts.seed_ratio_limit, float)
        for bad_changes in (
            {"download_dir": "/etc"},  # not an option the page may set
            {"download_limit": "10"},
            {"download_limited": 1},
            {"labels": "tv"},
            {"seed_idle_mode": 7},
        ):
            message = await refused(
                await client.post("/api/ui/torrents/1/options", json={"changes": bad_changes}), 400
            )
            assert next(iter(bad_changes)) in message
        assert api.items[1].options.download_dir == "/dl"

    run(api, body)


def test_actions() -> None:
    api = daemon_with_two()

    async def body(client: Client) -> None:
        await ok(await client.post("/api/ui/actions/start", json={"ids": [2], "force": True}))
        assert api.items[2].activity is Activity.DOWNLOADING
        assert api.calls[-1] == ("start", ([2], {"force": True}))
        await ok(await client.post("/api/ui/actions/stop", json={"ids": [1, 2]}))
        assert {t.activity for t in api.items.values()} == {Activity.STOPPED}
        await ok(await client.post("/api/ui/actions/verify", json={"ids": [1]}))
        await ok(await client.post("/api/ui/actions/reannounce", json={"ids": [1]}))
        assert [c[0] for c in api.calls[-2:]] == ["verify", "reannounce"]
        await refused(await client.post("/api/ui/actions/explode", json={"ids": [1]}), 404)
        await refused(await client.post("/api/ui/actions/stop", json={"ids": []}), 400)
        await refused(await client.post("/api/ui/actions/stop", json={"ids": [[1]]}), 400)
        await ok(
            await client.post("/api/ui/actions/remove", json={"ids": [2], "delete_data": True})
        )
        assert api.calls[-1] == ("remove", ([2], {"delete_data": True}))
        assert list(api.items) == [1]

    run(api, body)


def test_add_by_file_magnet_and_refusals(tmp_path: Path) -> None:
    payload = tmp_path / "payload.bin"
    payload.write_bytes(b"x" * 70_000)
    torrent = create_torrent(payload, piece_length=16384)
    api = FakeDaemon()

    async def body(client: Client) -> None:
        form = aiohttp.FormData()
        form.add_field(
            "torrent", torrent, filename="p.torrent", content_type="application/x-bittorrent"
        )
        form.add_field("download_dir", "/srv/dl")
        form.add_field("paused", "true")
        reply = await ok(await client.post("/api/ui/torrents", data=form))
        assert [(t["name"], t["size"], t["duplicate"]) for t in reply["added"]] == [
            ("payload.bin", 70_000, False)
        ]
        request = api.calls[-1][1]
        assert request.torrent == torrent and request.download_dir == "/srv/dl" and request.paused
        again = await ok(
            await client.post(
                "/api/ui/torrents", json={"torrent": base64.b64encode(torrent).decode()}
            )
        )
        assert again["added"][0]["duplicate"] is True
        magnet = "magnet:?xt=urn:btih:" + "ab" * 20 + "&dn=linux"
        reply = await ok(await client.post("/api/ui/torrents", json={"magnet": magnet}))
        assert reply["added"][0]["name"] == "linux" and api.calls[-1][1].magnet == magnet
        await refused(await client.post("/api/ui/torrents", json={}), 400)
        await refused(await client.post("/api/ui/torrents", json={"magnet": "ftp://x"}), 400)
        await refused(await client.post("/api/ui/torrents", json={"torrent": "%%%"}), 400)
        form = aiohttp.FormData()
        form.add_field("torrent", b"not bencode", filename="bad.torrent")
        message = await refused(await client.post("/api/ui/torrents", data=form), 400)
        assert message
        assert len(api.items) == 2

    run(api, body)


def test_session_read_and_change() -> None:
    api = daemon_with_two()
    api.settings.rpc_password_hash = "scrypt$secret"

    async def body(client: Client) -> None:
        session = await ok(await client.get("/api/ui/session"))
        values = session["settings"]["values"]
        assert "rpc_password_hash" not in values and "scrypt" not in str(session)
        assert "script_torrent_done_filename" in session["settings"]["local_only"]
        assert session["stats"]["torrents"] == 2 and session["stats"]["download_rate"] == 2048
        assert session["version"]
        first = await ok(await client.post("/api/ui/session", json={"changes": {}}))
        assert first["settings"] == session["settings"] and not any(
            c[0] == "settings" for c in api.calls
        )
        changes = {
            "speed_limit_down": 1000,
            "speed_limit_down_enabled": True,
            "seed_ratio_limit": 1,
        }
        reply = await ok(await client.post("/api/ui/session", json={"changes": changes}))
        assert reply["settings"]["values"]["speed_limit_down"] == 1000
        assert api.settings.seed_ratio_limit == 1.0 and api.settings.speed_limit_down_enabled
        for bad in (
            {"script_torrent_done_filename": "/bin/sh"},  # LOCAL_ONLY: the daemon refuses
            {"rpc_password_hash": ""},  # hidden: not even named
            {"no_such_setting": 1},
            {"speed_limit_up": "fast"},
            {"dht_enabled": 1},
        ):
            await refused(await client.post("/api/ui/session", json={"changes": bad}), 400)
        assert api.settings.script_torrent_done_filename == ""

    run(api, body)


def test_session_id_handshake_guards_every_route() -> None:
    """The daemon's guard covers the page's API: no id, a 409 that carries it."""
    api = daemon_with_two()

    async def body(client: Client) -> None:
        bare = {SESSION_HEADER: ""}
        first = await client.post("/api/ui/session", json={"changes": {}}, headers=bare)
        await refused(first, 409)
        sid = first.headers[SESSION_HEADER]
        again = await client.post(
            "/api/ui/session", json={"changes": {}}, headers={SESSION_HEADER: sid}
        )
        assert (await ok(again))["stats"]["torrents"] == 2
        await refused(await client.get("/api/ui/torrents", headers=bare), 409)
        stop = await client.post("/api/ui/actions/stop", json={"ids": [1]}, headers=bare)
        await refused(stop, 409)
        assert api.items[1].activity is Activity.DOWNLOADING  # refused before it ran
        wrong = await client.get("/api/ui/events?session_id=nope", headers=bare)
        await refused(wrong, 409)
        page = await client.get("/", headers=bare)  # the page itself needs no id
        assert page.status == 200

    run(api, body)
