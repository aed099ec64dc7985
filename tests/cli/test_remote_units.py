"""The pure parts of `bitswarm remote`: where it connects, what `set` sends, how it shows."""

from __future__ import annotations

from typing import Any

import pytest

from bitswarm.cli import remote_set, remote_tables
from bitswarm.cli.remote_client import DEFAULT_URL, RemoteError, RpcClient, resolve_endpoint
from bitswarm.errors import BitswarmError

# ------------------------------------------------------------------------ endpoint


def _endpoint(**kw: Any) -> tuple[str, str | None, str | None]:
    args: dict[str, Any] = {"url": None, "rpc": None, "auth": None, "environ": {}}
    args.update(kw)
    e = resolve_endpoint(**args)
    return e.url, e.username, e.password


def test_endpoint_default_and_precedence() -> None:
    assert _endpoint() == (DEFAULT_URL, None, None)
    env = {"BITSWARM_RPC_URL": "http://nas:9000/transmission/rpc"}
    assert _endpoint(environ=env)[0] == "http://nas:9000/transmission/rpc"
    assert _endpoint(environ=env, rpc="box:1234")[0] == "http://box:1234/transmission/rpc"
    assert _endpoint(environ=env, url="https://x/rpc")[0] == "https://x/rpc"


@pytest.mark.parametrize(
    ("rpc", "url"),
    [
        ("9092", "http://127.0.0.1:9092/transmission/rpc"),
        ("seedbox", "http://seedbox:9091/transmission/rpc"),
        ("10.0.0.2:80", "http://10.0.0.2:80/transmission/rpc"),
        ("[::1]:9091", "http://[::1]:9091/transmission/rpc"),
    ],
)
def test_endpoint_rpc_forms(rpc: str, url: str) -> None:
    assert _endpoint(rpc=rpc)[0] == url


def test_endpoint_url_without_path_gets_the_rpc_path() -> None:
    assert _endpoint(url="http://h:1")[0] == "http://h:1/transmission/rpc"
    assert _endpoint(url="http://h:1/")[0] == "http://h:1/transmission/rpc"
    assert _endpoint(url="http://h:1/custom/rpc")[0] == "http://h:1/custom/rpc"


@pytest.mark.parametrize("bad", ["ftp://h/x", "h:1/x", "http://", "http://h:99999/x"])
def test_endpoint_bad_url(bad: str) -> None:
    with pytest.raises(RemoteError):
        _endpoint(url=bad)


def test_endpoint_bad_rpc() -> None:
    with pytest.raises(RemoteError, match="HOST:PORT"):
        _endpoint(rpc="a:b:c")


def test_credentials_precedence_and_secrecy() -> None:
    env = {"BITSWARM_RPC_USERNAME": "env-user", "BITSWARM_RPC_PASSWORD": "env-pass"}
    assert _endpoint(environ=env)[1:] == ("env-user", "env-pass")
    assert _endpoint(environ=env, auth="me:p:w")[1:] == ("me", "p:w")
    url = "http://u:pw@host:9091/transmission/rpc"
    e = resolve_endpoint(url=url, rpc=None, auth=None, environ=env)
    assert (e.url, e.username, e.password) == ("http://host:9091/transmission/rpc", "u", "pw")
    assert "pw" not in repr(e) and "pw" not in e.url
    with pytest.raises(RemoteError, match="USER:PASS"):
        _endpoint(auth="only-user")
    assert _endpoint(environ={"BITSWARM_RPC_PASSWORD": "p"})[1:] == ("", "p")


def test_bad_url_error_hides_the_password() -> None:
    with pytest.raises(RemoteError) as caught:
        _endpoint(url="ftp://u:hunter2@h/x")
    assert "hunter2" not in str(caught.value)


def test_client_sends_basic_auth_header() -> None:
    e = resolve_endpoint(url=None, rpc=None, auth="alice:s3cret", environ={})
    assert RpcClient(e)._auth == "Basic YWxpY2U6czNjcmV0"  # base64("alice:s3cret")
    assert RpcClient(resolve_endpoint(url=None, rpc=None, auth=None, environ={}))._auth is None


# ------------------------------------------------------------------------ set


def test_file_numbers() -> None:
    assert remote_set.parse_file_numbers("1,3,5-7") == [1, 3, 5, 6, 7]
    for bad in ("0", "a", "3-1", "1,,2", "-2"):
        with pytest.raises(BitswarmError):
            remote_set.parse_file_numbers(bad)


def test_file_changes_to_rpc_arguments() -> None:
    changes = remote_set.file_changes(["1,2=high", "3=low", "4=skip"], ["5"], ["6-7"])
    args = remote_set.file_arguments(changes, 7, "torrent 1")
    assert args == {
        "files-wanted": [0, 1, 2, 4],
        "files-unwanted": [3, 5, 6],
        "priority-high": [0, 1],
        "priority-low": [2],
    }
    assert all(args.values())  # never an empty list: Transmission reads it as "all files"
    with pytest.raises(BitswarmError, match="torrent 1 has 6 files: there is no file 7"):
        remote_set.file_arguments(changes, 6, "torrent 1")


def test_file_changes_refuse_contradictions_and_bad_levels() -> None:
    with pytest.raises(BitswarmError, match="file 2 is both wanted and skipped"):
        remote_set.file_changes(["2=high"], [], ["2"])
    with pytest.raises(BitswarmError, match="N=high"):
        remote_set.file_changes(["2=urgent"], [], [])
    with pytest.raises(BitswarmError, match="N=high"):
        remote_set.file_changes(["2"], [], [])


