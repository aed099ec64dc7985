"""The Transmission RPC front-end against a fake `DaemonApi`: both protocols' envelopes,
ids forms, torrent-get fields, torrent-set/add translation, session keys and errors."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import pytest

from bitswarm.daemon.model import DaemonError, LimitMode
from bitswarm.daemon.transmission.call import ActivityMemory
from bitswarm.daemon.transmission.protocol import MAX_BATCH, Reply, execute

from .transmission_fake import HASHES, FakeApi

NOW = 1_700_000_230.0


def run(
    api: FakeApi,
    body: Any,
    *,
    raw: bytes | None = None,
    memory: ActivityMemory | None = None,
    now: float = NOW,
) -> Reply:
    data = raw if raw is not None else json.dumps(body).encode()
    return asyncio.run(execute(api, memory or ActivityMemory(), data, session_id="sid-1", now=now))


def legacy(api: FakeApi, method: str, **arguments: Any) -> dict[str, Any]:
    reply = run(api, {"method": method, "arguments": arguments, "tag": 7})
    assert reply.status == 200
    assert reply.body["tag"] == 7
    return reply.body  # type: ignore[no-any-return]


def jsonrpc(api: FakeApi, method: str, **params: Any) -> dict[str, Any]:
    reply = run(api, {"jsonrpc": "2.0", "method": method, "params": params, "id": "x1"})
    assert reply.status == 200
    assert reply.body["jsonrpc"] == "2.0" and reply.body["id"] == "x1"
    return reply.body  # type: ignore[no-any-return]


# ---------------------------------------------------------------------- envelopes
def test_legacy_torrent_get_names_and_values() -> None:
    api = FakeApi()
    fields = [
        "id",
        "name",
        "hashString",
        "status",
        "percentDone",
        "rateDownload",
        "eta",
        "downloadDir",
        "peer-limit",
        "totalSize",
        "leftUntilDone",
        "wanted",
        "priorities",
        "pieces",
        "fileStats",
        "noSuchField",
    ]
    body = legacy(api, "torrent-get", fields=fields, ids=[2])
    assert body["result"] == "success"
    (t,) = body["arguments"]["torrents"]
    assert t["id"] == 2 and t["name"] == "torrent 2" and t["hashString"] == HASHES[1]
    assert t["status"] == 4 and t["rateDownload"] == 2500 and t["eta"] == 12
    assert t["downloadDir"] == "/data/dl" and t["peer-limit"] == 50
    assert t["totalSize"] == 3 * 16384 and t["leftUntilDone"] == 2 * 16384
    assert t["wanted"] == [1, 1, 0]  # 0/1 in the legacy protocol
    assert t["priorities"] == [0, 1, 0]
    assert base64.b64decode(t["pieces"]) == bytes([0x80])
    assert t["fileStats"][1] == {"bytesCompleted": 0, "wanted": True, "priority": 1}
    assert "noSuchField" not in t


def test_jsonrpc_torrent_get_snake_case_and_booleans() -> None:
    api = FakeApi()
    body = jsonrpc(
        api, "torrent_get", fields=["id", "hash_string", "wanted", "files", "peers"], ids=HASHES[0]
    )
    (t,) = body["result"]["torrents"]
    assert t["hash_string"] == HASHES[0]
    assert t["wanted"] == [True, True, False]
    assert t["files"][1] == {
        "bytes_completed": 0,
        "length": 32768,
        "name": "torrent 1/b.mkv",
        "begin_piece": 1,
        "end_piece": 3,
    }
    peer = t["peers"][0]
    assert peer["client_name"] == "libtorrent 2.0.9" and peer["is_utp"] is True
    assert peer["client_is_choked"] is False and peer["peer_is_choked"] is True
    assert peer["rate_to_client"] == 2500


def test_table_format_and_all_ids() -> None:
    api = FakeApi()
    body = legacy(api, "torrent-get", fields=["id", "name"], format="table")
    assert body["arguments"]["torrents"] == [["id", "name"], [1, "torrent 1"], [2, "torrent 2"]]


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        (1, [1]),
        ([2, HASHES[0]], [2, 1]),
        ([HASHES[0].upper()], [1]),
        ([99, "ff" * 20], []),
        (None, [1, 2]),
    ],
)
def test_ids_forms(ids: Any, expected: list[int]) -> None:
    api = FakeApi()
    args: dict[str, Any] = {"fields": ["id"]}
    if ids is not None:
        args["ids"] = ids
    body = legacy(api, "torrent-get", **args)
    assert [t["id"] for t in body["arguments"]["torrents"]] == expected


def test_bad_ids_is_an_error() -> None:
    body = legacy(FakeApi(), "torrent-stop", ids=[1.5])
    assert "ids must be" in body["result"]


def test_recently_active_and_removed() -> None:
    api = FakeApi()
    memory = ActivityMemory()
    first = run(
        api,
        {"method": "torrent-get", "arguments": {"fields": ["id"], "ids": "recently-active"}},
        memory=memory,
    )
    assert [t["id"] for t in first.body["arguments"]["torrents"]] == [1, 2]
    assert first.body["arguments"]["removed"] == []
    # a minute and more later nothing changed: nothing is recent; then one is removed
    later = NOW + 120
    quiet = run(
        api,
        {"method": "torrent-get", "arguments": {"fields": ["id"], "ids": "recently-active"}},
        memory=memory,
        now=later,
    )
    assert quiet.body["arguments"]["torrents"] == []
    run(api, {"method": "torrent-remove", "arguments": {"ids": [2]}}, memory=memory, now=later)
    after = run(
        api,
        {"method": "torrent-get", "arguments": {"fields": ["id"], "ids": "recently-active"}},
        memory=memory,
        now=later + 1,
    )
    assert after.body["arguments"]["removed"] == [2]


def test_jsonrpc_batch_notification_and_limits() -> None:
    api = FakeApi()
    batch = [
        {"jsonrpc": "2.0", "method": "session_get", "params": {"fields": ["rpc_version"]}, "id": 1},
        {"jsonrpc": "2.0", "method": "torrent_stop", "params": {"ids": [1]}},  # notification
        {"jsonrpc": "2.0", "method": "nope", "id": 3},
        {"method": "session-get", "id": 4},  # not JSON-RPC 2.0 inside a batch
    ]
    reply = run(api, batch)
    assert reply.status == 200
    answers = reply.body
    assert [a["id"] for a in answers] == [1, 3, None]
    assert answers[0]["result"] == {"rpc_version": 18}
    assert answers[1]["error"]["code"] == -32601
    assert "not supported by bitswarm" in answers[1]["error"]["data"]["error_string"]
    assert answers[2]["error"]["code"] == -32600
    assert ("stop", [1]) in api.calls  # the notification ran
    only_notes = run(api, [{"jsonrpc": "2.0", "method": "torrent_start", "params": {}}])
    assert only_notes.status == 204 and only_notes.body is None
    single_note = run(api, {"jsonrpc": "2.0", "method": "torrent_verify"})
    assert single_note.status == 204
    too_many = run(
        api, [{"jsonrpc": "2.0", "method": "session_stats", "id": i} for i in range(MAX_BATCH + 1)]
    )
    assert too_many.body["error"]["code"] == -32600
    assert run(api, []).body["error"]["code"] == -32600


def test_parse_errors() -> None:
    api = FakeApi()
    legacy_reply = run(api, None, raw=b'{"method": "session-get",')
    assert legacy_reply.status == 400 and "not valid JSON" in legacy_reply.body["result"]
    rpc_reply = run(api, None, raw=b'{"jsonrpc": "2.0", "method": ')
    assert rpc_reply.status == 200 and rpc_reply.body["error"]["code"] == -32700
    assert run(api, 5).status == 400
    bad_params = run(api, {"jsonrpc": "2.0", "method": "session_get", "params": [1], "id": 1})
    assert bad_params.body["error"]["code"] == -32602
    bad_id = run(api, {"jsonrpc": "2.0", "method": "session_get", "id": {"a": 1}})
    assert bad_id.body["error"]["code"] == -32600 and bad_id.body["id"] is None
    assert run(api, {"jsonrpc": "1.0", "method": "x", "id": 1}).body["error"]["code"] == -32600
    assert legacy(api, "")["result"] == "no method name"


def test_unsupported_methods_are_clear_errors() -> None:
    api = FakeApi()
    for method in (
        "session-close",
        "blocklist-update",
        "port-test",
        "group-get",
        "torrent-explode",
    ):
        body = legacy(api, method)
        assert "bitswarm" in body["result"], method
    assert jsonrpc(api, "port_test")["error"]["code"] == 8


def test_daemon_errors_become_the_result_string() -> None:
    api = FakeApi()
    api.fail_with = DaemonError("the disk is on fire")
    assert legacy(api, "torrent-start", ids=[1])["result"] == "the disk is on fire"
    error = jsonrpc(api, "torrent_start", ids=[1])["error"]
    assert error["code"] == 5 and error["data"]["error_string"] == "the disk is on fire"


# ---------------------------------------------------------------------- actions and set
def test_actions_map_to_the_api() -> None:
    api = FakeApi()
    legacy(api, "torrent-start", ids=[1])
    legacy(api, "torrent-start-now", ids=[HASHES[1]])
    legacy(api, "torrent-stop")
    legacy(api, "torrent-verify", ids=2)
    legacy(api, "torrent-reannounce", ids=[1, 2])
    legacy(api, "queue-move-top", ids=[2])
    legacy(api, "torrent-set-location", ids=[1], location="/new", move=True)
    legacy(api, "torrent-remove", ids=[1], **{"delete-local-data": True})
    assert api.calls == [
        ("start", ([1], False)),
        ("start", ([2], True)),
        ("stop", None),
        ("verify", [2]),
        ("reannounce", [1, 2]),
        ("queue_move", ([2], "top")),
        ("set_location", ([1], "/new", True)),
        ("remove", ([1], True)),
    ]
    assert "absolute" in legacy(api, "torrent-set-location", ids=[2], location="rel")["result"]


def test_torrent_set_options_and_files() -> None:
    api = FakeApi()
    body = legacy(
        api,
        "torrent-set",
        ids=[1],
        downloadLimit=100,
        downloadLimited=True,
        uploadLimited=False,
        seedRatioMode=1,
        seedRatioLimit=1.5,
        labels=["tv", " movies "],
        **{"peer-limit": 20, "files-unwanted": [1], "priority-high": [0], "files-wanted": [2]},
    )
    assert body["result"] == "success"
    (_, (ids, changes)), (_, (ref, priorities)) = api.calls
    assert ids == [1]
    assert changes == {
        "peer_limit": 20,
        "seed_ratio_mode": LimitMode.SINGLE,
        "download_limit": 100_000,
        "download_limited": True,
        "upload_limited": False,
        "seed_ratio_limit": 1.5,
        "labels": ["tv", "movies"],
    }
    assert (ref, priorities) == (1, {0: 7, 1: 0, 2: 4})  # a newly wanted file is normal
    got = legacy(api, "torrent-get", ids=[1], fields=["downloadLimit", "labels", "seedRatioMode"])
    assert got["arguments"]["torrents"][0] == {
        "downloadLimit": 100,
        "labels": ["tv", "movies"],
        "seedRatioMode": 1,
    }


def test_torrent_set_checks_before_changing() -> None:
    api = FakeApi()
    assert "out of range" in legacy(api, "torrent-set", ids=[1], **{"files-wanted": [9]})["result"]
    assert "comma" in legacy(api, "torrent-set", ids=[1], labels=["a,b"])["result"]
    assert "bandwidthPriority" in legacy(api, "torrent-set", ids=[1], bandwidthPriority=5)["result"]
    assert api.calls == []


def test_torrent_set_trackers_and_queue_position() -> None:
    api = FakeApi()
    legacy(api, "torrent-set", ids=[1], trackerAdd=["udp://extra.example:6969/announce"])
    assert api.views[1].options.extra_trackers == ["udp://extra.example:6969/announce"]
    refused = legacy(api, "torrent-set", ids=[1], trackerRemove=[0])
    assert "cannot remove a tracker of the .torrent file" in refused["result"]
    legacy(api, "torrent-set", ids=[1], trackerRemove=[1])
    assert api.views[1].options.extra_trackers == []
    legacy(api, "torrent-set", ids=[1], queuePosition=1)
    assert api.views[1].queue_position == 1
    stats = legacy(api, "torrent-get", ids=[1], fields=["trackerStats", "trackerList"])[
        "arguments"
    ]["torrents"][0]
    assert stats["trackerList"] == "http://tracker.example.org:8080/announce"
    assert stats["trackerStats"][0]["host"] == "http://tracker.example.org:8080"
    assert stats["trackerStats"][0]["scrape"] == "http://tracker.example.org:8080/scrape"


# ---------------------------------------------------------------------- add
def test_torrent_add_metainfo_and_duplicate() -> None:
    api = FakeApi()
    meta = base64.b64encode(b"d4:infod4:name1:yee").decode()
    added = legacy(
        api,
        "torrent-add",
        metainfo=meta,
        paused=True,
        labels=["x"],
        **{"download-dir": "/data/x", "files-unwanted": [1]},
    )
    assert added["arguments"]["torrent-added"] == {
        "id": 3,
        "name": "added",
        "hashString": HASHES[2],
    }
    request = api.calls[0][1]
    assert request.torrent == b"d4:infod4:name1:yee" and request.paused is True
    assert request.download_dir == "/data/x" and list(request.labels) == ["x"]
    assert request.file_priorities == {1: 0}
    dup = jsonrpc(api, "torrent_add", metainfo=base64.b64encode(b"d4:infod4:name1:xee").decode())
    assert dup["result"]["torrent_duplicate"]["hash_string"] == HASHES[0]


def test_torrent_add_filename_forms(tmp_path: Path) -> None:
    api = FakeApi()
    legacy(api, "torrent-add", filename="magnet:?xt=urn:btih:" + "dd" * 20)
    legacy(api, "torrent-add", filename="http://127.0.0.1:1/x.torrent")
    assert api.calls[0][1].magnet and api.calls[1][1].url == "http://127.0.0.1:1/x.torrent"
    outside = legacy(api, "torrent-add", filename="/etc/passwd")
    assert "only inside its download or watch folder" in outside["result"]
    api.settings.download_dir = str(tmp_path)
    (tmp_path / "t.torrent").write_bytes(b"d4:infod4:name1:zee")
    (tmp_path / "link.torrent").symlink_to("/etc/hostname")
    legacy(api, "torrent-add", filename=str(tmp_path / "t.torrent"))
    assert api.calls[-1][1].torrent == b"d4:infod4:name1:zee"
    escaped = legacy(api, "torrent-add", filename=str(tmp_path / "link.torrent"))
    assert "only inside" in escaped["result"]
    assert "no filename or metainfo" in legacy(api, "torrent-add")["result"]


def test_torrent_rename_path_needs_one_torrent() -> None:
    api = FakeApi()
    body = legacy(api, "torrent-rename-path", ids=[1], path="torrent 1/a.txt", name="z.txt")
    assert body["arguments"] == {"path": "torrent 1/a.txt", "name": "z.txt", "id": 1}
    assert "requires 1 torrent" in legacy(api, "torrent-rename-path", path="a", name="b")["result"]


# ---------------------------------------------------------------------- session
def test_session_get_both_spellings() -> None:
    api = FakeApi()
    api.settings.speed_limit_down = 250_000
    api.settings.encryption = "allowed"  # the default is "preferred" since MSE (issue 13)
    old = legacy(api, "session-get")["arguments"]
    assert old["rpc-version"] == 17 and old["rpc-version-minimum"] == 14
    assert old["version"].startswith("4.0.6 (bitswarm ")
    assert old["speed-limit-down"] == 250 and old["download-dir"] == "/data/dl"
    assert old["session-id"] == "sid-1" and old["encryption"] == "tolerated"
    assert old["units"]["speed-bytes"] == 1000 and old["seedRatioLimit"] == 2.0
    assert old["download-dir-free-space"] == 123456789
    new = jsonrpc(
        api,
        "session_get",
        fields=["rpc_version", "rpc_version_semver", "encryption", "speed_limit_down"],
    )["result"]
    assert new == {
        "rpc_version": 18,
        "rpc_version_semver": "6.0.0",
        "encryption": "allowed",
        "speed_limit_down": 250,
    }


def test_session_set_and_local_only_keys() -> None:
    api = FakeApi()
    body = legacy(
        api,
        "session-set",
        **{
            "speed-limit-up": 30,
            "speed-limit-up-enabled": True,
            "seedRatioLimited": True,
            "utp-enabled": True,
            "script-torrent-done-enabled": False,
        },
    )
    assert body["result"] == "success"
    assert api.calls == [
        (
            "set_settings",
            {"speed_limit_up": 30_000, "speed_limit_up_enabled": True, "seed_ratio_limited": True},
        )
    ]
    refused = legacy(
        api, "session-set", **{"script-torrent-done-filename": "/bin/evil", "speed-limit-up": 1}
    )
    assert "config file" in refused["result"]
    assert api.settings.script_torrent_done_filename == "" and api.settings.speed_limit_up == 30_000
    assert "must be true or false" in legacy(api, "session-set", **{"dht-enabled": "yes"})["result"]


def test_utp_enabled_is_the_transport_setting() -> None:
    """utp-enabled true is uTP beside TCP ("both"), false is TCP only; uTP only reads as
    utp-enabled with tcp-enabled false, and utp-enabled true sent back leaves it."""
    api = FakeApi()
    got = legacy(api, "session-get")["arguments"]
    assert got["utp-enabled"] is True and got["tcp-enabled"] is True
    assert got["preferred-transports"] == ["utp", "tcp"]
    legacy(api, "session-set", **{"utp-enabled": False})
    assert api.calls[-1] == ("set_settings", {"transport": "tcp"})
    got = jsonrpc(api, "session_get", fields=["utp_enabled", "preferred_transports"])["result"]
    assert got == {"utp_enabled": False, "preferred_transports": ["tcp"]}
    legacy(api, "session-set", **{"utp-enabled": True})
    assert api.calls[-1] == ("set_settings", {"transport": "both"})
    api.settings.transport = "utp"
    calls = len(api.calls)
    legacy(api, "session-set", **{"utp-enabled": True})  # a web client sends every key back
    assert len(api.calls) == calls and api.settings.transport == "utp"
    assert legacy(api, "session-get")["arguments"]["tcp-enabled"] is False
    assert "must be true or false" in legacy(api, "session-set", **{"utp-enabled": 1})["result"]


def test_session_stats_and_free_space() -> None:
    api = FakeApi()
    stats = legacy(api, "session-stats")["arguments"]
    assert stats["torrentCount"] == 2 and stats["downloadSpeed"] == 2500
    assert stats["cumulative-stats"]["downloadedBytes"] == 32768
    assert jsonrpc(api, "session_stats")["result"]["current_stats"]["uploaded_bytes"] == 100
    assert legacy(api, "free-space", path="/data")["arguments"] == {
        "path": "/data",
        "size-bytes": 123456789,
        "total_size": -1,
    }
    assert legacy(api, "free-space", path="/missing")["result"] == "no folder /missing"


def test_encryption_words_map_to_the_daemons_levels() -> None:
    """Transmission's `tolerated` (plaintext preferred, encrypted accepted) is the daemon's
    `allowed`; `preferred` and `required` are themselves; the daemon's `disabled`, which
    Transmission cannot name, is reported as it is and taken back."""
    for word, ours in (("tolerated", "allowed"), ("required", "required"),
                       ("preferred", "preferred"), ("disabled", "disabled")):  # fmt: skip
        api = FakeApi()
        assert legacy(api, "session-set", encryption=word)["result"] == "success"
        assert api.settings.encryption == ours
        back = legacy(api, "session-get")["arguments"]["encryption"]
        assert back == word
    api = FakeApi()
    assert "must be" in legacy(api, "session-set", encryption="sometimes")["result"]
    assert api.settings.encryption == "preferred"
