"""Test "hosts": one network namespace per peer, one address each, joined by a Linux bridge.

`netns.NetworkNamespace` puts every peer in one namespace with an address each on `lo`. That
is enough for programs that bind their outgoing sockets to their own address, but a program
that does not (it leaves the choice to the kernel) then talks from whichever address the
kernel picks, usually the destination's own. Here each peer is alone in its namespace, behind
a veth pair plugged into a bridge in a hub namespace, like hosts on one LAN: its only address
is the source of everything it sends. The topology, with N = 1, 2, ...:

    host namespace N: eth0 = 10.78.0.N/24  <-veth->  hub namespace: vethN, enslaved to br0

Namespaces are `netns.NetworkNamespace` objects (named `bsw-<pid>-<hex>`, so the stale sweep
knows them). Everything else lives inside them: the bridge and the hub-side veths in the hub
namespace, `eth0` and its 10.78.0.N address in each host's, so two topologies built at once
(two lab runs, two xdist workers) share no name and no address. Leaving the context kills
every process inside each one and deletes them all, hosts first, even when the body failed.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from types import TracebackType

from .netns import NetworkNamespace

__all__ = ["BridgedHosts", "Host"]

_SUBNET = "10.78.0."
_BRIDGE = "br0"


@dataclass(frozen=True, slots=True)
class Host:
    """A peer's namespace and address; `hub_link` is its veth end on the bridge (hub side)."""

    netns: str
    address: str
    hub_link: str = ""
    link: str = "eth0"  # the host's own end of the veth pair


def _ip(*args: str) -> None:
    reply = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10, check=False)
    if reply.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {reply.stderr.strip()}")


class BridgedHosts:
    """A hub namespace with a bridge, and `add_host()` for each peer (see the module doc)."""

    def __init__(self) -> None:
        self._hub = NetworkNamespace()
        self._hosts: list[NetworkNamespace] = []

    def __enter__(self) -> BridgedHosts:
        self._hub.create()
        try:
            _ip("-n", self._hub.name, "link", "add", _BRIDGE, "type", "bridge")
            _ip("-n", self._hub.name, "link", "set", _BRIDGE, "up")
        except BaseException:
            self.delete()
            raise
        return self

    def add_host(self) -> Host:
        """A new namespace with address 10.78.0.N on its eth0, plugged into the bridge."""
        if len(self._hosts) >= 250:
            raise RuntimeError("out of host addresses")
        number = len(self._hosts) + 1
        namespace = NetworkNamespace()
        namespace.create()
        self._hosts.append(namespace)
        hub_side = f"veth{number}"
        address = f"{_SUBNET}{number}"
        _ip("-n", self._hub.name, "link", "add", hub_side, "type", "veth",
            "peer", "name", "eth0", "netns", namespace.name)  # fmt: skip
        _ip("-n", self._hub.name, "link", "set", hub_side, "master", _BRIDGE)
        _ip("-n", self._hub.name, "link", "set", hub_side, "up")
        _ip("-n", namespace.name, "addr", "add", f"{address}/24", "dev", "eth0")
        _ip("-n", namespace.name, "link", "set", "eth0", "up")
        return Host(namespace.name, address, hub_side)

    def confine(self, host: Host, reachable: list[str]) -> None:
        """Let `host` reach only the `reachable` addresses on the bridge: its route to the
        whole subnet is replaced by one route per address, so a connection to any other
        host fails at once (ENETUNREACH) on its side, in both directions."""
        for address in reachable:
            _ip("-n", host.netns, "route", "add", f"{address}/32", "dev", host.link)
        _ip("-n", host.netns, "route", "del", f"{_SUBNET}0/24", "dev", host.link)

    @property
    def hub_netns(self) -> str:
        """The namespace that holds the bridge and every host's hub-side veth."""
        return self._hub.name

    @property
    def names(self) -> tuple[str, ...]:
        """Every namespace this topology made: the hub first."""
        return (self._hub.name, *(host.name for host in self._hosts))

    def delete(self) -> None:
        for namespace in (*self._hosts, self._hub):
            namespace.delete()  # kills what runs inside; a veth dies with either end
        self._hosts.clear()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.delete()
