"""bitswarm lab: real BitTorrent peers in network namespaces, measured (an L4 front-end tool).

`bitswarm lab` builds a swarm of real peer programs (bitswarm, libtorrent, aria2,
Transmission), each in a network namespace of its own on a bridge, with `tc` rate limits, and
measures how close the swarm comes to the Kumar–Ross minimum distribution time. The peers
harness (`bitswarm.lab.peers`) is also what the interop tests and transfer benchmark use.

Nothing in layers L0–L3 may import this package: it runs subprocesses, opens sockets in
namespaces and shapes traffic with `tc`. Import submodules directly; this module stays empty.
"""

from __future__ import annotations
