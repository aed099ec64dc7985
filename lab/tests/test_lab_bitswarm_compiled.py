"""bitswarm peers start from compiled modules, as an installed bitswarm does.

A source checkout run with PYTHONDONTWRITEBYTECODE set (as CI and some shells do) would
compile every bitswarm module again in every lab peer: about 0.55 CPU seconds each, paid
in wall time by eight leechers starting at once on two cores, before their first request.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import bitswarm.swarm.swarm_drain as a_module
from bitswarm_lab.peers.bitswarm_peer import BitswarmPeer, _compile_bitswarm


def test_checking_for_bitswarm_compiles_its_modules() -> None:
    cached = importlib.util.cache_from_source(a_module.__file__ or "")
    pyc = Path(cached)
    pyc.unlink(missing_ok=True)
    _compile_bitswarm.cache_clear()
    assert BitswarmPeer.unavailable_reason() is None
    assert pyc.is_file()
