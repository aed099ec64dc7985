"""The real-peer harness (bitswarm_lab.peers) proved with real peers only, before bitswarm joins.

* libtorrent seeds, aria2 downloads, over opentracker on loopback (aria2 cannot be told
  to dial a peer);
* libtorrent seeds, Transmission downloads, inside a network namespace (Transmission never
  dials 127.0.0.0/8);
* aria2 seeds, libtorrent downloads by dialling it directly.
Each moves 8 MiB and ends with byte-identical data (run_transfer compares the files).

Also: the parts that must never leak or lie. Namespaces are deleted and their processes
killed even when the body fails; the stale sweep spares live creators; CPU and peak memory
figures come from the child itself; a stalled peer times out with its logs in the message;
opentracker really refuses hashes it was not given.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bitswarm_lab.peers.aria2_peer import Aria2Peer
from bitswarm_lab.peers.base import (
    Endpoint,
    Peer,
    PeerExitedError,
    PeerSpec,
    PeerTimeoutError,
    Role,
)
from bitswarm_lab.peers.libtorrent_peer import LibtorrentPeer
from bitswarm_lab.peers.netns import (
    NetworkNamespace,
    free_port,
    netns_unavailable_reason,
    open_socket,
    sweep_stale_namespaces,
)
from bitswarm_lab.peers.opentracker import Opentracker
from bitswarm_lab.peers.process import JsonLineFeed, ManagedProcess
from bitswarm_lab.peers.torrent_files import (
    TorrentFile,
    make_torrent,
    parse_size,
    write_payload,
)
from bitswarm_lab.peers.transfer import run_transfer
from bitswarm_lab.peers.transmission_peer import TransmissionPeer

from .tools import missing, require_module, require_program

PAYLOAD = 8 << 20
PIECE = 256 << 10
TIMEOUT = 45.0


def require_peer(peer_class: type[Peer]) -> None:
    reason = peer_class.unavailable_reason()
    if reason is not None:
        missing(f"{peer_class.program}: {reason}")


def require_netns() -> None:
    reason = netns_unavailable_reason()
    if reason is not None:
        missing(reason)


@pytest.fixture(scope="module", autouse=True)
def _sweep_stale_namespaces() -> None:
    """Namespaces left by a killed earlier run (their creator is gone) are removed first."""
    sweep_stale_namespaces()


@pytest.fixture
def seeded(tmp_path: Path) -> tuple[TorrentFile, Path]:
    """An 8 MiB payload in tmp/seed and a libtorrent-made v1 torrent of it."""
    require_module("libtorrent")
    seed_dir = tmp_path / "seed"
    write_payload(seed_dir / "payload.bin", PAYLOAD, seed=7)
    return make_torrent(seed_dir / "payload.bin", tmp_path / "payload.torrent", PIECE), seed_dir


def _own_namespaces() -> list[str]:
    reply = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    prefix = f"bsw-{os.getpid()}-"
    return [line.split()[0] for line in reply.stdout.splitlines() if line.startswith(prefix)]


# --- real transfers ---------------------------------------------------------------------


# Real peer programs (Transmission hashes on ~10 s timers) and the harness's own 45 s
# deadline, which reports both peers' logs, after namespaces and a tracker start.
@pytest.mark.timeout(120)
@pytest.mark.interop
def test_libtorrent_seeds_aria2_over_opentracker(
    seeded: tuple[TorrentFile, Path], tmp_path: Path
) -> None:
    require_peer(Aria2Peer)
    require_program("opentracker")
    torrent, seed_dir = seeded
    result = run_transfer(
        LibtorrentPeer, Aria2Peer, torrent, seed_dir, tmp_path / "run", timeout=TIMEOUT
    )
    assert (result.seeder, result.leecher, result.size) == ("libtorrent", "aria2", PAYLOAD)
    assert not result.netns
    assert 0 < result.seconds < TIMEOUT
    assert (tmp_path / "run" / "tracker" / "opentracker.stderr.log").exists()  # it ran
    assert (tmp_path / "run" / "leecher-data" / "payload.bin").stat().st_size == PAYLOAD
    assert result.peak_rss_bytes > 1 << 20


# Real peer programs (Transmission hashes on ~10 s timers) and the harness's own 45 s
# deadline, which reports both peers' logs, after namespaces and a tracker start.
@pytest.mark.timeout(120)
@pytest.mark.interop
@pytest.mark.netns
def test_libtorrent_seeds_transmission_in_a_namespace(
    seeded: tuple[TorrentFile, Path], tmp_path: Path
) -> None:
    require_peer(TransmissionPeer)
    require_program("opentracker")
    require_netns()
    torrent, seed_dir = seeded
    result = run_transfer(
        LibtorrentPeer, TransmissionPeer, torrent, seed_dir, tmp_path / "run", timeout=TIMEOUT
    )
    assert (result.seeder, result.leecher) == ("libtorrent", "transmission")
    assert result.netns  # forced by Transmission, though not asked for
    assert 0 < result.seconds < TIMEOUT
    assert _own_namespaces() == []


# Real peer programs (Transmission hashes on ~10 s timers) and the harness's own 45 s
# deadline, which reports both peers' logs, after namespaces and a tracker start.
@pytest.mark.timeout(120)
@pytest.mark.interop
def test_aria2_seeds_libtorrent_dialling_it_directly(
    seeded: tuple[TorrentFile, Path], tmp_path: Path
) -> None:
    require_peer(Aria2Peer)
    torrent, seed_dir = seeded
    result = run_transfer(
        Aria2Peer, LibtorrentPeer, torrent, seed_dir, tmp_path / "run", timeout=TIMEOUT
    )
    assert (result.seeder, result.leecher) == ("aria2", "libtorrent")
    assert not (tmp_path / "run" / "tracker").exists()  # no tracker: libtorrent dialled
    assert 0 < result.seconds < TIMEOUT
    assert result.cpu_seconds > 0


# --- failures are reported, never hidden ------------------------------------------------


@pytest.mark.interop
def test_a_leecher_with_nobody_to_ask_times_out_with_its_log(
    seeded: tuple[TorrentFile, Path], tmp_path: Path
) -> None:
    torrent, _ = seeded
    spec = PeerSpec(
        Role.LEECH, torrent.path, tmp_path / "data", tmp_path / "work",
        Endpoint("127.0.0.1", free_port("127.0.0.1")),
    )  # fmt: skip
    peer = LibtorrentPeer(spec)
    with peer, pytest.raises(PeerTimeoutError) as caught:
        peer.wait_complete(2.0)
    message = str(caught.value)
    assert "libtorrent leech on 127.0.0.1" in message
    assert "not complete after 2 s" in message
    assert '"event": "status"' in message  # the runner's own lines, from its log
    assert peer.process is not None and not peer.process.running()
    with pytest.raises(PeerExitedError, match="before completing"):
        peer.progress()


@pytest.mark.interop
def test_opentracker_refuses_hashes_until_whitelisted(tmp_path: Path) -> None:
    require_program("opentracker")
    known, unknown = "ab" * 20, "cd" * 20
    with Opentracker(tmp_path / "tracker", info_hashes=(known,)) as tracker:
        assert tracker.is_allowed(known)
        assert not tracker.is_allowed(unknown)
        tracker.allow(unknown)
        assert tracker.is_allowed(unknown)
        assert tracker.peer_count(unknown) == 0  # the probe withdrew its dummy peer
    assert tracker.announce_url.startswith("http://127.0.0.1:")


# --- processes and namespaces -----------------------------------------------------------

_BURN = (
    "x = b'\\1' * (48 << 20); import time; t = time.process_time()\n"
    'while time.process_time() - t < 0.3: pass\nprint(\'{"event": "done"}\', flush=True)'
)


def test_managed_process_reports_its_own_cpu_and_memory(tmp_path: Path) -> None:
    feed = JsonLineFeed()
    process = ManagedProcess(
        [sys.executable, "-c", _BURN], name="burn", log_dir=tmp_path, on_line=feed.feed
    )
    process.start()
    try:
        deadline = time.monotonic() + 20
        while process.running() and time.monotonic() < deadline:
            time.sleep(0.02)
        usage = process.usage()
    finally:
        process.stop()
    assert process.poll() == 0
    assert usage.cpu_seconds >= 0.25  # the child's burn, not this process's
    assert usage.peak_rss_bytes >= 48 << 20
    assert feed.first(lambda record: record.get("event") == "done") is not None
    assert "done" in (tmp_path / "burn.stdout.log").read_text()


def test_stop_kills_a_process_that_ignores_sigterm(tmp_path: Path) -> None:
    stubborn = (
        "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "open(sys.argv[1], 'w').close(); time.sleep(60)"
    )
    ready = tmp_path / "ignoring-sigterm"
    process = ManagedProcess(
        [sys.executable, "-c", stubborn, str(ready)], name="stubborn", log_dir=tmp_path
    )
    process.start()
    # Wait until SIGTERM is ignored (a child under coverage takes a while to get there).
    deadline = time.monotonic() + 20
    while not ready.exists():
        assert time.monotonic() < deadline, "the child never started ignoring SIGTERM"
        time.sleep(0.01)
    started = time.monotonic()
    process.stop(grace=0.5)
    assert time.monotonic() - started < 5
    assert process.poll() == -9


_ORPHAN_MAKER = """
import sys, time
from pathlib import Path
from bitswarm_lab.peers.process import ManagedProcess
child = ManagedProcess(["sleep", "60"], name="sleeper", log_dir=Path(sys.argv[1]))
child.start()
print(child.pid, flush=True)
time.sleep(60)
"""


def test_peers_die_with_a_harness_killed_by_sigkill(tmp_path: Path) -> None:
    harness = subprocess.Popen(
        [sys.executable, "-c", _ORPHAN_MAKER, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert harness.stdout is not None
    with harness.stdout:
        sleeper = int(harness.stdout.readline())
        os.kill(sleeper, 0)  # alive while the harness is
        harness.kill()
        harness.wait(timeout=5)
    deadline = time.monotonic() + 5
    while Path(f"/proc/{sleeper}").exists() and time.monotonic() < deadline:
        time.sleep(0.02)  # (a zombie until init reaps it: its /proc entry stays briefly)
    status = Path(f"/proc/{sleeper}/status")
    assert not status.exists() or "State:\tZ" in status.read_text()


@pytest.mark.netns
def test_namespace_is_deleted_with_its_processes_even_on_error(tmp_path: Path) -> None:
    require_netns()
    namespace = NetworkNamespace()
    with pytest.raises(RuntimeError, match="body failed"), namespace:
        address = namespace.add_address()
        assert address.startswith("10.77.0.")
        port = namespace.free_port(address)
        # A listener inside is reachable from inside, not from the host's namespace.
        with namespace.open_socket() as server:
            server.bind((address, port))
            server.listen()
            with open_socket(namespace.name) as client:
                client.connect((address, port))
            with open_socket(None) as outside, pytest.raises(OSError):
                outside.settimeout(1)
                outside.connect((address, port))
        leaked = subprocess.Popen(  # deliberately not managed: the namespace must end it
            [*namespace.exec_prefix(), "sleep", "60"], start_new_session=True
        )
        deadline = time.monotonic() + 5
        while leaked.pid not in namespace.pids() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert leaked.pid in namespace.pids()
        raise RuntimeError("body failed")
    assert leaked.wait(timeout=5) != 0
    assert not namespace.exists()


@pytest.mark.netns
def test_sweep_removes_only_namespaces_whose_creator_is_gone() -> None:
    require_netns()
    gone = subprocess.Popen(["true"])
    gone.wait()
    stale = f"bsw-{gone.pid}-deadbeef"
    subprocess.run(["ip", "netns", "add", stale], check=True)
    try:
        with NetworkNamespace() as alive:
            removed = sweep_stale_namespaces()
            assert stale in removed
            assert alive.name not in removed and alive.exists()
    finally:
        subprocess.run(["ip", "netns", "delete", stale], capture_output=True, check=False)
    assert (
        stale
        not in subprocess.run(
            ["ip", "netns", "list"], capture_output=True, text=True, check=True
        ).stdout
    )


def test_sizes_parse_in_binary_and_decimal_units() -> None:
    assert parse_size("256MiB") == 256 << 20
    assert parse_size("1GiB") == 1 << 30
    assert parse_size("8m") == 8 << 20
    assert parse_size("1.5KiB") == 1536
    assert parse_size("2MB") == 2_000_000
    with pytest.raises(ValueError, match="not a size"):
        parse_size("lots")
