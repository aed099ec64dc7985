"""One seeder-to-leecher transfer in which the peers find each other only through opentracker.

`transfer.run_transfer` starts a tracker only for leechers that cannot dial, and hands every
leecher the seeder's address. The engine interop tests want more: that bitswarm and each real
program meet through a real tracker, as they would in the wild. So here
1. everyone runs on 127.0.0.1; or in one network namespace (Transmission needs one) with
   an address each for the tracker, the seeder and the leecher; or, `bridged`, each in a
   namespace of its own on a bridge (bridged_hosts.py), like hosts on a LAN;
2. opentracker whitelists the torrent's hashes (v1, and the truncated v2 of a hybrid);
3. the seeder announces to it; we wait until it has verified its data, the tracker counts it,
   and the tracker lists it at the address it listens on (a peer announcing from another
   source address is unreachable to everyone: better said at once than as a stall);
4. the leecher gets the tracker and no address to dial: it must learn the seeder from the
   tracker. It is timed from start() to verified completion, and to its first progress;
   a leecher whose progress stands still for `stall` seconds fails early, with both logs;
5. the torrent's real files (pad files excluded) are compared byte for byte, while the
   leecher still runs.
Everything is stopped and the namespace deleted on the way out, even on failure.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from bitswarm.bencode import bdecode
from bitswarm_lab.peers.base import Endpoint, HarnessError, Peer, PeerSpec, PeerTimeoutError, Role
from bitswarm_lab.peers.bridged_hosts import BridgedHosts
from bitswarm_lab.peers.http_rpc import http_request
from bitswarm_lab.peers.netns import NetworkNamespace, free_port
from bitswarm_lab.peers.opentracker import Opentracker

from .multi_file_torrents import TorrentUnderTest, differing_files

__all__ = ["TrackedResult", "run_tracked_transfer", "tracker_peers"]

_LOOPBACK = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class TrackedResult:
    seeder: str
    leecher: str
    size: int  # bytes of real files
    seconds: float  # leecher start() to verified completion
    first_progress_seconds: float | None  # leecher start() to its first reported progress
    seeder_ready_seconds: float  # seeder start() to verified data
    leecher_cpu_seconds: float
    network: str  # "loopback", "namespace" (one, an address per peer) or "bridged"

    @property
    def mb_per_s(self) -> float:
        return self.size / self.seconds / 1e6


def tracker_peers(tracker: Opentracker, info_hash: str) -> list[Endpoint]:
    """The peers opentracker hands out for `info_hash`, by a probe announce it then withdraws.

    The probe is a leecher on port 1 (so the tracker lists everyone else); opentracker's
    compact reply (BEP 23) is 6 bytes a peer.
    """
    fields: dict[str, str | int | bytes] = {
        "info_hash": bytes.fromhex(info_hash),
        "peer_id": b"-HARNESS-LISTING-000",
        "port": 1,
        "uploaded": 0,
        "downloaded": 0,
        "left": 1,
        "numwant": 200,
        "compact": 1,
    }

    def announce(extra: dict[str, str | int | bytes]) -> bytes:
        query = urllib.parse.urlencode({**fields, **extra})
        reply = http_request(
            tracker.host, tracker.http_port, "GET", f"/announce?{query}", netns=tracker.netns
        )
        return reply.body

    decoded = bdecode(announce({}), strict=False)
    announce({"event": "stopped"})
    peers = decoded.get(b"peers") if isinstance(decoded, dict) else None
    if not isinstance(peers, bytes):
        raise HarnessError(f"opentracker's reply has no compact peer list: {decoded!r}")
    found = []
    for at in range(0, len(peers) - 5, 6):
        host = ".".join(str(octet) for octet in peers[at : at + 4])
        port = int.from_bytes(peers[at + 4 : at + 6], "big")
        if port != 1:  # our own probe
            found.append(Endpoint(host, port))
    return found


def run_tracked_transfer(
    seeder_class: type[Peer],
    leecher_class: type[Peer],
    subject: TorrentUnderTest,
    seed_dir: Path,
    workdir: Path,
    *,
    use_netns: bool = False,
    bridged: bool = False,
    timeout: float = 60.0,
    stall: float = 25.0,
    encryption: str = "",
) -> TrackedResult:
    """Seed `seed_dir/<name>` with one program, download it with another via opentracker.

    Raises HarnessError (with both peers' status and log tails) when a peer fails, the
    tracker lists the seeder elsewhere than where it listens, the leecher stalls or times
    out, or the leecher's files differ from the seeder's.
    """
    torrent = subject.torrent
    netns_needed = use_netns or seeder_class.needs_netns or leecher_class.needs_netns
    network = "bridged" if bridged else "namespace" if netns_needed else "loopback"
    with ExitStack() as stack:
        new_host = _network(stack, network)

        def new_endpoint() -> tuple[str | None, Endpoint]:
            ns_name, host = new_host()
            return ns_name, Endpoint(host, free_port(host, ns_name))

        tracker_ns, tracker_at = new_endpoint()
        tracker = stack.enter_context(
            Opentracker(
                workdir / "tracker",
                host=tracker_at.host,
                netns=tracker_ns,
                info_hashes=subject.tracker_hashes,
            )
        )
        seed_ns, seed_at = new_endpoint()
        seed_spec = PeerSpec(
            Role.SEED, torrent.path, seed_dir, workdir / "seeder", seed_at,
            tracker=tracker.announce_url, netns=seed_ns, encryption=encryption,
        )  # fmt: skip
        seeder = stack.enter_context(seeder_class(seed_spec))
        ready = seeder.wait_complete(timeout)
        tracker.wait_for_peers(torrent.info_hash, 1, timeout=15)
        listed = tracker_peers(tracker, torrent.info_hash)
        if seed_spec.listen not in listed:
            raise HarnessError(
                f"opentracker lists {[str(peer) for peer in listed]} for {torrent.info_hash}, "
                f"but the {seeder.program} seeder listens on {seed_spec.listen}: it announced "
                f"from another source address, so no leecher can reach it\n{seeder.describe()}"
            )

        leech_dir = workdir / "leecher-data"
        leech_ns, leech_at = new_endpoint()
        leech_spec = PeerSpec(
            Role.LEECH, torrent.path, leech_dir, workdir / "leecher", leech_at,
            tracker=tracker.announce_url, netns=leech_ns, encryption=encryption,
        )  # fmt: skip
        started = time.monotonic()
        leecher = stack.enter_context(leecher_class(leech_spec))
        try:
            seconds, first = _wait(leecher, started, timeout, stall)
        except HarnessError as exc:
            raise HarnessError(f"{exc}\n--- the seeder:\n{seeder.describe()}") from exc
        usage = leecher.usage_at_completion
        assert usage is not None
        differ = differing_files(subject, seed_dir, leech_dir)
        if differ:
            raise HarnessError(
                f"{leecher.program} reported completion but its copies of {differ} differ "
                f"from what {seeder.program} seeded\n{leecher.describe()}"
            )
    size = sum(entry.length for entry in subject.files if not entry.pad)
    return TrackedResult(
        seeder=seeder.program,
        leecher=leecher.program,
        size=size,
        seconds=seconds,
        first_progress_seconds=first,
        seeder_ready_seconds=ready,
        leecher_cpu_seconds=usage.cpu_seconds,
        network=network,
    )


def _network(stack: ExitStack, network: str) -> Callable[[], tuple[str | None, str]]:
    """A maker of (namespace or None, address) for each participant, torn down by `stack`."""
    if network == "bridged":
        hosts = stack.enter_context(BridgedHosts())

        def bridged_host() -> tuple[str | None, str]:
            host = hosts.add_host()
            return host.netns, host.address

        return bridged_host
    if network == "namespace":
        namespace = stack.enter_context(NetworkNamespace())
        return lambda: (namespace.name, namespace.add_address())
    return lambda: (None, _LOOPBACK)


def _wait(
    leecher: Peer, started: float, timeout: float, stall: float
) -> tuple[float, float | None]:
    """Poll until complete: (seconds to completion, seconds to first progress or None)."""
    first: float | None = None
    last_progress, last_change = 0.0, started
    while True:
        status = leecher.poll()
        now = time.monotonic()
        if status.progress > 0 and first is None:
            first = now - started
        if status.progress != last_progress:
            last_progress, last_change = status.progress, now
        if status.complete:
            return leecher.wait_complete(0), first
        problem = None
        if now - started > timeout:
            problem = f"not complete after {timeout:.0f} s"
        elif now - last_change > stall:
            problem = f"stalled: progress {last_progress:.3f} unchanged for {stall:.0f} s"
        if problem is not None:
            raise PeerTimeoutError(f"{leecher!r} {problem}\n{leecher.describe()}")
        time.sleep(0.05)
