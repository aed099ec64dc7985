"""The qBittorrent WebUI API front-end over a fake DaemonApi: auth, CSRF, the endpoints'
mapping onto the DaemonApi and their errors (qBittorrent 5.0's statuses and texts)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp

from bitswarm.create import create_torrent
from bitswarm.daemon.appkeys import AUTH_KEY
from bitswarm.daemon.auth import Authenticator, hash_password
from bitswarm.daemon.model import (
    Activity,
    FileView,
    LimitMode,
    TorrentOptions,
    TrackerInfo,
)

from .qbt_fake import Client, FakeApi, make_app, make_view, with_client

H1, H2, H3 = f"{1:040x}", f"{2:040x}", f"{3:040x}"
V2 = "/api/v2/"


def _three() -> FakeApi:
    tv = TorrentOptions(download_dir="/data", category="tv", labels=["hd", "new"])
    api = FakeApi(
        [
            make_view(1, "bravo", options=tv),
            make_view(2, "alpha", activity=Activity.STOPPED, upload_rate=5.0),
            make_view(
                3, "charlie", activity=Activity.SEEDING, done_wanted=1000 * 16384, progress=1.0
            ),
        ]
    )
    api._categories["tv"] = "/tv"
    return api


async def _text(client: Client, path: str, **kw: Any) -> tuple[int, str]:
    method = "POST" if "data" in kw else "GET"
    r = await client.request(method, V2 + path, **kw)
    return r.status, await r.text()


async def _json(client: Client, path: str, **kw: Any) -> Any:
    r = await client.get(V2 + path, **kw)
    assert r.status == 200, await r.text()
    return await r.json()


def _last(api: FakeApi) -> tuple[str, Any]:
    return api.calls[-1]


def test_loopback_without_password_gets_a_session_cookie() -> None:
    async def body(client: Client) -> None:
        r = await client.get(V2 + "app/version")
        assert (r.status, await r.text()) == (200, "v5.0.5")
        assert "SID" in r.cookies
        assert await _text(client, "app/webapiVersion") == (200, "2.11.2")
        assert await _text(client, "auth/login", data={"username": "x", "password": "y"}) == (
            200,
            "Ok.",
        )

    asyncio.run(with_client(FakeApi(), body))


def test_password_login_cookie_logout_and_lockout() -> None:
    api = FakeApi([make_view(1)])
    app = make_app(api)
    app[AUTH_KEY] = Authenticator("admin", hash_password("secret"), max_failures=3)

    async def body(client: Client) -> None:
        assert await _text(client, "torrents/info") == (403, "Forbidden")
        login = {"username": "admin", "password": "secret"}
        assert await _text(client, "auth/login", data=login | {"password": "no"}) == (
            200,
            "Fails.",
        )
        assert await _text(client, "torrents/info") == (403, "Forbidden")
        r = await client.post(V2 + "auth/login", data=login)
        assert (r.status, await r.text()) == (200, "Ok.")
        sid = r.cookies["SID"].value
        assert r.cookies["SID"]["httponly"]
        assert len(await _json(client, "torrents/info")) == 1
        # qBittorrent 5.2's cookie name is read too.
        port = client.port
        async with aiohttp.ClientSession() as other:
            url = client.make_url(V2 + "app/version")
            r = await other.get(url, headers={"Cookie": f"QBT_SID_{port}={sid}"})
            assert r.status == 200
            r = await other.get(url, headers={"Cookie": "SID=forged"})
            assert r.status == 403
        assert await _text(client, "auth/logout", data={}) == (200, "")
        assert await _text(client, "torrents/info") == (403, "Forbidden")
        for _ in range(3):  # a success cleared the earlier failure
            assert (await _text(client, "auth/login", data=login | {"password": "no"}))[1] == (
                "Fails."
            )
        status, text = await _text(client, "auth/login", data=login)
        assert (
            status == 403 and "too many failed logins" in text
        )  # locked out, even with the password
        assert await _text(client, "auth/login") == (405, "Method Not Allowed")

    asyncio.run(with_client(api, body, app))


def test_csrf_and_unknown_or_unsupported_endpoints() -> None:
    async def body(client: Client) -> None:
        port = client.port
        assert port is not None
        host = f"127.0.0.1:{port}"
        same = {"Origin": f"http://{host}"}
        assert (await _text(client, "app/version", headers=same))[0] == 200
        for headers in (
            {"Origin": "http://evil.example"},
            {"Origin": f"http://127.0.0.1:{port + 1}"},
            {"Referer": "http://evil.example/page"},
            {"Sec-Fetch-Site": "cross-site"},
        ):
            assert await _text(client, "app/version", headers=headers) == (401, "Unauthorized")
        assert (await _text(client, "app/version", headers={"Sec-Fetch-Site": "none"}))[0] == 200
        assert await _text(client, "torrents/nonsense") == (404, "Not Found")
        status, text = await _text(client, "rss/items")
        assert status == 405 and "not supported" in text
        status, text = await _text(client, "torrents/export", params={"hash": H1})
        assert status == 405 and "not supported" in text
        assert await _text(client, "torrents/stop", params={"hashes": "all"}) == (
            405,
            "Method Not Allowed",
        )
        r = await client.put(V2 + "app/version")
        assert r.status == 405
        status, text = await _text(client, "app/shutdown", data={})
        assert status == 403 and "locally" in text

    asyncio.run(with_client(FakeApi(), body))


def test_info_filters_sorts_and_pages() -> None:
    async def body(client: Client) -> None:
        every = await _json(client, "torrents/info")
        assert [t["hash"] for t in every] == [H1, H2, H3]
        t1 = every[0]
        assert t1["tags"] == "hd, new" and t1["category"] == "tv"
        assert t1["state"] == "downloading" and every[1]["state"] == "stoppedDL"
        assert every[2]["state"] == "stalledUP"
        assert t1["eta"] == 60 and every[1]["eta"] == 8640000
        assert t1["content_path"] == "/data/bravo" and t1["save_path"] == "/data"
        assert t1["priority"] == 2 and every[2]["priority"] == 0
        for key in ("dlspeed", "upspeed", "size", "total_size", "num_seeds", "num_leechs"):
            assert isinstance(t1[key], int)

        async def names(**params: str) -> list[str]:
            return [t["name"] for t in await _json(client, "torrents/info", params=params)]

        assert await names(filter="stopped") == ["alpha"]
        assert await names(filter="paused") == ["alpha"]  # the 4.x name
        assert await names(filter="completed") == ["charlie"]
        assert await names(filter="downloading") == ["bravo", "alpha"]
        assert await names(filter="active") == ["bravo"]
        assert await names(category="tv") == ["bravo"]
        assert await names(category="") == ["alpha", "charlie"]
        assert await names(tag="new") == ["bravo"]
        assert await names(tag="") == ["alpha", "charlie"]
        assert await names(hashes=f"{H3}|{H2}") == ["alpha", "charlie"]
        assert await names(sort="name") == ["alpha", "bravo", "charlie"]
        assert await names(sort="name", reverse="true") == ["charlie", "bravo", "alpha"]
        assert await names(sort="name", limit="1", offset="1") == ["bravo"]
        assert await names(sort="name", offset="-1") == ["charlie"]
        assert await _text(client, "torrents/info", params={"sort": "nope"}) == (
            400,
            "'sort' parameter is invalid",
        )
        assert await _text(client, "torrents/count") == (200, "3")

    asyncio.run(with_client(_three(), body))


def test_properties_files_priorities_trackers_pieces() -> None:
    api = _three()
    files = [
        FileView(0, "bravo/a.mkv", 3 * 16384, 16384, 4),
        FileView(1, "bravo/b.nfo", 100, 0, 0),
    ]
    api.set_files(1, files)
    api.set_trackers(
        1, [TrackerInfo(0, "http://t.example/announce", 0, "working", "", 0, 0, 5, 7, 9)]
    )

    async def body(client: Client) -> None:
        p = await _json(client, "torrents/properties", params={"hash": H1})
        assert p["hash"] == H1 and p["save_path"] == "/data"
        assert p["pieces_num"] == 1000 and p["piece_size"] == 16384
        assert p["dl_limit"] == -1 and p["seeds_total"] == 5
        assert await _text(client, "torrents/properties") == (400, "Bad Request")
        assert (await _text(client, "torrents/properties", params={"hash": "ab" * 20}))[0] == 404
        f = await _json(client, "torrents/files", params={"hash": H1})
        assert [(x["index"], x["name"], x["priority"]) for x in f] == [
            (0, "bravo/a.mkv", 1),
            (1, "bravo/b.nfo", 0),
        ]
        assert f[0]["piece_range"] == [0, 2] and f[1]["piece_range"] == [3, 3]
        assert f[0]["is_seed"] is False and "is_seed" not in f[1]
        assert f[0]["progress"] == 1 / 3
        assert f[0]["availability"] == 1.0  # we have pieces 0..399
        one = await _json(client, "torrents/files", params={"hash": H1, "indexes": "1"})
        assert [x["index"] for x in one] == [1]
        assert await _text(client, "torrents/files", params={"hash": H1, "indexes": "5"}) == (
            409,
            "Index 5 is out of bounds.",
        )
        form = {"hash": H1, "id": "0|1", "priority": "7"}
        assert await _text(client, "torrents/filePrio", data=form) == (200, "")
        assert [x.priority for x in api.files(1)] == [7, 7]
        await _text(client, "torrents/filePrio", data=form | {"priority": "6"})
        f = await _json(client, "torrents/files", params={"hash": H1})
        assert [x["priority"] for x in f] == [6, 6]
        await _text(client, "torrents/filePrio", data=form | {"id": "1", "priority": "1"})
        assert [x.priority for x in api.files(1)] == [6, 4]
        assert await _text(client, "torrents/filePrio", data=form | {"priority": "3"}) == (
            400,
            "Priority is not valid",
        )
        assert await _text(client, "torrents/filePrio", data=form | {"id": "9"}) == (
            409,
            "File ID is not valid",
        )
        trackers = await _json(client, "torrents/trackers", params={"hash": H1})
        assert [t["url"] for t in trackers][:3] == ["** [DHT] **", "** [PeX] **", "** [LSD] **"]
        assert trackers[3]["status"] == 2 and trackers[3]["num_seeds"] == 5
        assert await _json(client, "torrents/webseeds", params={"hash": H1}) == []
        states = await _json(client, "torrents/pieceStates", params={"hash": H1})
        assert states[:400] == [2] * 400 and states[400] == 1 and states[401] == 0

    asyncio.run(with_client(api, body))


def test_add_by_file_and_magnet(tmp_path: Path) -> None:
    (tmp_path / "movie.bin").write_bytes(b"x" * 50_000)
    torrent = create_torrent(tmp_path / "movie.bin", piece_length=16384)
    api = FakeApi()

    async def body(client: Client) -> None:
        form = aiohttp.FormData()
        form.add_field("urls", "magnet:?xt=urn:btih:" + "cd" * 20 + "&dn=show\n\n")
        form.add_field("torrents", torrent, filename="movie.torrent")
        form.add_field("savepath", "/films")
        form.add_field("category", "movies")
        form.add_field("tags", "a, b")
        form.add_field("stopped", "true")
        form.add_field("upLimit", "1000")
        form.add_field("ratioLimit", "-1")
        assert await _text(client, "torrents/add", data=form) == (200, "Ok.")
        assert len(api.added) == 2
        for request in api.added:
            assert request.download_dir == "/films" and request.category == "movies"
            assert list(request.labels) == ["a", "b"] and request.paused is True
            assert request.upload_limit == 1000
        assert api.categories() == {"movies": ""}  # made on the way, as qBittorrent does
        assert {v.name for v in api.torrents()} == {"show", "movie.bin"}
        assert all(v.options.seed_ratio_mode is LimitMode.UNLIMITED for v in api.torrents())
        again = aiohttp.FormData()
        again.add_field("torrents", torrent, filename="movie.torrent")
        assert await _text(client, "torrents/add", data=again) == (200, "Fails.")
        bad = aiohttp.FormData()
        bad.add_field("torrents", b"not bencode", filename="bad.torrent")
        assert await _text(client, "torrents/add", data=bad) == (
            415,
            "Error: 'bad.torrent' is not a valid torrent file.",
        )
        assert await _text(client, "torrents/add", data={"urls": "ftp://x"}) == (200, "Fails.")

    asyncio.run(with_client(api, body))


def test_actions_map_onto_the_daemon_api() -> None:
    api = _three()

    async def body(client: Client) -> None:
        ok = (200, "")
        assert await _text(client, "torrents/stop", data={"hashes": H1}) == ok
        assert api.view(1).activity is Activity.STOPPED
        assert await _text(client, "torrents/resume", data={"hashes": f"{H1}|{'ff' * 20}"}) == ok
        assert api.view(1).activity is Activity.DOWNLOADING
        assert await _text(client, "torrents/pause", data={"hashes": "all"}) == ok
        assert {v.activity for v in api.torrents()} == {Activity.STOPPED}
        assert await _text(client, "torrents/start", data={"hashes": "all"}) == ok
        assert await _text(client, "torrents/start", data={}) == (400, "Bad Request")
        await _text(client, "torrents/setForceStart", data={"hashes": H2, "value": "true"})
        assert _last(api) == ("start", True)
        await _text(client, "torrents/recheck", data={"hashes": H2})
        assert _last(api) == ("verify", [2])
        await _text(client, "torrents/reannounce", data={"hashes": "all"})
        assert _last(api) == ("reannounce", [1, 2, 3])
        await _text(client, "torrents/setLocation", data={"hashes": H2, "location": "/new"})
        assert api.view(2).options.download_dir == "/new"
        assert await _text(
            client, "torrents/setLocation", data={"hashes": H2, "location": " "}
        ) == (
            400,
            "Save path cannot be empty",
        )
        await _text(client, "torrents/rename", data={"hash": H2, "name": "zulu"})
        assert api.view(2).name == "zulu"
        move = {"hash": H1, "oldPath": "bravo/a.mkv", "newPath": "other/a.mkv"}
        assert (await _text(client, "torrents/renameFile", data=move))[0] == 409
        await _text(client, "torrents/renameFile", data=move | {"newPath": "bravo/c.mkv"})
        assert _last(api) == ("rename", (1, "bravo/a.mkv", "c.mkv"))
        await _text(client, "torrents/setDownloadLimit", data={"hashes": H1, "limit": "2048"})
        assert await _json(client, "torrents/downloadLimit", params={"hashes": f"{H1}|{H2}"}) == {
            H1: 2048,
            H2: 0,
        }
        await _text(client, "torrents/setDownloadLimit", data={"hashes": H1, "limit": "-1"})
        assert api.view(1).options.download_limited is False
        share = {"hashes": H1, "ratioLimit": "1.5", "seedingTimeLimit": "-2"}
        await _text(
            client, "torrents/setShareLimits", data=share | {"inactiveSeedingTimeLimit": "-1"}
        )
        o = api.view(1).options
        assert (o.seed_ratio_mode, o.seed_ratio_limit) == (LimitMode.SINGLE, 1.5)
        assert o.seed_idle_mode is LimitMode.UNLIMITED
        info = (await _json(client, "torrents/info", params={"hashes": H1}))[0]
        assert (info["ratio_limit"], info["max_ratio"]) == (1.5, 1.5)
        assert info["inactive_seeding_time_limit"] == -1
        status, text = await _text(
            client, "torrents/setShareLimits", data=share | {"seedingTimeLimit": "60"}
        )
        assert status == 400 and "seedingTimeLimit is not supported" in text
        assert await _text(client, "torrents/topPrio", data={"hashes": H1}) == ok
        assert _last(api) == ("queue_move", ([1], "top"))
        api.settings.download_queue_enabled = False
        assert await _text(client, "torrents/bottomPrio", data={"hashes": H1}) == (
            409,
            "Torrent queueing must be enabled",
        )
        await _text(client, "torrents/toggleSequentialDownload", data={"hashes": H1})
        assert api.view(1).options.sequential is True
        await _text(
            client, "torrents/addTrackers", data={"hash": H1, "urls": "http://a/ann\nhttp://b/ann"}
        )
        assert api.view(1).options.extra_trackers == ["http://a/ann", "http://b/ann"]
        await _text(client, "torrents/removeTrackers", data={"hash": H1, "urls": "http://a/ann"})
        assert api.view(1).options.extra_trackers == ["http://b/ann"]
        await _text(client, "torrents/delete", data={"hashes": H3, "deleteFiles": "true"})
        assert _last(api) == ("remove", ([3], True))
        assert await _text(client, "torrents/delete", data={"hashes": H2}) == (400, "Bad Request")

    asyncio.run(with_client(api, body))


def test_categories_and_tags() -> None:
    api = _three()

    async def body(client: Client) -> None:
        ok = (200, "")
        assert await _json(client, "torrents/categories") == {
            "tv": {"name": "tv", "savePath": "/tv"}
        }
        assert (
            await _text(
                client, "torrents/createCategory", data={"category": "films", "savePath": "/f"}
            )
            == ok
        )
        assert await _text(client, "torrents/createCategory", data={"category": "films"}) == (
            409,
            "Unable to create category",
        )
        assert await _text(client, "torrents/createCategory", data={"category": "a//b"}) == (
            409,
            "Incorrect category name",
        )
        assert await _text(
            client, "torrents/editCategory", data={"category": "x", "savePath": "/"}
        ) == (
            409,
            "Unable to edit category",
        )
        await _text(client, "torrents/editCategory", data={"category": "films", "savePath": "/g"})
        assert api.categories()["films"] == "/g"
        assert await _text(
            client, "torrents/setCategory", data={"hashes": H2, "category": "nope"}
        ) == (
            409,
            "Incorrect category name",
        )
        await _text(client, "torrents/setCategory", data={"hashes": H2, "category": "films"})
        assert api.view(2).options.category == "films"
        await _text(client, "torrents/removeCategories", data={"categories": "films\ntv"})
        assert api.categories() == {}

        assert await _json(client, "torrents/tags") == ["hd", "new"]
        await _text(client, "torrents/createTags", data={"tags": "later, , x"})
        assert await _json(client, "torrents/tags") == ["hd", "later", "new", "x"]
        await _text(client, "torrents/addTags", data={"hashes": f"{H2}|{H3}", "tags": "x,y"})
        assert api.view(2).options.labels == ["x", "y"]
        await _text(client, "torrents/removeTags", data={"hashes": H2, "tags": "x"})
        assert api.view(2).options.labels == ["y"]
        await _text(client, "torrents/removeTags", data={"hashes": H1})
        assert api.view(1).options.labels == []
        await _text(client, "torrents/deleteTags", data={"tags": "y,later"})
        assert api.view(2).options.labels == [] and api.view(3).options.labels == ["x"]
        assert await _json(client, "torrents/tags") == ["hd", "new", "x"]

    asyncio.run(with_client(api, body))


def test_preferences_and_transfer() -> None:
    api = FakeApi()
    api.settings.rpc_port = 9091

    async def body(client: Client) -> None:
        prefs = await _json(client, "app/preferences")
        assert prefs["save_path"] == "/data" and prefs["listen_port"] == 51413
        assert prefs["dl_limit"] == 0 and prefs["bypass_local_auth"] is True
        assert prefs["scheduler_days"] == 0
        change = {
            "dl_limit": 1_000_000,
            "max_ratio_enabled": True,
            "max_ratio": 1.5,
            "scheduler_days": 1,
            "web_ui_port": 9091,  # unchanged local-only value: accepted
            "not_a_setting": 1,  # unknown: ignored as qBittorrent does
        }
        assert await _text(client, "app/setPreferences", data={"json": json.dumps(change)}) == (
            200,
            "",
        )
        s = api.settings
        assert (s.speed_limit_down, s.speed_limit_down_enabled) == (1_000_000, True)
        assert (s.seed_ratio_limited, s.seed_ratio_limit) == (True, 1.5)
        assert s.alt_speed_time_day == 2 | 4 | 8 | 16 | 32
        for local in (
            {"autorun_program": "rm -rf /"},
            {"web_ui_port": 1},
            {"web_ui_password": "x"},
        ):
            status, text = await _text(
                client, "app/setPreferences", data={"json": json.dumps(local)}
            )
            assert status == 403 and "config file" in text
        assert s.script_torrent_done_filename == "" and s.rpc_port == 9091
        assert (await _text(client, "app/setPreferences", data={"json": "{"}))[0] == 400
        assert (await _text(client, "app/setPreferences", data={"json": '{"dht": 3}'}))[0] == 400
        assert await _text(client, "app/defaultSavePath") == (200, "/data")

        info = await _json(client, "transfer/info")
        assert info["dl_rate_limit"] == 1_000_000 and info["connection_status"] == "connected"
        assert await _text(client, "transfer/speedLimitsMode") == (200, "0")
        await _text(client, "transfer/toggleSpeedLimitsMode", data={})
        assert await _text(client, "transfer/speedLimitsMode") == (200, "1")
        await _text(client, "transfer/setDownloadLimit", data={"limit": "4096"})
        assert s.alt_speed_down == 4096  # the alternative limit while it is on
        assert await _text(client, "transfer/downloadLimit") == (200, "4096")
        await _text(client, "transfer/setSpeedLimitsMode", data={"mode": "0"})
        await _text(client, "transfer/setUploadLimit", data={"limit": "0"})
        assert s.speed_limit_up_enabled is False
        assert await _text(client, "transfer/uploadLimit") == (200, "0")
        assert (await _text(client, "transfer/setSpeedLimitsMode", data={"mode": "x"}))[0] == 400
        build = await _json(client, "app/buildInfo")
        assert build["libtorrent"].startswith("bitswarm") and build["bitness"] in (32, 64)

    asyncio.run(with_client(api, body))


def test_encryption_preference_maps_qbittorrents_three_levels() -> None:
    """qBittorrent's `encryption`: 0 allow (= preferred), 1 require, 2 disable (force off,
    plaintext only): each sets the daemon's level and reads back the same; others: 400."""
    api = FakeApi()

    async def body(client: Client) -> None:
        for qb, ours in ((2, "disabled"), (1, "required"), (0, "preferred")):
            change = json.dumps({"encryption": qb})
            assert await _text(client, "app/setPreferences", data={"json": change}) == (200, "")
            assert api.settings.encryption == ours
            assert (await _json(client, "app/preferences"))["encryption"] == qb
        api.settings.encryption = "allowed"  # plaintext first: qBittorrent has no such level
        assert (await _json(client, "app/preferences"))["encryption"] == 0
        bad = json.dumps({"encryption": 3})
        assert (await _text(client, "app/setPreferences", data={"json": bad}))[0] == 400
        assert api.settings.encryption == "allowed"

    asyncio.run(with_client(api, body))


def test_bittorrent_protocol_is_the_transport_setting() -> None:
    """qBittorrent's bittorrent_protocol (0 TCP and uTP, 1 TCP, 2 uTP) reads and sets the
    daemon's `transport`."""
    api = FakeApi()

    async def body(client: Client) -> None:
        assert (await _json(client, "app/preferences"))["bittorrent_protocol"] == 0
        for number, transport in ((1, "tcp"), (2, "utp"), (0, "both")):
            change = json.dumps({"bittorrent_protocol": number})
            assert await _text(client, "app/setPreferences", data={"json": change}) == (200, "")
            assert api.settings.transport == transport
            assert (await _json(client, "app/preferences"))["bittorrent_protocol"] == number
        bad = json.dumps({"bittorrent_protocol": 3})
        assert (await _text(client, "app/setPreferences", data={"json": bad}))[0] == 400
        assert api.settings.transport == "both"

    asyncio.run(with_client(api, body))