def test_limits_in_the_daemons_units() -> None:
    assert remote_set.limit_arguments(2 * 2**20, None, False, 1000) == {
        "downloadLimited": True,
        "downloadLimit": 2097,
    }
    assert remote_set.limit_arguments(None, 100_000, False, 1024)["uploadLimit"] == 98
    assert remote_set.limit_arguments(None, 1, False, 1000)["uploadLimit"] == 1  # never 0
    assert remote_set.limit_arguments(0, None, False, 1000) == {"downloadLimited": False}
    assert remote_set.limit_arguments(None, None, True, 1000) == {
        "downloadLimited": False,
        "uploadLimited": False,
    }
    assert remote_set.parse_rate("unlimited") == 0
    assert remote_set.parse_rate("2MiB") == 2 * 2**20


def test_ratio() -> None:
    assert remote_set.parse_ratio("1.5") == (1, 1.5)
    assert remote_set.parse_ratio("global") == (0, None)
    assert remote_set.parse_ratio("unlimited") == (2, None)
    for bad in ("-1", "nan", "inf", "lots"):
        with pytest.raises(ValueError):
            remote_set.parse_ratio(bad)


# ------------------------------------------------------------------------ tables


def _torrent(**kw: Any) -> dict[str, Any]:
    t: dict[str, Any] = {
        "id": 7,
        "name": "ubuntu.iso",
        "hashString": "ab" * 20,
        "status": 4,
        "error": 0,
        "errorString": "",
        "percentDone": 0.5,
        "sizeWhenDone": 2 * 2**30,
        "leftUntilDone": 2**30,
        "eta": 3725,
        "rateDownload": 1_500_000,
        "rateUpload": 0,
        "uploadRatio": 0.25,
        "peersSendingToUs": 3,
        "peersGettingFromUs": 0,
    }
    t.update(kw)
    return t


def test_short_size_fits_eight_columns() -> None:
    assert [remote_tables.short_size(n) for n in (0, 1023, 1024, 10 * 2**20, 2**40 - 1)] == [
        "0 B",
        "1023 B",
        "1.00 KiB",
        "10.0 MiB",
        "1.00 TiB",
    ]
    assert all(len(remote_tables.short_size(2**k - 1)) <= 8 for k in range(60))


def test_list_table_fits_80_columns() -> None:
    long = _torrent(
        id=8,
        name="x" * 200,
        status=6,
        leftUntilDone=0,
        percentDone=1,
        peersGettingFromUs=1,
        peersSendingToUs=0,
    )
    lines = remote_tables.list_lines([long, _torrent()], 80)
    assert all(len(line) <= 80 for line in lines)
    assert lines[1].split() == [
        "7",
        "50%",
        "1.00",
        "GiB",
        "1h",
        "2m",
        "1.43",
        "MiB",
        "-",
        "0.25",
        "Downloading",
        "ubuntu.iso",
    ]
    assert lines[2].split()[-2:] == ["Seeding", "x" * (80 - 64) + "…"]
    assert lines[2].split()[4] == "Done"
    assert lines[-1].split() == ["Sum:", "3.00", "GiB", "2.86", "MiB", "-"]
    assert remote_tables.list_lines([long], None)[1].endswith("x" * 200)  # a pipe: uncut


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"status": 0}, "Stopped"),
        ({"status": 0, "isFinished": True}, "Finished"),
        ({"status": 0, "error": 3, "errorString": "disk full"}, "Error"),
        ({"status": 2}, "Verifying"),
        ({"status": 4, "peersSendingToUs": 0}, "Idle"),
        ({"status": 4, "peersGettingFromUs": 2}, "Up & Down"),
        ({"status": 4, "metadataPercentComplete": 0.5}, "Metadata"),
    ],
)
def test_status_words(fields: dict[str, Any], status: str) -> None:
    assert f" {status} " in remote_tables.list_lines([_torrent(**fields)], None)[1]


def test_torrent_json_is_plain_json() -> None:
    j = remote_tables.torrent_json(_torrent(uploadRatio=-2, eta=-1, error=3, status=0))
    assert (j["ratio"], j["eta"], j["state"], j["have"]) == (None, None, "error", 2**30)


def test_files_numbered_from_one() -> None:
    t = {
        "id": 1,
        "name": "n",
        "files": [{"name": "n/a", "length": 10}, {"name": "n/b", "length": 0}],
        "fileStats": [
            {"bytesCompleted": 5, "wanted": 1, "priority": 1},
            {"bytesCompleted": 0, "wanted": 0, "priority": -1},
        ],
    }
    files = remote_tables.files_json(t)["files"]
    assert [(f["number"], f["progress"], f["priority"], f["wanted"]) for f in files] == [
        (1, 0.5, "high", True),
        (2, 1.0, "low", False),
    ]
    lines = remote_tables.files_lines(t, 80)
    assert lines[2].split() == ["1", "50%", "high", "yes", "10", "B", "n/a"]
    assert lines[3].split()[3] == "no"


def test_info_names_the_kind_of_error() -> None:
    warned = remote_tables.info_lines(_torrent(error=2, errorString="tracker down"), 1000)
    assert "Tracker err: tracker down" in warned
    failed = remote_tables.info_lines(_torrent(status=0, error=3, errorString="disk full"), 1000)
    assert "Error:       disk full" in failed and failed[3].startswith("State:       Error")
    limited = _torrent(downloadLimited=True, downloadLimit=2097, uploadLimited=False)
    assert remote_tables.info_json(limited, 1000)["download_limit"] == 2_097_000
    assert "Limits:      down 2.0 MiB/s, up unlimited" in remote_tables.info_lines(limited, 1000)
