"""bitswarm's own engine as a harness peer, driven through its command line.

The contract (what the engine's CLI promises):

    bitswarm seed TORRENT DATA_PATH --port P --bind ADDR [--peer HOST:PORT ...]
                  [--tracker URL] --json
    bitswarm download TORRENT -o DIR --no-seed --port P --bind ADDR [--peer HOST:PORT ...]
                  [--tracker URL] --json

JSON progress lines on stdout; `download --no-seed` exits 0 once every piece is verified.
A leecher with `seed_after` runs `download --seed-time 24h` instead and stays as a seed.
DATA_PATH is taken to be the torrent's content (`data_dir/<name>`), DIR the folder that
receives it. The line format is not fixed yet, so it is read tolerantly: progress is a
`progress` fraction (or percent), else a known done/total pair. A seeder is ready when a
line's `event` or `state` says "seeding", "ready" or "complete", or progress reaches 1; a
leecher is done when a line says "complete" (or "completed", "finished", "done"), or when
the process exits 0, or (`seed_after`) when a note says "download complete" or a status
line says "seeding" at progress 1.
"""

from __future__ import annotations

import compileall
import functools
import subprocess
import sys
from pathlib import Path
from typing import Any

from .base import HarnessError, Peer, PeerSpec, PeerStatus, Role
from .process import JsonLineFeed, ManagedProcess
from .torrent_files import load_torrent

__all__ = ["BitswarmBufferedPeer", "BitswarmDirectPeer", "BitswarmPeer"]

_LEECH_DONE = frozenset({"complete", "completed", "finished", "done"})
_SEED_READY = _LEECH_DONE | {"seeding", "ready"}
_PAIRS = (
    ("pieces_done", "num_pieces"),
    ("done_bytes", "total_bytes"),
    ("verified_pieces", "num_pieces"),
    ("pieces_verified", "pieces_total"),
    ("have", "total"),
    ("verified_bytes", "total_bytes"),
    ("done", "total"),
)


def bitswarm_command() -> list[str]:
    """How to run the `bitswarm` CLI of the environment running the harness."""
    script = Path(sys.executable).with_name("bitswarm")
    if script.exists():
        return [str(script)]
    code = "import sys; from bitswarm.cli.main import main; sys.exit(main())"
    return [sys.executable, "-c", code]


@functools.cache
def _missing_commands() -> str | None:
    for command in ("seed", "download"):
        try:
            probe = subprocess.run(
                [*bitswarm_command(), command, "--help"],
                capture_output=True,
                text=True,
                timeout=60,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"cannot run the bitswarm CLI: {exc}"
        if probe.returncode != 0:
            said = (probe.stderr.strip().splitlines() or ["(no message)"])[-1]
            return (
                f"`bitswarm {command}` does not exist yet (the engine has not landed?): "
                f"`bitswarm {command} --help` exited {probe.returncode}: {said}"
            )
    return None


@functools.cache
def _compile_bitswarm() -> None:
    """Compile bitswarm's modules to bytecode once, before any peer starts, as installing
    the package does. Without it, a source checkout run with PYTHONDONTWRITEBYTECODE set
    compiles every module again in every peer: about 0.55 CPU seconds each, which eight
    leechers starting at once on two cores pay in wall time before their first request."""
    import bitswarm

    compileall.compile_dir(Path(bitswarm.__file__).parent, quiet=2, workers=1)


def _progress_of(record: dict[str, Any]) -> float | None:
    value = record.get("progress")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) / 100.0 if value > 1.0 else float(value)
    for done_key, total_key in _PAIRS:
        done, total = record.get(done_key), record.get(total_key)
        if isinstance(done, int) and isinstance(total, int) and total > 0:
            return done / total
    return None


def _says(words: frozenset[str], record: dict[str, Any]) -> bool:
    return any(str(record.get(key, "")).lower() in words for key in ("event", "state"))


def _download_complete(record: dict[str, Any]) -> bool:
    """The line a downloader that goes on seeding prints once every piece is verified."""
    if _says(_LEECH_DONE, record):
        return True
    if record.get("event") == "note":
        return str(record.get("message", "")).startswith("download complete")
    return str(record.get("state")) == "seeding" and (_progress_of(record) or 0.0) >= 1.0


class BitswarmPeer(Peer):
    """The `bitswarm seed` / `bitswarm download` commands, one process per peer."""

    program = "bitswarm"
    download_options: tuple[str, ...] = ()  # extra `bitswarm download` options

    def __init__(self, spec: PeerSpec) -> None:
        super().__init__(spec)
        self._feed = JsonLineFeed()
        self._progress = 0.0

    @classmethod
    def unavailable_reason(cls) -> str | None:
        missing = _missing_commands()
        if missing is None:
            _compile_bitswarm()
        return missing

    def _launch(self) -> ManagedProcess:
        spec = self.spec
        common = ["--port", str(spec.listen.port), "--bind", spec.listen.host, "--json"]
        for peer in spec.peers:
            common += ["--peer", str(peer)]
        if spec.tracker:
            common += ["--tracker", spec.tracker]
        if spec.encryption:
            common += ["--encryption", spec.encryption]
        if spec.role is Role.SEED:
            content = spec.data_dir / load_torrent(spec.torrent).name
            argv = [*bitswarm_command(), "seed", str(spec.torrent), str(content), *common]
        else:
            stay = ["--seed-time", "24h"] if spec.seed_after else ["--no-seed"]
            argv = [
                *bitswarm_command(), "download", str(spec.torrent),
                "-o", str(spec.data_dir), *stay, *self.download_options, *common,
            ]  # fmt: skip
        return self._spawn(argv, on_line=self._feed.feed)

    def _query(self) -> PeerStatus:
        failed = self._feed.first(lambda record: bool(record.get("error")))
        if failed is not None:
            self._fail(HarnessError, f"reported an error: {failed[1].get('error')}")
        latest = self._feed.latest()
        progress = _progress_of(latest)
        if progress is not None:
            self._progress = progress
        if self.spec.role is Role.SEED:
            said_done = self._feed.first(
                lambda record: _says(_SEED_READY, record) or (_progress_of(record) or 0.0) >= 1.0
            )
        else:  # a leecher's progress 1.0 may still count unverified bytes: wait for the word
            said_done = self._feed.first(_download_complete)
        detail = f"last line: {latest}" if latest else "no JSON line yet"
        if said_done is not None:
            return PeerStatus(1.0, True, detail, completed_at=said_done[0])
        if self.spec.role is Role.LEECH and self._require_process().poll() == 0:
            return PeerStatus(1.0, True, "exited 0: every piece verified")
        return PeerStatus(self._progress, False, detail)


class BitswarmDirectPeer(BitswarmPeer):
    """`bitswarm download --direct-io`: pieces written past the page cache (O_DIRECT; the
    default since issue 15, so the flag only says so)."""

    program = "bitswarm-direct"
    download_options = ("--direct-io",)


class BitswarmBufferedPeer(BitswarmPeer):
    """`bitswarm download --no-direct-io`: pieces written through the page cache."""

    program = "bitswarm-buffered"
    download_options = ("--no-direct-io",)
