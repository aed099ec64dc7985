"""bitswarm-lab: real BitTorrent peers in network namespaces, measured (its own distribution).

`bitswarm lab` (command.py, plugged into bitswarm's command line through the entry-point
group ``bitswarm.commands``) builds a swarm of real peer programs (bitswarm, libtorrent,
aria2, Transmission), each in a network namespace of its own on a bridge, with `tc` rate
limits, and measures how close the swarm comes to the Kumar–Ross minimum distribution time.
The peers harness (`bitswarm_lab.peers`) is also what the interop tests and the benchmarks
use; `dht_net` is an in-memory DHT network in virtual time for the DHT tests and benchmark.

The lab ships apart from bitswarm (lab/ in the source tree: `pip install ./lab`) because it
runs subprocesses, opens sockets in namespaces, shapes traffic with `tc` and plots with
matplotlib, none of which a user of the client needs; nothing in bitswarm imports it.
Import submodules directly; this module stays empty.
"""

from __future__ import annotations
