"""One seeder-to-leecher transfer between any two harness peers, measured and checked.

Shared by the interop tests and bench/transfer_bench.py, so both set peers up the same way:
1. a network namespace when asked or when a peer needs one (Transmission), one address for
   the tracker, the seeder and the leecher each; otherwise everyone on 127.0.0.1;
2. opentracker, when the leecher cannot be told to dial the seeder (aria2, Transmission);
3. the seeder, waited for until it has verified its data (and the tracker has heard it);
4. the leecher, timed from its start() to verified completion, its CPU and peak memory
   taken at that moment;
5. the leecher's files compared byte for byte with the seeder's, before it is stopped.
Everything started is stopped and the namespace deleted on the way out, even on failure.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from .aria2_peer import Aria2Peer
from .base import Endpoint, HarnessError, Peer, PeerSpec, Role
from .bitswarm_peer import BitswarmBufferedPeer, BitswarmDirectPeer, BitswarmPeer
from .libtorrent_peer import LibtorrentPeer
from .netns import NetworkNamespace, free_port
from .opentracker import Opentracker
from .torrent_files import TorrentFile, files_identical
from .transmission_peer import TransmissionPeer

__all__ = ["PEER_CLASSES", "TransferResult", "run_transfer"]

PEER_CLASSES: dict[str, type[Peer]] = {
    "bitswarm": BitswarmPeer,
    "bitswarm-direct": BitswarmDirectPeer,  # bitswarm download --direct-io (the default)
    "bitswarm-buffered": BitswarmBufferedPeer,  # bitswarm download --no-direct-io
    "libtorrent": LibtorrentPeer,
    "aria2": Aria2Peer,
    "transmission": TransmissionPeer,
}

_LOOPBACK = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class TransferResult:
    seeder: str
    leecher: str
    size: int
    seconds: float  # leecher start() to verified completion
    cpu_seconds: float  # the leecher's, at completion
    peak_rss_bytes: int  # the leecher's, at completion
    netns: bool
    seeder_ready_seconds: float

    @property
    def mb_per_s(self) -> float:
        """Megabytes (10**6 bytes) per second."""
        return self.size / self.seconds / 1e6


def _same_content(expected: Path, actual: Path) -> bool:
    if expected.is_file():
        return files_identical(expected, actual)
    wanted = sorted(path.relative_to(expected) for path in expected.rglob("*") if path.is_file())
    return all(files_identical(expected / rel, actual / rel) for rel in wanted)


def run_transfer(
    seeder_class: type[Peer],
    leecher_class: type[Peer],
    torrent: TorrentFile,
    seed_dir: Path,
    workdir: Path,
    *,
    use_netns: bool = False,
    timeout: float = 60.0,
    verify: bool = True,
    before_leecher: Callable[[], object] | None = None,
    encryption: str = "",
) -> TransferResult:
    """Seed `seed_dir/<torrent name>` with one program, download it with another.

    `before_leecher` runs once the seeder is ready, just before the leecher starts (the
    benchmarks use it to put the machine's free memory in the same state for every run).
    `encryption` is both peers' MSE level (`PeerSpec.encryption`).

    Raises HarnessError (with both peers' status and log tails) when a peer fails or the
    transfer does not finish within `timeout` seconds, or when the bytes differ.
    """
    netns_needed = use_netns or seeder_class.needs_netns or leecher_class.needs_netns
    with ExitStack() as stack:
        namespace: NetworkNamespace | None = None
        if netns_needed:
            namespace = stack.enter_context(NetworkNamespace())
        ns_name = namespace.name if namespace else None

        def new_endpoint() -> Endpoint:
            host = namespace.add_address() if namespace else _LOOPBACK
            return Endpoint(host, free_port(host, ns_name))

        tracker: Opentracker | None = None
        if not leecher_class.dials_peers:
            tracker_host = namespace.add_address() if namespace else _LOOPBACK
            tracker = stack.enter_context(
                Opentracker(
                    workdir / "tracker",
                    host=tracker_host,
                    netns=ns_name,
                    info_hashes=(torrent.info_hash,),
                )
            )
        announce = tracker.announce_url if tracker else None

        seed_spec = PeerSpec(
            Role.SEED, torrent.path, seed_dir, workdir / "seeder", new_endpoint(),
            tracker=announce, netns=ns_name, encryption=encryption,
        )  # fmt: skip
        seeder = stack.enter_context(seeder_class(seed_spec))
        ready = seeder.wait_complete(timeout)
        if tracker is not None:
            tracker.wait_for_peers(torrent.info_hash, 1, timeout=15)

        if before_leecher is not None:
            before_leecher()
        leech_dir = workdir / "leecher-data"
        leech_spec = PeerSpec(
            Role.LEECH, torrent.path, leech_dir, workdir / "leecher", new_endpoint(),
            peers=(seed_spec.listen,), tracker=announce, netns=ns_name, encryption=encryption,
        )  # fmt: skip
        leecher = stack.enter_context(leecher_class(leech_spec))
        try:
            seconds = leecher.wait_complete(timeout)
        except HarnessError as exc:
            raise HarnessError(f"{exc}\n--- the seeder:\n{seeder.describe()}") from exc
        usage = leecher.usage_at_completion
        assert usage is not None
        # Compared while the leecher still runs: "complete" must mean the bytes are in the
        # file already, not that a clean shutdown will write them.
        if verify and not _same_content(seed_dir / torrent.name, leech_dir / torrent.name):
            raise HarnessError(
                f"{leecher_class.program} reported completion but its copy of {torrent.name} "
                f"differs from what {seeder_class.program} seeded\n{leecher.describe()}"
            )
    return TransferResult(
        seeder=seeder_class.program,
        leecher=leecher_class.program,
        size=torrent.total_size,
        seconds=seconds,
        cpu_seconds=usage.cpu_seconds,
        peak_rss_bytes=usage.peak_rss_bytes,
        netns=netns_needed,
        seeder_ready_seconds=ready,
    )
