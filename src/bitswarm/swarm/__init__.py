"""Swarm policy (L1, pure): the piece picker, the choker, rate meters and request pipelining.

Rate limits (token buckets) are `bitswarm.ratelimit`.

None of these hold a connection or read a clock: peers are opaque hashable keys, time is a
`now: float` argument and randomness an injected `random.Random`. The torrent core
(`bitswarm.core.torrent`) feeds them peer events and acts on their answers.
"""

from __future__ import annotations

from .choker import ChokeDecision, Choker, PeerStats, SeedingAlgorithm
from .picker import BLOCK_SIZE, DEFAULT_PRIORITY, Block, PiecePicker, PieceState
from .rate import RateMeter
from .request_queue import RequestQueueSizer, desired_queue_depth

__all__ = [
    "BLOCK_SIZE",
    "DEFAULT_PRIORITY",
    "Block",
    "ChokeDecision",
    "Choker",
    "PeerStats",
    "PiecePicker",
    "PieceState",
    "RateMeter",
    "RequestQueueSizer",
    "SeedingAlgorithm",
    "desired_queue_depth",
]
