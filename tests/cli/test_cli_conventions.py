"""What scripts rely on (issue 12, item 6): JSON events with a schema on every --json, exit
statuses, closed pipes, SIGTERM, taken ports, refused values, stdin and URL sources, and
`seed` creating nothing where there is no data."""

from __future__ import annotations

import http.server
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bitswarm.cli.main import build_parser
from bitswarm.cli.transfer_commands import session_config
from bitswarm.create import create_torrent
from tests.cli.cli_helpers import BITSWARM, Running, checked_events, env_for, seeding
from tests.session.helpers import digest_tree, make_multifile

KiB = 1024


def run(args: list[str], tmp: Path, **kw: object) -> subprocess.CompletedProcess[str]:
    done: subprocess.CompletedProcess[str] = subprocess.run(
        [*BITSWARM, *args],
        capture_output=True,
        text=True,
        cwd=tmp,
        env=env_for(tmp / "state"),
        timeout=120,
        **kw,  # type: ignore[call-overload]
    )
    return done


@pytest.fixture
def small(tmp_path: Path) -> tuple[Path, Path]:
    """A two-file torrent of 300 KiB and its content."""
    content = make_multifile(tmp_path / "seed", [200 * KiB, 100 * KiB + 7])
    torrent = tmp_path / "small.torrent"
    torrent.write_bytes(create_torrent(content, piece_length=32 * KiB))
    return content, torrent


def _one_line(r: subprocess.CompletedProcess[str], code: int, needle: str) -> None:
    assert r.returncode == code, r.stderr
    assert r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("bitswarm: error: ") and needle in r.stderr, r.stderr
    assert r.stdout == ""


# -- JSON events ---------------------------------------------------------------------------


