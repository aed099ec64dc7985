"""Hosts on a bridge, each with its own upload and download rate, shaped by `tc htb`.

The lab's network is `BridgedHosts` (one namespace per peer, a veth pair into a bridge in a
hub namespace) plus rate limits, as a home link would have them:

    peer namespace: eth0 --egress htb at `up`-->  [veth]  --> hub: vethN --> br0 --> others
    peer namespace: eth0 <--  [veth]  <--egress htb at `down`-- hub: vethN <-- br0

Upload is shaped where the peer's packets leave it (its eth0); download where packets for it
leave the bridge (the hub-side vethN), since an ingress policer would drop instead of queue
and an IFB device may not exist. Each shaped link is an htb class whose rate equals its ceil
(nothing to borrow), with a byte FIFO behind it holding about 100 ms of traffic: enough for
TCP to keep the link full without seconds of bufferbloat. tc rates count IP packets, headers
included, so a peer's payload rate is a few percent under its configured rate. (This kernel
has no netem, fq or fq_codel: no delay emulation and no fair queueing inside one link.)
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from types import TracebackType

from .peers.bridged_hosts import BridgedHosts, Host
from .peers.netns import netns_unavailable_reason
from .rates import format_rate, tc_rate

__all__ = ["ShapedHost", "ShapedNetwork", "TcError", "shaping_unavailable_reason", "tc_commands"]

_QUEUE_SECONDS = 0.1
_MIN_QUEUE_BYTES = 128 * 1024  # smaller starves BBR at a few Mbit/s (measured: 2.5 of 5)
_QUANTUM = 60000  # bytes a round; the htb default (rate / r2q) is "big" above ~10 Mbit/s


class TcError(RuntimeError):
    """`ip` or `tc` refused a command while the network was being built."""


@dataclass(frozen=True, slots=True)
class ShapedHost:
    host: Host
    up_bps: int | None
    down_bps: int | None

    @property
    def netns(self) -> str:
        return self.host.netns

    @property
    def address(self) -> str:
        return self.host.address

    def describe(self) -> str:
        return f"{self.address} up {format_rate(self.up_bps)} down {format_rate(self.down_bps)}"


def shaping_unavailable_reason() -> str | None:
    """Why the lab's network cannot be built here, or None."""
    reason = netns_unavailable_reason()
    if reason is not None:
        return reason
    if shutil.which("tc") is None:
        return "the `tc` program (iproute2) is not installed"
    return None


def tc_commands(
    device: str, bits_per_second: int, queue_seconds: float = _QUEUE_SECONDS
) -> list[list[str]]:
    """The `tc` argv lists (without `ip netns exec`) that limit `device`'s egress, with a
    FIFO holding `queue_seconds` of traffic at that rate."""
    rate = tc_rate(bits_per_second)
    queue = max(_MIN_QUEUE_BYTES, int(bits_per_second / 8 * queue_seconds))
    return [
        ["tc", "qdisc", "replace", "dev", device, "root", "handle", "1:", "htb", "default", "1"],
        ["tc", "class", "add", "dev", device, "parent", "1:", "classid", "1:1", "htb",
         "rate", rate, "ceil", rate, "quantum", str(_QUANTUM)],
        ["tc", "qdisc", "add", "dev", device, "parent", "1:1", "handle", "10:",
         "bfifo", "limit", str(queue)],
    ]  # fmt: skip


def _run_in(netns: str, argv: list[str]) -> None:
    reply = subprocess.run(
        ["ip", "netns", "exec", netns, *argv],
        capture_output=True, text=True, timeout=10, check=False,
    )  # fmt: skip
    if reply.returncode != 0:
        raise TcError(f"{' '.join(argv)} in {netns}: {reply.stderr.strip()}")


class ShapedNetwork:
    """A bridge and rate-limited hosts; leaving the context removes every namespace."""

    def __init__(self) -> None:
        self._bridge = BridgedHosts()
        self.hosts: list[ShapedHost] = []

    def __enter__(self) -> ShapedNetwork:
        reason = shaping_unavailable_reason()
        if reason is not None:
            raise TcError(f"cannot build the lab network: {reason}")
        self._bridge.__enter__()
        return self

    def add_host(
        self,
        *,
        up_bps: int | None = None,
        down_bps: int | None = None,
        queue_seconds: float = _QUEUE_SECONDS,
    ) -> ShapedHost:
        """A new namespace on the bridge, its upload and download limited (None: not),
        each shaped link's queue holding `queue_seconds` of traffic."""
        host = self._bridge.add_host()
        if up_bps is not None:
            for argv in tc_commands(host.link, up_bps, queue_seconds):
                _run_in(host.netns, argv)
        if down_bps is not None:
            for argv in tc_commands(host.hub_link, down_bps, queue_seconds):
                _run_in(self._bridge.hub_netns, argv)
        shaped = ShapedHost(host, up_bps, down_bps)
        self.hosts.append(shaped)
        return shaped

    def confine(self, host: ShapedHost, reachable: list[ShapedHost]) -> None:
        """`host` can exchange packets with the `reachable` hosts only (BridgedHosts.confine):
        the client-server baseline, where leechers cannot serve one another."""
        self._bridge.confine(host.host, [other.address for other in reachable])

    @property
    def names(self) -> tuple[str, ...]:
        """Every namespace made so far, the hub first."""
        return self._bridge.names

    def close(self) -> None:
        self._bridge.delete()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
