"""A harness that runs real BitTorrent peers, for the lab, interop tests and benchmarks.

Each program is one `Peer` subclass with the same interface (base.py): libtorrent
(`lt_runner.py` in a child process, `python -m bitswarm_lab.peers.lt_runner`), aria2,
Transmission (needs a network namespace, netns.py) and bitswarm's own CLI. opentracker.py
supplies a tracker for the peers that cannot be told whom to dial; transfer.py wires a
seeder, a leecher and maybe a tracker together, times the download and checks the bytes.

Import the submodules directly (`from bitswarm_lab.peers.transfer import run_transfer`):
this module stays empty so that importing the package never imports libtorrent.
"""

from __future__ import annotations
