"""The `qbittorrent-api` library (PyPI), written for qBittorrent, drives a running bitswarm
daemon: login, app, add by file and by magnet, a download from a libtorrent seeder
watched through sync/maindata diffs, categories, tags, file priorities, limits, stop,
start, delete with data; and with a password, login failures and the lockout."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from bitswarm.create import create_torrent
from bitswarm.daemon.auth import hash_password
from bitswarm_lab.peers.base import Endpoint, PeerSpec, Role
from bitswarm_lab.peers.libtorrent_peer import LibtorrentPeer
from bitswarm_lab.peers.netns import free_port

from ..interop.tools import require_module
from .conftest import DaemonFactory, RunningDaemon
from .helpers import Swarm, wait_until

PAYLOAD = 6 << 20  # two files; at 512 KiB/s the download takes ~12 s to watch
PIECE = 64 << 10


def _client(daemon: RunningDaemon, password: str = "") -> Any:
    qba = require_module("qbittorrentapi")
    return qba.Client(
        host=daemon.url,
        username="admin",
        password=password,
        REQUESTS_ARGS={"timeout": 30},
        RAISE_NOTIMPLEMENTEDERROR_FOR_UNIMPLEMENTED_API_ENDPOINTS=True,
    )


def _payload(folder: Path) -> Path:
    content = folder / "show"
    content.mkdir(parents=True)
    (content / "episode.mkv").write_bytes(os.urandom(PAYLOAD - 1000))
    (content / "notes.nfo").write_bytes(os.urandom(1000))
    return content


@pytest.mark.interop
@pytest.mark.timeout(240)  # a real download from libtorrent, rate-limited so it can be watched
def test_qbittorrent_api_drives_a_download(daemon: RunningDaemon, tmp_path: Path) -> None:
    require_module("libtorrent")
    client = _client(daemon)
    client.auth_log_in()  # loopback, no password: qBittorrent's bypass, "Ok."
    assert client.app_version() == "v5.0.5"
    assert client.app_web_api_version() == "2.11.2"
    prefs = client.app_preferences()
    assert prefs["save_path"] == str(daemon.download_dir)
    client.app_set_preferences({"max_active_downloads": 7, "dht": False})
    assert daemon.call(lambda m: m.settings.download_queue_size) == 7

    tv = daemon.download_dir / "tv"
    client.torrents_create_category(name="tv", save_path=str(tv))
    assert client.torrents_categories()["tv"]["savePath"] == str(tv)

    with Swarm() as swarm:
        content = _payload(tmp_path / "seed")
        raw = create_torrent(content, piece_length=PIECE, trackers=[[swarm.tracker_url]])
        (tmp_path / "show.torrent").write_bytes(raw)
        spec = PeerSpec(
            Role.SEED, tmp_path / "show.torrent", tmp_path / "seed", tmp_path / "lt",
            Endpoint("127.0.0.1", free_port("127.0.0.1")), tracker=swarm.tracker_url,
        )  # fmt: skip
        with LibtorrentPeer(spec) as seeder:
            seeder.wait_complete(60)
            assert (
                client.torrents_add(
                    torrent_files={"show.torrent": raw},
                    category="tv",
                    tags=["hd", "new"],
                    download_limit=512 * 1024,
                )
                == "Ok."
            )
            magnet = "magnet:?xt=urn:btih:" + "ab" * 20 + "&dn=nobody-seeds-this"
            assert client.torrents_add(urls=magnet, is_stopped=True) == "Ok."

            full = client.sync_maindata(rid=0)
            assert full["full_update"] is True
            assert len(full["torrents"]) == 2
            show = next(h for h, t in full["torrents"].items() if t["name"] == "show")
            assert full["torrents"][show]["category"] == "tv"
            assert full["torrents"][show]["tags"] == "hd, new"
            assert full["categories"]["tv"]["savePath"] == str(tv)
            rid = full["rid"]

            # Poll as a web client does: every reply is a diff carrying only what changed.
            progress: list[float] = []
            states: set[str] = set()

            def poll() -> bool:
                nonlocal rid
                diff = client.sync_maindata(rid=rid)
                assert "full_update" not in diff, diff
                assert diff["rid"] != rid
                rid = diff["rid"]
                row = diff.get("torrents", {}).get(show, {})
                assert "name" not in row and "category" not in row and "save_path" not in row
                if "progress" in row:
                    progress.append(row["progress"])
                if "state" in row:
                    states.add(row["state"])
                return bool(progress) and progress[-1] > 0.3

            wait_until(poll, 120, "a third of the download seen through sync/maindata", 0.5)
            assert progress == sorted(progress) and len(progress) >= 2
            info = client.torrents_info(category="tv")
            assert [t["hash"] for t in info] == [show]
            assert 0 < info[0]["progress"] < 1 and info[0]["state"] in ("downloading", "stalledDL")
            assert info[0]["dl_limit"] == 512 * 1024
            client.torrents_set_download_limit(limit=-1, torrent_hashes=show)
            wait_until(
                lambda: client.torrents_info(torrent_hashes=show)[0]["progress"] == 1.0,
                120,
                "the download to complete",
            )
    done = client.torrents_info(torrent_hashes=show)[0]
    assert done["state"] in ("uploading", "stalledUP", "queuedUP")
    assert done["amount_left"] == 0 and done["save_path"] == str(tv)
    for name in ("episode.mkv", "notes.nfo"):
        assert (tv / "show" / name).read_bytes() == (content / name).read_bytes()
    assert client.sync_maindata(rid=rid)["torrents"][show]["progress"] == 1.0

    props = client.torrents_properties(torrent_hash=show)
    assert props["total_size"] == PAYLOAD and props["piece_size"] == PIECE
    files = client.torrents_files(torrent_hash=show)
    assert [f["name"] for f in files] == ["show/episode.mkv", "show/notes.nfo"]
    assert all(f["progress"] == 1.0 and f["priority"] == 1 for f in files)
    client.torrents_file_priority(torrent_hash=show, file_ids=1, priority=0)
    assert [f["priority"] for f in client.torrents_files(torrent_hash=show)] == [1, 0]

    client.torrents_set_category(category="", torrent_hashes=show)
    client.torrents_remove_tags(tags="new", torrent_hashes=show)
    client.torrents_add_tags(tags="kept", torrent_hashes=show)
    client.torrents_set_share_limits(
        ratio_limit=1.5, seeding_time_limit=-2, inactive_seeding_time_limit=-1, torrent_hashes=show
    )
    row = client.torrents_info(torrent_hashes=show)[0]
    assert row["category"] == "" and row["tags"] == "hd, kept"
    assert row["ratio_limit"] == 1.5 and row["inactive_seeding_time_limit"] == -1

    client.torrents_stop(torrent_hashes=show)
    wait_until(
        lambda: client.torrents_info(torrent_hashes=show)[0]["state"] == "stoppedUP",
        30,
        "the torrent to stop",
    )
    client.torrents_start(torrent_hashes="all")
    wait_until(
        lambda: client.torrents_info(torrent_hashes=show)[0]["state"] != "stoppedUP",
        30,
        "the torrent to start",
    )
    client.torrents_delete(delete_files=True, torrent_hashes=show)
    wait_until(lambda: not (tv / "show").exists(), 30, "the data to be deleted")
    removed = client.sync_maindata(rid=rid)
    assert removed["torrents_removed"] == [show]
    assert [t["name"] for t in client.torrents_info()] == ["nobody-seeds-this"]


@pytest.mark.interop
def test_qbittorrent_api_login_with_a_password(daemon_factory: DaemonFactory) -> None:
    qba = require_module("qbittorrentapi")
    daemon = daemon_factory(rpc_username="admin", rpc_password_hash=hash_password("secret"))
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{daemon.url}/api/v2/torrents/info", timeout=30)
    refused.value.close()  # an HTTPError holds the response's socket open until closed
    assert refused.value.code == 403  # no cookie, a password set: 403 even on loopback
    anonymous = qba.Client(host=daemon.url, REQUESTS_ARGS={"timeout": 30})
    with pytest.raises(qba.LoginFailed):  # the library answers the 403 with a login
        anonymous.torrents_info()
    good = _client(daemon, "secret")
    good.auth_log_in()
    assert good.torrents_info() == []
    bad = _client(daemon, "wrong")
    failures = 0
    with pytest.raises(qba.Forbidden403Error):  # the lockout, after repeated failures
        for _ in range(20):
            try:
                bad.auth_log_in()
            except qba.LoginFailed:
                failures += 1
    assert 1 <= failures < 20
    assert good.app_version() == "v5.0.5"  # a logged-in session keeps working
