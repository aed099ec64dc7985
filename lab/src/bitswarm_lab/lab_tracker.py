"""The lab's tracker: Debian's opentracker, or bitswarm's own `bitswarm tracker`.

Every lab peer finds the others through the tracker, as in the wild (aria2 and Transmission
cannot be told whom to dial anyway). Both trackers are driven through `Opentracker`'s
interface: a whitelist of the torrent's info-hash (opentracker refuses all others; bitswarm's
`--whitelist` does the same), `announce_url`, and `wait_for_peers` through the HTTP scrape,
so the leechers start only once every seeder is listed.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from .peers.bitswarm_peer import bitswarm_command
from .peers.opentracker import Opentracker

__all__ = ["BitswarmTracker", "make_tracker", "tracker_unavailable_reason"]

_WHITELIST = "whitelist.txt"  # the file Opentracker writes into its workdir


class BitswarmTracker(Opentracker):
    """`bitswarm tracker --http H:P --udp H:P --whitelist FILE`, memory store, one worker."""

    name: ClassVar[str] = "bitswarm-tracker"

    @staticmethod
    def unavailable_reason() -> str | None:
        return None  # the CLI of this very package

    def _command(self) -> list[str]:
        return [
            *bitswarm_command(), "tracker",
            "--http", f"{self.host}:{self.http_port}",
            "--udp", f"{self.host}:{self.udp_port}",
            "--whitelist", str(self.workdir / _WHITELIST),
            "--log-level", "warning",
        ]  # fmt: skip


def tracker_unavailable_reason(kind: str) -> str | None:
    return (
        BitswarmTracker.unavailable_reason()
        if kind == "bitswarm"
        else (Opentracker.unavailable_reason())
    )


def make_tracker(kind: str, workdir: Path, *, host: str, netns: str, info_hash: str) -> Opentracker:
    """A tracker of `kind` ("opentracker" or "bitswarm") that allows `info_hash`; not started."""
    cls = BitswarmTracker if kind == "bitswarm" else Opentracker
    return cls(workdir, host=host, netns=netns, info_hashes=(info_hash,))
