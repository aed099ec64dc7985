"""LEDBAT yields (issue 13): a uTP transfer and a plain TCP copy share a rate-limited link.

Two hosts on a bridge (lab `ShapedNetwork`, one namespace each). The receiver's download
is an htb class at `RATE` on the bridge's port to it -- a router's queue; on the sender's
own qdisc TCP Small Queues would keep TCP's part of the FIFO tiny -- with a byte FIFO
holding `QUEUE_SECONDS` of traffic, far more than LEDBAT's 100 ms target: a uTP sender
that ignored delay would fill it to 400 ms as the TCP sender does. The TCP sender uses
CUBIC, Linux's default (this machine defaults to BBR, which keeps queues short and so
would not show whether uTP yields to a queue-filling flow). A bitswarm `Session` seeds on
the sender host and one downloads on the receiver host, both with ``transport="utp"``,
each on an event loop in its namespace (`bitswarm_lab.peers.netns_loop`). A UDP echo
across the same link measures the queue: there is no netem here, so the path's own delay
is a fraction of a millisecond and a ping's round trip is the time it spent in the FIFO.

1. uTP alone: it fills most of the link while the queue stays near the 100 ms target
   (the pings' median, and the seeder's `UtpSocket` LEDBAT delay beside it);
2. a TCP copy (Python sockets, not bitswarm) starts beside it: once TCP has grown, TCP gets
   at least `TCP_SHARE` of what crosses the link, the uTP flow backing off to a trickle.
   LEDBAT's decrease is linear (at most `GAIN` x off-target bytes a round trip), so the
   uTP window takes seconds to shrink: the shares are measured after `SHARED_WARMUP`.
"""

from __future__ import annotations

import os
import socket
import statistics
import struct
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bitswarm.create import create_torrent
from bitswarm.metainfo import parse_torrent
from bitswarm.session import Session, SessionConfig, TorrentRuntime
from bitswarm.utp import UtpSocket
from bitswarm_lab.peers.netns import open_socket
from bitswarm_lab.peers.netns_loop import NamespaceLoop
from bitswarm_lab.shaped_network import ShapedNetwork, shaping_unavailable_reason

from .tools import missing

MiB = 2**20
RATE = 10_000_000  # bits/s of the shared link
QUEUE_SECONDS = 0.4  # the FIFO in front of it
TARGET = 0.100  # LEDBAT's target delay (libtorrent's utp_target_delay)
ALONE_SECONDS = 9.0  # uTP alone: slow start, then LEDBAT settles
SHARED_WARMUP = 4  # TCP's slow start and uTP's back-off
SHARED_SECONDS = 8  # the window in which the shares are measured
TCP_SHARE = 0.70
PING_INTERVAL = 0.05


@dataclass
class Pinger:
    """UDP echo probes from the sender host to the receiver host, across the shaped link."""

    client: socket.socket
    server: socket.socket
    target: tuple[str, int]
    samples: list[tuple[float, float]] = field(default_factory=list)  # (sent at, rtt)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for work in (self._echo, self._probe, self._collect):
            self.threads.append(threading.Thread(target=work, daemon=True))
            self.threads[-1].start()

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(5)

    def _echo(self) -> None:
        self.server.settimeout(0.2)
        while not self.stop.is_set():
            try:
                data, addr = self.server.recvfrom(64)
            except TimeoutError:
                continue
            self.server.sendto(data, addr)

    def _probe(self) -> None:
        while not self.stop.wait(PING_INTERVAL):
            self.client.sendto(struct.pack("!d", time.monotonic()), self.target)

    def _collect(self) -> None:
        self.client.settimeout(0.2)
        while not self.stop.is_set():
            try:
                data = self.client.recv(64)
            except TimeoutError:
                continue
            sent = struct.unpack("!d", data)[0]
            self.samples.append((sent, time.monotonic() - sent))

    def median_between(self, start: float, end: float) -> float:
        rtts = [rtt for at, rtt in self.samples if start <= at < end]
        assert rtts, f"no ping came back between {start:.1f} and {end:.1f}"
        return statistics.median(rtts)


@dataclass
class TcpCopy:
    """A bulk TCP transfer from a plain socket sender to a plain socket receiver."""

    sender: socket.socket
    listener: socket.socket
    received: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self, address: tuple[str, int]) -> None:
        self.listener.settimeout(10)
        self.threads.append(threading.Thread(target=self._receive, daemon=True))
        self.threads[-1].start()
        self.sender.connect(address)
        self.sender.settimeout(0.2)
        self.threads.append(threading.Thread(target=self._send, daemon=True))
        self.threads[-1].start()

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(5)

    def _receive(self) -> None:
        conn, _ = self.listener.accept()
        conn.settimeout(0.2)
        buf = bytearray(256 * 1024)
        with conn:
            while not self.stop.is_set():
                try:
                    n = conn.recv_into(buf)
                except TimeoutError:
                    continue
                if not n:
                    return
                self.received += n

    def _send(self) -> None:
        chunk = memoryview(os.urandom(256 * 1024))
        while not self.stop.is_set():
            try:
                self.sender.send(chunk)
            except TimeoutError:
                continue
            except OSError:
                return  # the receiver closed first


def _seeder_socket(seeder: Session) -> UtpSocket | None:
    manager = seeder.utp
    if manager is None or not manager.conns:
        return None
    return next(iter(manager.conns.values())).core


def _sample(host: NamespaceLoop, rt: TorrentRuntime) -> tuple[float, int]:
    """(now, payload bytes the leecher has downloaded), read on the leecher's loop."""

    async def downloaded() -> int:
        return rt.status().downloaded

    return time.monotonic(), host.run(downloaded(), 10)


