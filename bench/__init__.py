"""bitswarm's benchmarks, run from the repository root as ``python -m bench TARGET [ARGS]``.

`python -m bench` lists the targets (__main__.py). Grouped by topic:
- codec/: the bencode codec against compiled ones (`bencode`), and the big torrent it
  decodes (`big-torrent`);
- core.py: the wire and torrent core's cost per block, without sockets (`core`);
- network/: the DHT, magnet links and the tracker on loopback (`dht`, `magnet`, `tracker`);
- transfer/: one seeder, one leecher, real programs (`transfer`);
- perf/: the Performance issue's targets P1, P2, P3, P5 and P6 (`perf`);
- swarm_lab.py: swarm efficiency in network namespaces, P4 (`swarm-lab`);
- sweep/: T_all for 1..32 leechers, peer-to-peer and client-server (`sweep`).

Real peers come from the bitswarm-lab distribution (`bitswarm_lab.peers`), installed next
to bitswarm (`pip install -e . -e ./lab`). Results are written into bench/RESULTS.md;
payloads, logs and plots go to bench/out/ (not committed).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["BENCH", "OUT", "REPO"]

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
OUT = BENCH / "out"
