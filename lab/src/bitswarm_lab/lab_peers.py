"""Which harness peer class runs each implementation in the lab, and how it is tuned for it.

The lab uses the interop harness's peers (`bitswarm_lab.peers`) with two adjustments:
bitswarm runs through `LoggedBitswarmPeer` so that its resume files stay in the run's folder
and its log (INFO, or DEBUG with `-v`) lands in the peer's stderr log for diagnosis; and
libtorrent's runner prints its status every 0.2 s, the lab's sampling period, instead of
every 0.1 s, since nine peers share two cores. aria2 and Transmission are used as they are.
`bitswarm-tcp` is bitswarm with `--transport tcp`: at its default (`both`, uTP raced with
TCP) bitswarm's peers in the lab talk uTP to one another, while the lab's libtorrent has uTP
off, so comparing the two programs over the same transport needs this one.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from .peers.aria2_peer import Aria2Peer
from .peers.base import Peer
from .peers.libtorrent_peer import LibtorrentPeer
from .peers.logged_bitswarm import LoggedBitswarmPeer
from .peers.process import LineHandler, ManagedProcess
from .peers.transmission_peer import TransmissionPeer

__all__ = [
    "LabBitswarmPeer",
    "LabBitswarmTcpPeer",
    "LabLibtorrentPeer",
    "VerboseLabBitswarmPeer",
    "lab_peer_class",
]


class LabBitswarmPeer(LoggedBitswarmPeer):
    """bitswarm with its INFO log in the peer's folder."""

    engine_log_level: ClassVar[str] = "INFO"


class VerboseLabBitswarmPeer(LoggedBitswarmPeer):
    """bitswarm with its DEBUG log (`bitswarm lab -v`): costs CPU at full speed."""

    engine_log_level: ClassVar[str] = "DEBUG"


class LabBitswarmTcpPeer(LabBitswarmPeer):
    """bitswarm over TCP only (`--transport tcp`, for `bitswarm seed` and `download`)."""

    program = "bitswarm-tcp"

    def _spawn(
        self, argv: list[str], *, on_line: LineHandler | None = None, cwd: Path | None = None
    ) -> ManagedProcess:
        return super()._spawn([*argv, "--transport", "tcp"], on_line=on_line, cwd=cwd)


class LabLibtorrentPeer(LibtorrentPeer):
    status_interval: ClassVar[float] = 0.2


def lab_peer_class(impl: str, *, verbose: bool = False) -> type[Peer]:
    """The Peer class for implementation `impl` (one of swarm_plan.IMPLEMENTATIONS)."""
    match impl:
        case "bitswarm":
            return VerboseLabBitswarmPeer if verbose else LabBitswarmPeer
        case "bitswarm-tcp":
            return LabBitswarmTcpPeer
        case "libtorrent":
            return LabLibtorrentPeer
        case "aria2":
            return Aria2Peer
        case "transmission":
            return TransmissionPeer
    raise ValueError(f"unknown implementation {impl!r}")