async def _transports(rt: TorrentRuntime) -> set[str]:
    return {p.transport for p in rt.peers()}


def _rate(a: tuple[float, int], b: tuple[float, int]) -> float:
    """Bytes/s between two (time, bytes) samples."""
    return (b[1] - a[1]) / (b[0] - a[0])


@pytest.mark.timeout(120)
def test_ledbat_yields_to_tcp_and_keeps_the_queue_near_target(tmp_path: Path) -> None:
    reason = shaping_unavailable_reason()
    if reason is not None:
        missing(reason)
    content = tmp_path / "seed" / "payload.bin"
    content.parent.mkdir()
    content.write_bytes(os.urandom(64 * MiB))  # more than the test moves at RATE
    meta = parse_torrent(create_torrent(content, piece_length=256 * 1024, version="v1"))
    link_bytes_per_s = RATE / 8

    with ShapedNetwork() as net, ExitStack() as sockets:
        sender = net.add_host()
        receiver = net.add_host(down_bps=RATE, queue_seconds=QUEUE_SECONDS)
        with NamespaceLoop(sender.netns) as a, NamespaceLoop(receiver.netns) as b:

            async def start(host: str) -> Session:
                s = Session(SessionConfig(listen_host=host, listen_port=0, transport="utp"))
                await s.start()
                return s

            seeder = a.run(start(sender.address))
            leecher = b.run(start(receiver.address))
            pinger = tcp = None
            try:
                a.run(seeder.add(meta, content.parent))
                rt = b.run(
                    leecher.add(
                        meta, tmp_path / "leech", peers=[(sender.address, seeder.listen_port)]
                    )
                )
                echo = sockets.enter_context(open_socket(receiver.netns, kind=socket.SOCK_DGRAM))
                echo.bind((receiver.address, 0))
                probe = sockets.enter_context(open_socket(sender.netns, kind=socket.SOCK_DGRAM))
                probe.bind((sender.address, 0))
                pinger = Pinger(probe, echo, echo.getsockname())
                pinger.start()

                deadline = time.monotonic() + 20
                while _sample(b, rt)[1] == 0:
                    assert time.monotonic() < deadline, "the uTP transfer never started"
                    time.sleep(0.05)
                transports = b.run(_transports(rt))
                assert transports == {"utp"}, transports

                # 1. uTP alone: the last half of the phase, after slow start
                begun = time.monotonic()
                time.sleep(ALONE_SECONDS / 2)
                alone_from = _sample(b, rt)
                ledbat_delays = []
                while time.monotonic() < begun + ALONE_SECONDS:
                    core = _seeder_socket(seeder)
                    if core is not None:
                        ledbat_delays.append(core.cc.delay)
                    time.sleep(0.1)
                alone_to = _sample(b, rt)
                alone_rate = _rate(alone_from, alone_to)
                alone_queue = pinger.median_between(alone_from[0], alone_to[0])
                ledbat_delay = statistics.median(ledbat_delays)

                # 2. a TCP copy beside it
                listener = sockets.enter_context(open_socket(receiver.netns))
                listener.bind((receiver.address, 0))
                listener.listen(1)
                tcp_sender = sockets.enter_context(open_socket(sender.netns))
                tcp_sender.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b"cubic")
                tcp = TcpCopy(tcp_sender, listener)
                tcp.start(listener.getsockname())
                tcp_begun = time.monotonic()
                series = []  # uTP MB/s each second, from TCP's start
                last = _sample(b, rt)
                for second in range(1, SHARED_WARMUP + SHARED_SECONDS + 1):
                    time.sleep(max(0.0, tcp_begun + second - time.monotonic()))
                    now = _sample(b, rt)
                    series.append(round(_rate(last, now) / 1e6, 2))
                    core = _seeder_socket(seeder)
                    if core is not None:
                        series.append(round(core.cc.cwnd / 1e3))
                    if second == SHARED_WARMUP:
                        utp_from, tcp_from = now, (now[0], tcp.received)
                    last = now
                utp_to, tcp_to = last, (last[0], tcp.received)
                shared_queue = pinger.median_between(utp_from[0], utp_to[0])
            finally:
                for flow in (pinger, tcp):
                    if flow is not None:
                        flow.close()
                b.run(leecher.close())
                a.run(seeder.close())

    utp_rate, tcp_rate = _rate(utp_from, utp_to), _rate(tcp_from, tcp_to)
    share = tcp_rate / (tcp_rate + utp_rate)
    figures = (
        f"link {link_bytes_per_s / 1e6:.2f} MB/s; uTP alone {alone_rate / 1e6:.2f} MB/s with "
        f"queue {alone_queue * 1e3:.0f} ms (pings), LEDBAT delay {ledbat_delay * 1e3:.0f} ms; "
        f"shared: TCP {tcp_rate / 1e6:.2f} MB/s, uTP {utp_rate / 1e6:.2f} MB/s, "
        f"TCP share {share:.1%}, queue {shared_queue * 1e3:.0f} ms; "
        f"uTP MB/s and cwnd kB each second from TCP's start: {series}"
    )
    print(figures)
    # alone, uTP uses the link without filling its 400 ms queue: about the target
    assert alone_rate >= 0.6 * link_bytes_per_s, figures
    assert 0.3 * TARGET <= alone_queue <= 1.6 * TARGET, figures
    # beside TCP, it yields: TCP takes most of the link
    assert share >= TCP_SHARE, figures
    assert tcp_rate >= 0.6 * link_bytes_per_s, figures
