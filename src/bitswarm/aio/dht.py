"""asyncio driver for the DHT: UDP sockets around `DhtNode` cores, and an async API.

Thin by design (aioquic's transmit/timer pattern): after every input (a datagram, the
timer, a command) the endpoint flushes `datagrams_to_send`, dispatches `events()` to
waiting futures, and re-arms ONE `loop.call_at(node.get_timer())`. The core's clock
is `loop.time()`.

IPv6 (BEP 32): one `DhtNode` per address family, on its own socket, both with the same
node id and paired so each can answer BEP 32 ``want`` with the other's nodes. BEP 32
describes exactly this ("conceptually equivalent to a pair of single-protocol nodes",
two routing tables); a single dual-stack socket would mix the two tables' addresses.
`get_peers` and `announce` run on every family and merge the results.

The state file (BEP 5: save the routing table) is read at `start` and written by
`close`; a corrupt file is logged and ignored, never fatal. A process claims its state
file first (`state_claim`): when another process holds it, this one takes a sibling file
and so an id of its own.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import cast

from ..dht import (
    AnnounceDone,
    BootstrapDone,
    DhtConfig,
    DhtEvent,
    DhtNode,
    DhtStateError,
    DhtStatus,
    LookupDone,
    PeerAnnounced,
    PeersFound,
    PingDone,
)
from ..dht.krpc import Addr
from ..errors import BitswarmError
from ..readlimit import MAX_STATE_FILE, InputTooLarge, read_limited
from .state_claim import StateClaim, claim_state_file

__all__ = ["DhtBindError", "DhtEndpoint", "DhtService"]

log = logging.getLogger("bitswarm.dht")

_Done = LookupDone | AnnounceDone | BootstrapDone | PingDone


class DhtBindError(BitswarmError):
    """The DHT could not open its UDP socket (port in use, address not ours, ...)."""


class DhtEndpoint(asyncio.DatagramProtocol):
    """One UDP socket feeding one `DhtNode`; resolves futures from its events."""

    def __init__(self, node: DhtNode, loop: asyncio.AbstractEventLoop) -> None:
        self.node = node
        self.loop = loop
        self.transport: asyncio.DatagramTransport | None = None
        self.address: Addr = ("", 0)
        self.waiters: dict[int, asyncio.Future[_Done]] = {}
        self.found: dict[int, list[Addr]] = {}  # peers seen so far by get_peers handles
        self.send_errors = 0
        self.on_event: Callable[[DhtEvent], None] | None = None  # sees every core event
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        sockname = transport.get_extra_info("sockname")
        self.address = (str(sockname[0]), int(sockname[1]))

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.node.receive_datagram(data, (str(addr[0]), int(addr[1])), now=self.loop.time())
        self.transmit()

    def error_received(self, exc: Exception) -> None:
        self.send_errors += 1  # e.g. an unreachable node; the query simply times out
        log.debug("DHT %s: socket error %s", self.address, exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for fut in self.waiters.values():
            if not fut.done():
                fut.cancel()
        self.waiters.clear()

    def wait(self, handle: int, *, collect_peers: bool = False) -> asyncio.Future[_Done]:
        """A future for the event that finishes command `handle`; with `collect_peers`,
        `PeersFound` for it are kept until `forget(handle)`."""
        fut: asyncio.Future[_Done] = self.loop.create_future()
        self.waiters[handle] = fut
        if collect_peers:
            self.found.setdefault(handle, [])
        self.transmit()
        return fut

    def forget(self, handle: int) -> list[Addr]:
        """Stop waiting for `handle` (cancelling it in the core); the peers seen so far."""
        self.waiters.pop(handle, None)
        self.node.cancel(handle)
        return self.found.pop(handle, [])

    def transmit(self) -> None:
        """Flush datagrams, dispatch events, re-arm the one timer."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        now = self.loop.time()
        for data, addr in self.node.datagrams_to_send(now=now):
            transport.sendto(data, addr)
        for event in self.node.events():
            self._dispatch(event)
        deadline = self.node.get_timer()
        if deadline != self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = deadline
            self._timer = self.loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        self.node.handle_timer(now=self.loop.time())
        self.transmit()

    def _dispatch(self, event: DhtEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)
        match event:
            case PeersFound(handle=handle, peers=peers):
                if handle in self.found:
                    self.found[handle].extend(peers)
            case PeerAnnounced(info_hash=info_hash, peer=peer):
                log.debug("DHT %s: %s announced %s", self.address, peer, info_hash.hex())
            case LookupDone() | AnnounceDone() | BootstrapDone() | PingDone():
                fut = self.waiters.pop(event.handle, None)
                if fut is not None and not fut.done():
                    fut.set_result(event)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class DhtService:
    """A DHT node on IPv4 (and IPv6 if asked), with an async API for the session and CLI."""

    def __init__(self, config: DhtConfig | None = None, *, state_path: Path | None = None,
                 rng: random.Random | None = None) -> None:  # fmt: skip
        self.config = config or DhtConfig()
        self.state_path = state_path  # after `start`: the file claimed, or None
        self._claim: StateClaim | None = None
        self._rng = rng or random.Random(int.from_bytes(os.urandom(16), "big"))
        self.endpoints: list[DhtEndpoint] = []
        self._bootstraps: list[tuple[DhtEndpoint, asyncio.Future[_Done]]] = []

    # --- life cycle ---------------------------------------------------------------------

    async def start(self, host: str = "0.0.0.0", port: int = 0, bootstrap: Iterable[Addr] = (),
                    *, host6: str | None = None, port6: int | None = None,
                    attach: Callable[[asyncio.DatagramProtocol], None] | None = None,
                    ) -> None:  # fmt: skip
        """Bind the socket(s), load saved state, and begin bootstrapping from `bootstrap`.

        `host` may be an IPv4 or IPv6 address; `host6` adds an IPv6 node (same id, port
        `port6`, default: the IPv4 port). Use `bootstrapped()` to wait for the first join.
        With `attach`, the first node opens no socket: `attach(endpoint)` gives it a shared
        one (the peer port's, which the uTP manager demultiplexes, as libtorrent does).

        Raises:
            DhtBindError: a socket could not be bound.
        """
        loop = asyncio.get_running_loop()
        saved = await asyncio.to_thread(self._claim_and_read)  # the disk is no loop's business
        families = [(host, port)]
        if host6 is not None:
            families.append((host6, port6 if port6 is not None else -1))
        node_id: bytes | None = None
        for bind_host, bind_port in families:
            family = 6 if ":" in bind_host else 4
            if bind_port == -1:
                bind_port = self.endpoints[0].address[1] if self.endpoints else 0
            cfg = _with_family(self.config, family)
            node = DhtNode(cfg, rng=random.Random(self._rng.getrandbits(64)), now=loop.time(),
                           node_id=node_id)  # fmt: skip
            if saved is not None:
                try:
                    node.load_state(saved, now=loop.time())
                except DhtStateError as exc:
                    log.warning("ignoring DHT state %s: %s", self.state_path, exc)
                    saved = None
            node_id = node.node_id
            if self.endpoints and self.endpoints[0].node.family != family:
                self.endpoints[0].node.pair(node)
            if attach is not None and not self.endpoints:
                endpoint = DhtEndpoint(node, loop)
                attach(endpoint)
                self.endpoints.append(endpoint)
                continue
            self.endpoints.append(await self._bind(node, bind_host, bind_port, loop))
        resolved = await self._resolve(list(bootstrap))
        for ep in self.endpoints:
            addrs = resolved.get(ep.node.family, [])
            handle = ep.node.bootstrap(addrs, now=loop.time())
            self._bootstraps.append((ep, ep.wait(handle)))

    async def _bind(self, node: DhtNode, host: str, port: int,
                    loop: asyncio.AbstractEventLoop) -> DhtEndpoint:  # fmt: skip
        family = socket.AF_INET6 if node.family == 6 else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            shown = f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"
            raise DhtBindError(f"cannot open the DHT port {shown}: {exc.strerror or exc}") from None
        _, protocol = await loop.create_datagram_endpoint(lambda: DhtEndpoint(node, loop),
                                                          sock=sock)  # fmt: skip
        return protocol

    async def _resolve(self, addrs: list[Addr]) -> dict[int, list[Addr]]:
        """Bootstrap names to addresses per family; a name that fails is logged, skipped."""
        loop = asyncio.get_running_loop()
        out: dict[int, list[Addr]] = {4: [], 6: []}
        for host, port in addrs:
            try:
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
            except OSError as exc:
                log.warning("DHT bootstrap %s:%d: %s", host, port, exc)
                continue
            for fam, _, _, _, sockaddr in infos:
                key = 6 if fam == socket.AF_INET6 else 4
                addr = (str(sockaddr[0]), int(sockaddr[1]))
                if addr not in out[key]:
                    out[key].append(addr)
        return out

    async def bootstrapped(self, timeout: float | None = None) -> int:  # noqa: ASYNC109
        """Wait (at most `timeout`) for the first bootstrap of every family; the good
        nodes the finished ones found. A timeout is not an error: joining goes on."""
        futs = [fut for _, fut in self._bootstraps]
        if futs:
            await asyncio.wait(futs, timeout=timeout)
        good = 0
        for fut in futs:
            if fut.done() and not fut.cancelled():
                done = fut.result()
                good += done.good_nodes if isinstance(done, BootstrapDone) else 0
        return good

    def close(self) -> None:
        """Save the state file (if any) and close the sockets, from synchronous code;
        on the event loop, `aclose` writes the file in a thread instead."""
        state = self._state_to_save()
        if state is not None:
            self._save_state(*state)
        self._close_sockets()
        self._release()

    async def aclose(self) -> None:
        """Save the state file (if any) in a thread, then close the sockets."""
        state = self._state_to_save()
        if state is not None:
            await asyncio.to_thread(self._save_state, *state)
        self._close_sockets()
        self._release()

    def _state_to_save(self) -> tuple[Path, bytes] | None:
        if self.state_path is None or not self.endpoints:
            return None
        return self.state_path, self.endpoints[0].node.save_state()

    @staticmethod
    def _save_state(path: Path, data: bytes) -> None:
        try:
            _atomic_write(path, data)
        except OSError as exc:
            log.warning("could not save DHT state to %s: %s", path, exc)

    def _close_sockets(self) -> None:
        for ep in self.endpoints:
            ep.close()
        self.endpoints = []

    async def __aenter__(self) -> DhtService:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _claim_and_read(self) -> bytes | None:
        if self.state_path is not None and self._claim is None:
            self._claim = claim_state_file(self.state_path)
            self.state_path = self._claim.path if self._claim is not None else None
        return self._read_state()

    def _release(self) -> None:
        if self._claim is not None:
            self._claim.release()
            self._claim = None

    def _read_state(self) -> bytes | None:
        if self.state_path is None:
            return None
        try:
            return read_limited(self.state_path, MAX_STATE_FILE, what="DHT state file")
        except FileNotFoundError:
            return None
        except (OSError, InputTooLarge) as exc:
            log.warning("cannot read DHT state %s: %s", self.state_path, exc)
            return None

    # --- the async API ------------------------------------------------------------------

    @property
    def node_id(self) -> bytes:
        return self.endpoints[0].node.node_id

    @property
    def addresses(self) -> list[Addr]:
        return [ep.address for ep in self.endpoints]

    def status(self) -> list[tuple[Addr, DhtStatus]]:
        now = asyncio.get_running_loop().time()
        return [(ep.address, ep.node.status(now=now)) for ep in self.endpoints]

    async def get_peers(self, info_hash: bytes, timeout: float = 30.0) -> list[Addr]:  # noqa: ASYNC109
        """Peers for `info_hash` from every family's lookup.

        At `timeout` the lookups stop and the peers found so far are returned (a partial
        answer is still useful, which `asyncio.timeout` around the call could not give).
        """
        now = asyncio.get_running_loop().time()
        started = [(ep, ep.node.get_peers(info_hash, now=now)) for ep in self.endpoints]
        futs = [ep.wait(handle, collect_peers=True) for ep, handle in started]
        await asyncio.wait(futs, timeout=timeout)
        peers: dict[Addr, None] = {}
        for ep, handle in started:
            peers.update(dict.fromkeys(ep.forget(handle)))
        return list(peers)

    async def announce(
        self,
        info_hash: bytes,
        port: int,
        *,
        implied_port: bool = False,
        timeout: float = 60.0,  # noqa: ASYNC109 - partial counts
    ) -> int:
        """Announce our peer on `port`; how many nodes stored it (0 if none by `timeout`)."""
        now = asyncio.get_running_loop().time()
        started = [(ep, ep.node.announce_peer(info_hash, port, now=now,
                                              implied_port=implied_port))
                   for ep in self.endpoints]  # fmt: skip
        futs = [ep.wait(handle) for ep, handle in started]
        await asyncio.wait(futs, timeout=timeout)
        stored = 0
        for (ep, handle), fut in zip(started, futs, strict=True):
            if fut.done() and not fut.cancelled() and isinstance(fut.result(), AnnounceDone):
                stored += cast(AnnounceDone, fut.result()).stored
            else:
                ep.forget(handle)
        return stored

    async def ping(self, addr: Addr) -> bytes | None:
        """The node id answering at `addr`, or None after the query timeout."""
        family = 6 if ":" in addr[0] else 4
        ep = next((e for e in self.endpoints if e.node.family == family), None)
        if ep is None:
            return None
        handle = ep.node.ping(addr, now=asyncio.get_running_loop().time())
        done = await ep.wait(handle)
        return done.node_id if isinstance(done, PingDone) else None


def _with_family(config: DhtConfig, family: int) -> DhtConfig:
    return config if config.family == family else replace(config, family=family)


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
