"""``python -m bench TARGET [ARGS]``: run one benchmark; ``python -m bench`` lists them.

Run from the repository root (so that `bench` is importable) in the venv that has bitswarm
and bitswarm-lab installed. Each target is a module with a ``main(argv) -> int``; only the
chosen one is imported, so a target's heavy imports (libtorrent, the lab) cost the others
nothing. ``python -m bench TARGET --help`` gives the target's own options.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

__all__ = ["TARGETS", "main"]

# target -> (module, what it measures)
TARGETS: dict[str, tuple[str, str]] = {
    "bencode": ("bench.codec.bencode", "bencode decode/encode against bencode2 and fastbencode"),
    "big-torrent": ("bench.codec.big_torrent", "write the ~10 MB torrent the bencode bench uses"),
    "core": ("bench.core", "µs per 16 KiB block through the wire and torrent core, no sockets"),
    "dht": ("bench.network.dht", "DHT lookups: bitswarm against libtorrent, and simulated"),
    "dhtsim": ("bench.network.dhtsim.run", "the DHT at internet scale: 10,000 nodes, virtual time"),
    "magnet": ("bench.network.magnet", "magnet link to first piece: bitswarm against libtorrent"),
    "tracker": ("bench.network.tracker", "tracker announces per second: bitswarm, opentracker"),
    "tracker-cluster": ("bench.network.tracker_cluster", "the tracker on a Redis Cluster"),
    "transfer": ("bench.transfer.one_to_one", "one seeder, one leecher, real programs"),
    "perf": ("bench.perf.targets", "performance targets P1, P2, P3, P5, P6 (p1 ... p6, all)"),
    "leecher-profile": ("bench.perf.leecher_profile", "where a download's CPU goes (P3's profile)"),
    "daemon": ("bench.daemon", "the daemon with N torrents: start-up, idle CPU, RPC, web UI"),
    "swarm-lab": ("bench.swarm_lab", "swarm efficiency P4 in network namespaces (root)"),
    "sweep": ("bench.sweep.run", "T_all for 1..32 leechers: p2p, client-server, Kumar–Ross (root)"),
    "mse": ("bench.mse", "encrypted (MSE, RC4) download from libtorrent vs the plain one"),
    "fuzz": ("bench.fuzz.run", "coverage-guided fuzzing of every parser (atheris): TARGET|all"),
    "stream": ("bench.stream", "streaming a video while it downloads: first byte, seek, stalls"),
    "utp": ("bench.utp", "uTP downloads, bitswarm beside libtorrent: loopback and behind tc"),
}


def usage() -> str:
    width = max(map(len, TARGETS))
    rows = [f"  {name:<{width}}  {what}" for name, (_, what) in TARGETS.items()]
    return "\n".join(
        ["usage: python -m bench TARGET [ARGS]   (TARGET --help for its options)", "", *rows]
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0 if args else 2
    target, rest = args[0], args[1:]
    if target not in TARGETS:
        print(f"python -m bench: unknown target {target!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(TARGETS[target][0])
    run: Callable[[list[str]], int] = module.main
    return run(rest)


if __name__ == "__main__":
    sys.exit(main())
