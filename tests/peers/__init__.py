"""A harness that runs real BitTorrent peers for interop tests and the transfer benchmark.

The modules it shares with `bitswarm lab` now live in `bitswarm.lab.peers` (a product tool
cannot import from tests/); the files of the same names here re-export them. What only the
tests use (multi_file_torrents.py, tracked_transfer.py) stays here.

Each program is one `Peer` subclass with the same interface (base.py): libtorrent
(`lt_runner.py` in a child process), aria2, Transmission (needs a network namespace,
netns.py) and bitswarm's own CLI. opentracker.py supplies a tracker for the peers that
cannot be told whom to dial; transfer.py wires a seeder, a leecher and maybe a tracker
together, times the download and checks the bytes.

Import the submodules directly (`from tests.peers.transfer import run_transfer`): this
module stays empty so that importing the package never imports libtorrent or pytest.
"""

from __future__ import annotations
