"""The CLI's config file and `bitswarm config` (issue 12, item 4), and one DHT id per process.

Precedence is checked end to end: defaults < the daemon's TOML file < BITSWARM_* < flags,
through `bitswarm config` and through a real `bitswarm seed` that must listen where the
file says. Two `seed` processes with the DHT on must save two state files with two ids.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from bitswarm.cli import events
from bitswarm.cli.main import build_parser
from bitswarm.cli.settings import apply_config
from bitswarm.cli.transfer_commands import session_config
from bitswarm.create import create_torrent
from bitswarm.daemon.config import load_settings
from bitswarm.daemon.model import DaemonError
from bitswarm.dht.state import decode_state
from tests.cli.remote_daemons import free_port

BITSWARM = [sys.executable, "-m", "bitswarm"]


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BITSWARM_")}
    env["XDG_CONFIG_HOME"] = str(tmp / "config")
    env["XDG_STATE_HOME"] = str(tmp / "state")
    env.update(extra)
    return env


def _write_config(tmp: Path, text: str) -> Path:
    path = tmp / "config" / "bitswarm" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _config_json(tmp: Path, *args: str, **env: str) -> dict[str, Any]:
    done = subprocess.run(
        [*BITSWARM, "config", "--json", *args],
        env=_env(tmp, **env),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    lines = done.stdout.splitlines()
    assert len(lines) == 1
    out: dict[str, Any] = json.loads(lines[0])
    return out


def test_config_shows_defaults_then_file_then_environment(tmp_path: Path) -> None:
    first = _config_json(tmp_path)
    assert first["event"] == "config" and first["config_file"] is None
    assert first["settings"]["peer_port"] == {"value": 6881, "source": "default"}
    assert first["settings"]["dht_enabled"] == {"value": False, "source": "default"}

    path = _write_config(
        tmp_path,
        "peer-port = 7001\nlsd_enabled = true\nseed_ratio_limit = 2.5\n[cli]\ndht_port = 7002\n",
    )
    shown = _config_json(tmp_path, BITSWARM_LSD_ENABLED="off")["settings"]
    assert shown["peer_port"] == {"value": 7001, "source": f"config file {path}"}
    assert shown["seed_ratio_limit"]["value"] == 2.5
    assert shown["cli.dht_port"] == {"value": 7002, "source": f"config file {path}"}
    assert shown["lsd_enabled"] == {"value": False, "source": "environment BITSWARM_LSD_ENABLED"}
    env_only = _config_json(tmp_path, BITSWARM_CLI_DIRECT_IO="yes")["settings"]
    assert env_only["cli.direct_io"] == {
        "value": True,
        "source": "environment BITSWARM_CLI_DIRECT_IO",
    }


def test_config_table_and_path(tmp_path: Path) -> None:
    path = _write_config(tmp_path, "peer_port = 7001\n")
    done = subprocess.run(
        [*BITSWARM, "config"], env=_env(tmp_path), capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if line.startswith("peer_port "))
    assert row.split(None, 2) == ["peer_port", "7001", f"config file {path}"]
    done = subprocess.run(
        [*BITSWARM, "config", "--path"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.stdout.strip() == str(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("peer_prot = 1\n", "unknown setting 'peer_prot' (did you mean 'peer_port'?)"),
        ("peer_port = 'x'\n", "peer_port must be an integer"),
        ("[cli]\ndth_port = 1\n", "unknown setting cli.dth_port"),
        ("[cli]\ndht_port = 70000\n", "cli.dht_port must be in 0..65535"),
        ("[cli]\nresume_save_interval = 0\n", "cli.resume_save_interval must be a number"),
        ("[cli]\nresume_save_interval = 'x'\n", "cli.resume_save_interval must be a number"),
    ],
)
def test_config_mistakes_are_one_line(tmp_path: Path, text: str, message: str) -> None:
    _write_config(tmp_path, text)
    done = subprocess.run(
        [*BITSWARM, "config"], env=_env(tmp_path), capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr


def test_the_daemon_reads_a_file_with_a_cli_table(tmp_path: Path) -> None:
    path = _write_config(tmp_path, "peer_port = 7001\n[cli]\ndirect_io = true\n")
    loaded = load_settings(path, {}, {})
    assert loaded.settings.peer_port == 7001


def test_flags_win_over_the_file_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_config(
        tmp_path,
        "peer_port = 7001\npeer_limit_per_torrent = 9\nspeed_limit_down = 1000\n"
        "speed_limit_down_enabled = true\ndht_enabled = true\n"
        "dht_bootstrap = ['router.test:6881']\nseed_ratio_limited = false\n"
        f"download_dir = '{tmp_path / 'dl'}'\n",
    )
    for key, value in _env(tmp_path, BITSWARM_PEER_LIMIT_PER_TORRENT="12").items():
        monkeypatch.setenv(key, value)
    parser = build_parser()
    args = parser.parse_args(["download", "x.torrent"])
    apply_config(args)
    assert (args.port, args.max_peers, args.download_limit, args.upload_limit) == (
        7001,
        12,
        1000,
        0,
    )
    assert args.output == tmp_path / "dl"
    # the DHT on the peer port (its UDP socket shared with uTP) unless [cli] dht_port says
    assert args.dht_port == 7001 and args.dht_bootstrap == ["router.test:6881"]
    assert args.transport == "both"
    assert args.seed_ratio == math.inf  # seed_ratio_limited = false: no ratio ends the run
    args = parser.parse_args(
        ["download", "x.torrent", "--port", "7005", "--max-peers", "3", "--download-limit", "0",
         "--no-dht", "--seed-time", "1m", "-o", "here"]
    )  # fmt: skip
    apply_config(args)
    assert (args.port, args.max_peers, args.download_limit) == (7005, 3, 0)
    assert args.dht_port is None and args.seed_ratio is None and args.output == Path("here")


def test_resume_save_interval_from_the_file_and_the_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bitswarm.cli.transfer_commands import session_config

    _write_config(tmp_path, "[cli]\nresume_save_interval = 2\n")
    for key, value in _env(tmp_path).items():
        monkeypatch.setenv(key, value)
    parser = build_parser()
    args = parser.parse_args(["download", "x.torrent"])
    apply_config(args)
    assert session_config(args).resume_save_interval == 2.0
    args = parser.parse_args(["download", "x.torrent", "--resume-save-interval", "0.5"])
    apply_config(args)
    assert session_config(args).resume_save_interval == 0.5
    with pytest.raises(SystemExit):
        parser.parse_args(["download", "x.torrent", "--resume-save-interval", "0"])


def _torrent(tmp: Path) -> tuple[Path, Path]:
    data = tmp / "data"
    data.mkdir()
    (data / "file.bin").write_bytes(os.urandom(100_000))
    torrent = tmp / "t.torrent"
    torrent.write_bytes(create_torrent(data / "file.bin", piece_length=16384))
    return torrent, data


@contextmanager
def _seed(
    tmp: Path, torrent: Path, data: Path, *flags: str, env: dict[str, str] | None = None
) -> Iterator[dict[str, Any]]:
    """A `bitswarm seed --json` process; yields its first status line, stops it on exit."""
    proc = subprocess.Popen(
        [*BITSWARM, "seed", str(torrent), str(data), "--bind", "127.0.0.1", "--json", *flags],
        env=_env(tmp, **(env or {})),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        status: dict[str, Any] = {}
        for line in proc.stdout:
            if line.startswith("{") and "port" in (status := json.loads(line)):
                break
        assert "port" in status, proc.stderr.read() if proc.stderr else ""
        yield status
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
        assert proc.returncode == 0


def test_seed_listens_where_the_config_file_says(tmp_path: Path) -> None:
    torrent, data = _torrent(tmp_path)
    port = free_port()
    _write_config(tmp_path, f"peer_port = {port}\n")
    with _seed(tmp_path, torrent, data) as status:
        assert status["port"] == port
    other = free_port()
    with _seed(tmp_path, torrent, data, "--port", str(other)) as status:
        assert status["port"] == other


def test_two_processes_get_two_dht_ids(tmp_path: Path) -> None:
    """The DHT on through the config file (dht_enabled, [cli] dht_port = 0), two seeds at
    once: each claims its own state file, so each saves its own node id."""
    torrent, data = _torrent(tmp_path)
    _write_config(tmp_path, "dht_enabled = true\n[cli]\ndht_port = 0\n")
    with ExitStack() as both:
        both.enter_context(_seed(tmp_path, torrent, data, "--port", "0"))
        both.enter_context(_seed(tmp_path, torrent, data, "--port", "0"))
    folder = tmp_path / "state" / "bitswarm"
    first, second = folder / "dht.state", folder / "dht-2.state"
    ids = [decode_state(p.read_bytes()).node_id for p in (first, second)]
    assert ids[0] != ids[1]
    # the next process alone takes the first file again, and so its id
    with _seed(tmp_path, torrent, data, "--port", "0"):
        pass
    assert decode_state(first.read_bytes()).node_id == ids[0]
    assert not (folder / "dht-3.state").exists()


def test_a_taken_peer_port_from_the_config_file_falls_back(tmp_path: Path) -> None:
    """Only --port on the command line is explicit (taken: an error, see
    test_cli_conventions); the config file's peer_port is a preference, as the default is:
    the daemon that reads the same file most likely holds it already."""
    torrent, data = _torrent(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        _write_config(tmp_path, f"peer_port = {port}\n")
        with _seed(tmp_path, torrent, data) as status:
            assert status["port"] != port and status["port"] > 0
        with _seed(tmp_path, torrent, data, env={"BITSWARM_PEER_PORT": str(port)}) as status:
            assert status["port"] != port
        done = subprocess.run(
            [
                *BITSWARM,
                "seed",
                str(torrent),
                str(data),
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in done.stderr


def test_config_and_resume_json_are_schema_events(tmp_path: Path) -> None:
    _write_config(tmp_path, "peer_port = 7001\n")
    shown = _config_json(tmp_path)
    assert events.validate(shown, "config") == []
    assert shown["settings"]["peer_port"]["value"] == 7001
    resume = tmp_path / "state" / "bitswarm" / "resume"
    resume.mkdir(parents=True)
    (resume / "junk.resume").write_bytes(b"not bencoding")
    for words, kind in ((["list"], "resume"), (["clean", "--dry-run"], "resume_removed")):
        out = subprocess.run(
            [*BITSWARM, "resume", *words, "--json"],
            env=_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.splitlines()
        assert len(out) == 1
        record = json.loads(out[0])
        assert record["event"] == kind and events.validate(record, "resume") == []


def test_peer_limit_per_ip_reaches_the_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One connection per address (libtorrent's default) unless the file or environment
    allows more, say for several clients behind one NAT address (issue 14)."""
    for key, value in _env(tmp_path).items():
        monkeypatch.setenv(key, value)
    parser = build_parser()
    assert session_config(parser.parse_args(["download", "x.torrent"])).max_peers_per_ip == 1
    path = _write_config(tmp_path, "peer_limit_per_ip = 4\n")
    assert session_config(parser.parse_args(["seed", "x.torrent", "."])).max_peers_per_ip == 4
    monkeypatch.setenv("BITSWARM_PEER_LIMIT_PER_IP", "2")
    assert session_config(parser.parse_args(["download", "x.torrent"])).max_peers_per_ip == 2
    assert load_settings(path, {}, {}).settings.peer_limit_per_ip == 4  # the daemon's too
    _write_config(tmp_path, "peer_limit_per_ip = 0\n")
    with pytest.raises(DaemonError, match="peer_limit_per_ip must be at least 1"):
        load_settings(path, {}, {})