def test_every_json_command_prints_schema_events(tmp_path: Path, small: tuple[Path, Path]) -> None:
    content, torrent = small
    for args, command, first in [
        (["info", str(torrent), "--json"], "info", "torrent"),
        (["magnet", str(torrent), "--json"], "magnet", "magnet"),
        (["info", "magnet:?xt=urn:btih:" + "ab" * 20, "--json"], "info", "magnet"),
        (["create", str(content), "-o", "c.torrent", "--json"], "create", "created"),
    ]:
        r = run(args, tmp_path)
        assert r.returncode == 0, r.stderr
        records = checked_events(r.stdout, command)
        assert [x["event"] for x in records] == [first]
    r = run(["demo", "--json", "--size", "512KiB", "--piece-size", "64KiB", "--leechers", "2",
             "--bind", "127.0.0.1"], tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    demo = checked_events(r.stdout, "demo")
    assert demo[0]["event"] == "start" and demo[-1]["event"] == "summary"
    assert demo[-1]["identical"] is True and any(x["event"] == "peer" for x in demo)


def test_download_and_seed_json_lines_follow_the_schema(
    tmp_path: Path, small: tuple[Path, Path]
) -> None:
    content, torrent = small
    with seeding(torrent, tmp_path / "seed", tmp_path / "state") as port:
        r = run(["download", str(torrent), "-o", "leech", "--no-seed", "--json", "--port", "0",
                 "--bind", "127.0.0.1", "--peer", f"127.0.0.1:{port}"], tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    records = checked_events(r.stdout, "download")
    kinds = [x["event"] for x in records]
    assert kinds[0] == "start" and kinds[-1] == "summary"
    for needed in ("status", "completed", "finished"):
        assert needed in kinds
    assert records[-1]["exit_code"] == 0 and records[-1]["succeeded"] == 1
    assert digest_tree(tmp_path / "leech" / content.name) == digest_tree(content)


def test_dht_json_lines_follow_the_schema(tmp_path: Path) -> None:
    node = Running(["dht", "--port", "0", "--bind", "127.0.0.1", "--json", "--interval", "60"],
                   env_for(tmp_path))  # fmt: skip
    try:
        node.expect(lambda r: r["event"] == "status")
        assert node.stop() == 0
        checked_events("".join(node.rest()), "dht")
    finally:
        node.close()


# -- closed pipes --------------------------------------------------------------------------


@pytest.fixture
def many_files(tmp_path: Path) -> Path:
    """A torrent whose `info --json` is far larger than a pipe's buffer (64 KiB)."""
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(1500):
        (folder / f"{i:05d}-{'x' * 120}.txt").write_bytes(b"%d" % i)
    torrent = tmp_path / "many.torrent"
    torrent.write_bytes(create_torrent(folder, piece_length=16 * KiB))
    return torrent


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_a_closed_pipe_exits_0_quietly(
    tmp_path: Path, many_files: Path, json_flag: list[str]
) -> None:
    proc = subprocess.Popen(
        [*BITSWARM, "info", str(many_files), *json_flag],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env_for(tmp_path / "state", COLUMNS="200"),
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(10)  # like `head -c 10`: read a little, then go away
    proc.stdout.close()
    assert proc.wait(timeout=60) == 0
    assert proc.stderr.read() == b""
    proc.stderr.close()


def test_head_1_of_info(tmp_path: Path, many_files: Path) -> None:
    r = subprocess.run(
        f"set -o pipefail; {' '.join(BITSWARM)} info {many_files} | head -1",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        text=True,
        env=env_for(tmp_path / "state"),
        timeout=60,
    )
    assert r.returncode == 0 and r.stderr == ""
    assert len(r.stdout.splitlines()) == 1


# -- signals -------------------------------------------------------------------------------


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_download_stopped_by_a_signal(tmp_path: Path, sig: int, code: int) -> None:
    """Waiting for metadata nobody has: SIGTERM is a clean stop (0), Ctrl-C is 130."""
    magnet = "magnet:?xt=urn:btih:" + "cd" * 20 + "&dn=nobody"
    args = ["download", magnet, "--peer", "127.0.0.1:9", "--json", "--port", "0",
            "--bind", "127.0.0.1", "-o", str(tmp_path / "out")]  # fmt: skip
    p = Running(args, env_for(tmp_path))
    try:
        p.expect(lambda r: r["event"] == "start")
        assert p.stop(sig) == code, p.stderr()
        records = checked_events("".join(p.rest()), "download")
        assert records[-1]["event"] == "summary" and records[-1]["exit_code"] == code
        assert records[-1]["torrents"][0]["result"] == "stopped"
    finally:
        p.close()


def test_seed_tracker_and_demo_exit_0_on_sigterm(tmp_path: Path, small: tuple[Path, Path]) -> None:
    content, torrent = small
    runs = [
        (["seed", str(torrent), str(content), "--port", "0", "--bind", "127.0.0.1", "--json"],
         "start"),
        (["tracker", "--http", "127.0.0.1:0", "--udp", "127.0.0.1:0"], "listening"),
        (["demo", "--json", "--size", "64MiB", "--seed-limit", "64KiB", "--leechers", "1",
          "--bind", "127.0.0.1"], "peer"),
    ]  # fmt: skip
    for args, first in runs:
        p = Running(args, env_for(tmp_path), cwd=tmp_path)
        try:
            p.expect(lambda r, first=first: r["event"] == first)  # type: ignore[misc]
            assert p.stop() == 0, (args[0], p.stderr())
        finally:
            p.close()


# -- ports and values ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["download", "x.torrent", "--port", "70000"], "port 70000 is out of range"),
        (["download", "x.torrent", "--port", "-1"], "port -1 is out of range"),
        (["seed", "x.torrent", ".", "--dht-port", "65536"], "port 65536 is out of range"),
        (["download", "x.torrent", "--max-peers", "0"], "0 peers would never connect"),
        (["seed", "x.torrent", ".", "--max-peers", "-4"], "-4 peers would never connect"),
        (["demo", "--port", "0"], "port 0 is out of range (1..65535)"),
        (["download", "x.torrent", "--peer", "h:0"], "invalid HOST:PORT value"),
        (["download", "x.torrent", "--log-level", "loud"], "invalid choice: 'loud'"),
    ],
)
def test_impossible_values_are_refused_at_parse_time(
    tmp_path: Path, args: list[str], needle: str
) -> None:
    _one_line(run(args, tmp_path), 2, needle)


def test_only_the_default_port_falls_back() -> None:
    parser = build_parser()
    default = session_config(parser.parse_args(["download", "x.torrent"]))
    chosen = session_config(parser.parse_args(["download", "x.torrent", "--port", "6881"]))
    assert default.listen_port == chosen.listen_port == 6881
    assert default.find_free_port and not chosen.find_free_port


def test_a_taken_port_is_an_error(tmp_path: Path, small: tuple[Path, Path]) -> None:
    content, torrent = small
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = run(["seed", str(torrent), str(content), "--port", str(port), "--bind", "127.0.0.1"],
                tmp_path)  # fmt: skip
    _one_line(r, 1, f"cannot listen on 127.0.0.1:{port}")


# -- where the torrent comes from ----------------------------------------------------------


@pytest.fixture
def http_folder(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A loopback HTTP server of a folder; yields its base URL and the folder."""
    folder = tmp_path / "www"
    folder.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a: object, **kw: object) -> None:
            super().__init__(*a, directory=str(folder), **kw)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", folder
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_download_from_a_url_and_from_stdin(
    tmp_path: Path, small: tuple[Path, Path], http_folder: tuple[str, Path]
) -> None:
    content, torrent = small
    base, www = http_folder
    (www / "small.torrent").write_bytes(torrent.read_bytes())
    (www / "huge.torrent").write_bytes(b"d" + b"0" * (65 * 2**20))
    with seeding(torrent, tmp_path / "seed", tmp_path / "state") as port:
        common = ["--no-seed", "--port", "0", "--bind", "127.0.0.1", "--peer", f"127.0.0.1:{port}"]
        r = run(["download", f"{base}/small.torrent", "-o", "by-url", *common], tmp_path)
        assert r.returncode == 0, r.stderr
        with torrent.open("rb") as stdin:
            r = run(["download", "-", "-o", "by-stdin", *common], tmp_path, stdin=stdin)
        assert r.returncode == 0, r.stderr
    for out in ("by-url", "by-stdin"):
        assert digest_tree(tmp_path / out / content.name) == digest_tree(content)
    _one_line(run(["download", f"{base}/missing.torrent"], tmp_path), 1, "HTTP 404")
    _one_line(run(["download", f"{base}/huge.torrent"], tmp_path), 1, "larger than")
    _one_line(run(["download", "-", "-"], tmp_path, input=""), 1, "only one .torrent")


def test_seed_without_the_data_creates_nothing(tmp_path: Path, small: tuple[Path, Path]) -> None:
    content, torrent = small
    empty = tmp_path / "empty"
    empty.mkdir()
    r = run(["seed", str(torrent), str(empty), "--port", "0", "--bind", "127.0.0.1"], tmp_path)
    _one_line(r, 1, f"no data of '{content.name}'")
    assert list(empty.iterdir()) == []


def test_quiet_and_log_file(tmp_path: Path, small: tuple[Path, Path]) -> None:
    _, torrent = small
    log = tmp_path / "log.txt"
    with seeding(torrent, tmp_path / "seed", tmp_path / "state") as port:
        r = run(["-q", "download", str(torrent), "-o", "leech", "--no-seed", "--port", "0",
                 "--bind", "127.0.0.1", "--peer", f"127.0.0.1:{port}", "--log-level", "info",
                 "--log-file", str(log)], tmp_path)  # fmt: skip
    assert r.returncode == 0 and r.stdout == "" and r.stderr == ""
    assert "listening on port" in log.read_text()


def test_every_event_is_documented() -> None:
    from bitswarm.cli.events import COMMAND_EVENTS, EVENTS

    doc = (Path(__file__).parents[2] / "docs" / "json-events.md").read_text()
    for name in [*EVENTS, *(event for _, event in COMMAND_EVENTS)]:
        assert f"| `{name}`" in doc, name
