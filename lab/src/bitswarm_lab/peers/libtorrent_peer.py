"""libtorrent (the engine inside qBittorrent and Deluge) as a harness peer.

The session runs in a child process, `python -m bitswarm_lab.peers.lt_runner`, so its CPU
time and memory are its own and it can run inside a network namespace; it reports progress
as JSON lines.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable
from typing import Any, ClassVar

from .base import Peer, PeerSpec, PeerStatus
from .process import JsonLineFeed, ManagedProcess

__all__ = ["LibtorrentPeer"]

_RUNNER_MODULE = "bitswarm_lab.peers.lt_runner"


def _is_event(name: str) -> Callable[[dict[str, Any]], bool]:
    return lambda record: record.get("event") == name


class LibtorrentPeer(Peer):
    """libtorrent 2.x through its Python bindings, in `lt_runner.py`.

    `status_interval` is how often the runner prints a status line (seconds).
    """

    program = "libtorrent"
    status_interval: ClassVar[float] = 0.1

    def __init__(self, spec: PeerSpec) -> None:
        super().__init__(spec)
        self._feed = JsonLineFeed()

    @classmethod
    def unavailable_reason(cls) -> str | None:
        if importlib.util.find_spec("libtorrent") is None:
            return "the Python module 'libtorrent' is not installed (pip install libtorrent)"
        return None

    def _launch(self) -> ManagedProcess:
        spec = self.spec
        args = {
            "role": spec.role.value,
            "torrent": str(spec.torrent),
            "save_path": str(spec.data_dir),
            "listen": str(spec.listen),
            "peers": [str(peer) for peer in spec.peers],
            "tracker": spec.tracker,
            "status_interval": self.status_interval,
            "upload_limit": spec.upload_limit,
            "encryption": spec.encryption,
        }
        # -u: unbuffered, so each line arrives when printed even if a flush were missed.
        argv = [sys.executable, "-u", "-m", _RUNNER_MODULE, json.dumps(args)]
        return self._spawn(argv, on_line=self._feed.feed)

    def _query(self) -> PeerStatus:
        error = self._feed.first(_is_event("error"))
        if error is not None:
            return PeerStatus(detail=f"error: {error[1].get('message')}")
        done = self._feed.first(_is_event("complete"))
        if done is not None:
            return PeerStatus(1.0, True, "complete", completed_at=done[0])
        latest = self._feed.last(_is_event("status"))
        if latest is None:
            return PeerStatus(detail="starting")
        detail = (
            f"state={latest.get('state')} peers={latest.get('peers')} "
            f"down={latest.get('download_rate')} B/s up={latest.get('upload_rate')} B/s"
        )
        return PeerStatus(float(latest.get("progress", 0.0)), False, detail)
