"""The on-complete command (daemon/oncomplete.py): Transmission's variables, no shell, a
timeout that kills the whole process group, and failures logged, never raised."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shlex
import sys
import time
from pathlib import Path

import pytest

from bitswarm.daemon.model import Activity, TorrentOptions, TorrentView
from bitswarm.daemon.oncomplete import run_on_complete, torrent_done_env
from bitswarm.version import __version__

PY = shlex.quote(sys.executable)


def view(**changes: object) -> TorrentView:
    fields: dict[str, object] = {
        "id": 7,
        "info_hash": "ab" * 20,
        "name": "Big Buck Bunny $(touch pwned) `id`",
        "activity": Activity.SEEDING,
        "error": None,
        "has_metadata": True,
        "total_size": 100,
        "wanted_size": 100,
        "done_wanted": 100,
        "have_valid": 100,
        "progress": 1.0,
        "download_rate": 0.0,
        "upload_rate": 0.0,
        "downloaded_ever": 123456,
        "uploaded_ever": 0,
        "corrupt_ever": 0,
        "ratio": 0.0,
        "eta": None,
        "peers_connected": 0,
        "peers_sending": 0,
        "peers_receiving": 0,
        "seeds_connected": 0,
        "piece_count": 1,
        "piece_size": 16384,
        "pieces_done": 1,
        "private": False,
        "comment": "",
        "creator": "",
        "created": 0,
        "magnet_link": "",
        "added_at": 0.0,
        "done_at": 0.0,
        "activity_at": 0.0,
        "queue_position": 0,
        "options": TorrentOptions(
            download_dir="/srv/data", labels=["films", "hd"], category="movies"
        ),
        "tracker_message": None,
        "seconds_downloading": 0,
        "seconds_seeding": 0,
        "metadata_progress": 1.0,
    }
    fields.update(changes)
    return TorrentView(**fields)  # type: ignore[arg-type]


def script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "hook.py"
    path.write_text(body)
    return f"{PY} {shlex.quote(str(path))}"


DUMP = """\
import json, os, sys
out = os.environ["HOOK_OUT"]
with open(out, "w") as f:
    json.dump({"argv": sys.argv[1:], "env": dict(os.environ)}, f)
print("hello from the hook")
print("second line", file=sys.stderr)
"""


def test_torrent_done_env_has_transmissions_names_and_ours() -> None:
    env = torrent_done_env(view(), ["http://a/announce", "udp://b:80"], now=0.0)
    assert env["TR_APP_VERSION"] == __version__
    assert env["TR_TIME_LOCALTIME"] == time.asctime(time.localtime(0.0))
    assert env["TR_TORRENT_DIR"] == "/srv/data"
    assert env["TR_TORRENT_HASH"] == "ab" * 20
    assert env["TR_TORRENT_ID"] == "7"
    assert env["TR_TORRENT_NAME"] == "Big Buck Bunny $(touch pwned) `id`"
    assert env["TR_TORRENT_LABELS"] == "films,hd"
    assert env["TR_TORRENT_PRIORITY"] == "0"
    assert env["TR_TORRENT_BYTES_DOWNLOADED"] == "123456"
    assert env["TR_TORRENT_TRACKERS"] == "http://a/announce,udp://b:80"
    for key, value in env.items():
        if key.startswith("TR_"):
            assert env["BITSWARM_" + key[3:]] == value
    assert env["BITSWARM_TORRENT_CATEGORY"] == "movies"
    assert env["BITSWARM_APP_VERSION"] == __version__
    assert all(isinstance(v, str) for v in env.values())


def test_runs_without_a_shell_with_the_variables(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bitswarm.daemon.oncomplete")
    out = tmp_path / "out.json"
    env = torrent_done_env(view(), ["http://a/announce"]) | {"HOOK_OUT": str(out)}
    command = script(tmp_path, DUMP) + " 'two words' $HOME ';' touch pwned"
    status = asyncio.run(run_on_complete(command, env))
    assert status == 0
    seen = json.loads(out.read_text())
    assert seen["argv"] == ["two words", "$HOME", ";", "touch", "pwned"]  # no shell
    assert seen["env"]["TR_TORRENT_NAME"] == "Big Buck Bunny $(touch pwned) `id`"
    assert seen["env"]["TR_TORRENT_ID"] == "7"
    assert seen["env"]["BITSWARM_TORRENT_HASH"] == "ab" * 20
    assert seen["env"]["PATH"] == os.environ["PATH"]  # the daemon's environment, added to
    assert not (tmp_path / "pwned").exists()
    assert "hello from the hook" in caplog.text and "second line" in caplog.text
    assert "done" in caplog.text


def test_a_failing_command_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bitswarm.daemon.oncomplete")
    command = script(tmp_path, "import sys\nprint('oops')\nsys.exit(3)\n")
    assert asyncio.run(run_on_complete(command, {"TR_TORRENT_NAME": "x"})) == 3
    assert "exited with status 3" in caplog.text and "oops" in caplog.text


@pytest.mark.parametrize(
    ("command", "logged"),
    [
        ("/no/such/program --flag", "could not start"),
        ("'unbalanced", "cannot be split"),
        ("   ", "empty"),
    ],
)
def test_commands_that_cannot_run(
    command: str, logged: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert asyncio.run(run_on_complete(command, {})) is None
    assert logged in caplog.text


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


HANG = """\
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
with open(os.environ["HOOK_OUT"], "w") as f:
    f.write(f"{os.getpid()} {child.pid}")
print("started", flush=True)
time.sleep(120)
"""


def _wait_dead(pids: list[int]) -> None:
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in pids):
        assert time.monotonic() < deadline, "still running"
        time.sleep(0.05)


def test_a_hanging_command_is_killed_with_its_children(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bitswarm.daemon.oncomplete")
    out = tmp_path / "pids"
    command = script(tmp_path, HANG)

    async def go() -> int | None:
        task = asyncio.ensure_future(run_on_complete(command, {"HOOK_OUT": str(out)}, time_limit=3))
        return await task

    began = time.monotonic()
    assert asyncio.run(go()) is None
    assert time.monotonic() - began < 30
    pids = [int(p) for p in out.read_text().split()]
    _wait_dead(pids)
    assert "killed after 3 s" in caplog.text
    assert "started" in caplog.text  # what it printed before is still logged


def test_cancelling_kills_the_command(tmp_path: Path) -> None:
    out = tmp_path / "pids"
    command = script(tmp_path, HANG)

    async def go() -> None:
        task = asyncio.ensure_future(run_on_complete(command, {"HOOK_OUT": str(out)}))
        deadline = time.monotonic() + 30
        while not (out.exists() and len(out.read_text().split()) == 2):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())
    _wait_dead([int(p) for p in out.read_text().split()])
