"""BEP 14 local service discovery: codec vectors, hostile datagrams, the announce policy,
and two real `aio.lsd.LsdService`s finding each other over multicast (on loopback, or in a
network namespace this test makes when loopback multicast does not work)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitswarm.aio.lsd import LsdService
from bitswarm.errors import LocalProtocolError
from bitswarm.ext.lsd import (
    LSD_HOST4,
    LSD_HOST6,
    MAX_SEND_SIZE,
    LsdAnnounce,
    LsdAnnouncer,
    LsdFormatError,
    LsdPeer,
    decode_announce,
    encode_announce,
)

IH1 = bytes.fromhex("0123456789abcdef0123456789abcdef01234567")
IH2 = bytes(range(20))
IN_CI = os.environ.get("CI") == "true"

# ---- codec ------------------------------------------------------------------------------


def test_encode_vector() -> None:
    data = encode_announce(LsdAnnounce(6881, (IH1,), "c00k1e"))
    assert data == (
        b"BT-SEARCH * HTTP/1.1\r\n"
        b"Host: 239.192.152.143:6771\r\n"
        b"Port: 6881\r\n"
        b"Infohash: 0123456789abcdef0123456789abcdef01234567\r\n"
        b"cookie: c00k1e\r\n"
        b"\r\n\r\n"
    )


def test_decode_a_libtorrent_style_announce() -> None:
    data = (
        b"BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 51413\r\n"
        b"Infohash: 0123456789ABCDEF0123456789ABCDEF01234567\r\ncookie: 7f3a\r\n\r\n\r\n"
    )
    assert decode_announce(data) == LsdAnnounce(51413, (IH1,), "7f3a", LSD_HOST4)


def test_decode_several_hashes_ipv6_host_unknown_headers_any_case() -> None:
    data = (
        b"BT-SEARCH * HTTP/1.1\r\nHOST: [FF15::EFC0:988F]:6771\r\nX-Other: whatever\r\n"
        b"port:6881\r\ninfohash: "
        + IH1.hex().encode()
        + b"\r\nInfohash: "
        + IH2.hex().encode()
        + b"\r\nInfohash: "
        + IH1.hex().encode()
        + b"\r\n\r\n"
    )
    assert decode_announce(data) == LsdAnnounce(6881, (IH1, IH2), None, LSD_HOST6)


@given(
    port=st.integers(1, 65535),
    hashes=st.lists(st.binary(min_size=20, max_size=20), min_size=1, max_size=20, unique=True),
    cookie=st.none()
    | st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=64),
    host=st.sampled_from([LSD_HOST4, LSD_HOST6]),
)
def test_round_trip(port: int, hashes: list[bytes], cookie: str | None, host: str) -> None:
    announce = LsdAnnounce(port, tuple(hashes), cookie, host)
    assert decode_announce(encode_announce(announce)) == announce


GOOD = encode_announce(LsdAnnounce(6881, (IH1,), "abc"))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 1\r\n",  # no end
        GOOD.replace(b"BT-SEARCH", b"M-SEARCH"),
        GOOD.replace(b"HTTP/1.1", b"HTTP/1.0"),
        GOOD.replace(b"\r\n", b"\n"),
        GOOD.replace(b"Port: 6881", b"Port: 0"),
        GOOD.replace(b"Port: 6881", b"Port: 65536"),
        GOOD.replace(b"Port: 6881", b"Port: -1"),
        GOOD.replace(b"Port: 6881", b"Port: 0x10"),
        GOOD.replace(b"Port: 6881", b"Port: 6881\r\nPort: 6882"),
        GOOD.replace(b"Port: 6881\r\n", b""),
        GOOD.replace(b"Host: 239.192.152.143:6771", b"Host: 10.0.0.1:6771"),
        GOOD.replace(b"Host: 239.192.152.143:6771\r\n", b""),
        GOOD.replace(IH1.hex().encode(), IH1.hex().encode()[:-1]),
        GOOD.replace(IH1.hex().encode(), b"g" * 40),
        GOOD.replace(b"Infohash: " + IH1.hex().encode() + b"\r\n", b""),
        GOOD.replace(b"cookie: abc", b"cookie: " + b"x" * 65),
        GOOD.replace(b"cookie: abc", b"cookie: a\x01b"),
        GOOD.replace(b"cookie: abc", b"cookie: a\r\ncookie: b"),
        GOOD.replace(b"abc", "ä".encode()),
        GOOD.replace(b"Port: 6881", b"Port 6881"),
        GOOD.replace(b"Port: 6881", b"Bad Name: 1"),
        GOOD.replace(b"Port: 6881\r\n", b"Port: 6881\r\n" + b"X: y\r\n" * 200),
        GOOD + b"x" * 9000,
    ],
)
def test_malformed_announces_are_refused(data: bytes) -> None:
    with pytest.raises(LsdFormatError):
        decode_announce(data)


@given(st.binary(max_size=600))
def test_arbitrary_bytes_raise_only_the_format_error(data: bytes) -> None:
    try:
        decode_announce(data)
    except LsdFormatError:
        pass


@given(st.integers(0, len(GOOD) - 1), st.integers(0, 255))
def test_one_changed_byte_parses_or_raises_the_format_error(pos: int, value: int) -> None:
    data = bytearray(GOOD)
    data[pos] = value
    try:
        decode_announce(bytes(data))
    except LsdFormatError:
        pass


def test_encoder_refuses_misuse() -> None:
    for bad in (
        LsdAnnounce(0, (IH1,)),
        LsdAnnounce(1, ()),
        LsdAnnounce(1, (b"short",)),
        LsdAnnounce(1, (IH1,), "sp ace"),
    ):
        with pytest.raises(LocalProtocolError):
            encode_announce(bad)


# ---- announcer policy -------------------------------------------------------------------


def test_each_torrent_at_most_once_per_five_minutes_one_datagram_a_minute() -> None:
    lsd = LsdAnnouncer(listen_port=6881, cookie="me")
    assert lsd.get_timer() is None and lsd.datagrams_to_send(now=0.0) == []
    lsd.add_torrent(IH1, now=0.0)
    assert lsd.get_timer() == 0.0
    [first] = lsd.datagrams_to_send(now=0.0)
    assert decode_announce(first) == LsdAnnounce(6881, (IH1,), "me")
    assert lsd.datagrams_to_send(now=1.0) == []
    lsd.add_torrent(IH2, now=10.0)
    assert lsd.get_timer() == 60.0  # due at 10, but the one-a-minute gap holds it
    assert lsd.datagrams_to_send(now=59.9) == []
    [second] = lsd.datagrams_to_send(now=60.0)
    assert decode_announce(second).info_hashes == (IH2,)
    assert lsd.get_timer() == 300.0
    assert lsd.datagrams_to_send(now=299.0) == []
    [third] = lsd.datagrams_to_send(now=300.0)
    assert decode_announce(third).info_hashes == (IH1,)
    lsd.remove_torrent(IH1)
    lsd.remove_torrent(IH2)
    assert lsd.get_timer() is None


def test_many_torrents_share_datagrams_of_at_most_1400_bytes() -> None:
    lsd = LsdAnnouncer(listen_port=6881, cookie="c" * 64)
    hashes = [bytes([i]) * 20 for i in range(60)]
    for h in hashes:
        lsd.add_torrent(h, now=0.0)
    sent: list[bytes] = []
    for minute in range(5):
        sent += lsd.datagrams_to_send(now=60.0 * minute)
    assert all(len(d) <= MAX_SEND_SIZE for d in sent)
    assert len(sent) == 3 and len(decode_announce(sent[0]).info_hashes) > 20
    announced = [h for d in sent for h in decode_announce(d).info_hashes]
    assert sorted(announced) == sorted(hashes)  # each exactly once


def test_receiving_ignores_our_cookie_foreign_torrents_and_repeats() -> None:
    lsd = LsdAnnouncer(listen_port=6881, cookie="me")
    lsd.add_torrent(IH1, now=0.0)
    src = ("192.168.1.7", 6771)
    ours = encode_announce(LsdAnnounce(6881, (IH1,), "me"))
    theirs = encode_announce(LsdAnnounce(7000, (IH2, IH1), "them"))
    assert lsd.receive(ours, ("127.0.0.1", 6771), now=1.0) == []
    assert lsd.receive(theirs, src, now=1.0) == [LsdPeer(IH1, ("192.168.1.7", 7000))]
    assert lsd.receive(theirs, src, now=30.0) == []  # the same peer again within a minute
    assert lsd.receive(theirs, src, now=61.5) == [LsdPeer(IH1, ("192.168.1.7", 7000))]
    assert lsd.receive(b"garbage", src, now=62.0) == [] and lsd.malformed == 1
    assert lsd.receive(theirs, ("0.0.0.0", 6771), now=63.0) == []  # nobody to dial
    assert lsd.receive(theirs, ("not an ip", 6771), now=63.0) == []
    lsd.remove_torrent(IH1)
    assert lsd.receive(theirs, ("192.168.1.8", 6771), now=200.0) == []


def test_announcer_refuses_misuse() -> None:
    with pytest.raises(LocalProtocolError):
        LsdAnnouncer(listen_port=1, cookie="")
    with pytest.raises(LocalProtocolError):
        LsdAnnouncer(listen_port=1, cookie="x", host="239.0.0.1:1")
    with pytest.raises(LocalProtocolError):
        LsdAnnouncer(listen_port=1, cookie="x").add_torrent(b"x" * 32, now=0.0)


# ---- the asyncio driver -----------------------------------------------------------------


def test_no_multicast_is_one_line_not_a_crash(caplog: pytest.LogCaptureFixture) -> None:
    async def run() -> None:
        # 203.0.113.77 (TEST-NET-3) is no local interface: joining the group there fails.
        service = LsdService(
            listen_port=6881,
            on_peer=lambda h, a: None,
            interface="203.0.113.77",
            port=_free_udp_port(),
        )
        service.add_torrent(IH1)
        assert await service.start() is False
        assert not service.running
        assert service.error is not None and "\n" not in service.error
        assert "LSD" in service.error and "203.0.113.77" in service.error
        service.close()
        service.close()

    with caplog.at_level(logging.WARNING, logger="bitswarm.aio.lsd"):
        asyncio.run(run())
    assert len(caplog.records) == 1


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def find_each_other(interface: str, port: int, wait: float = 5.0) -> str | None:
    """Two services in this process announce one shared torrent (and one each of their
    own); None when each found exactly the other for the shared one, else what failed."""
    shared, only_a, only_b = (secrets.token_bytes(20) for _ in range(3))
    seen: dict[str, list[tuple[bytes, tuple[str, int]]]] = {"a": [], "b": []}
    both = asyncio.Event()

    def finder(me: str) -> Callable[[bytes, tuple[str, int]], None]:
        def on_peer(info_hash: bytes, addr: tuple[str, int]) -> None:
            seen[me].append((info_hash, addr))
            if seen["a"] and seen["b"]:
                both.set()

        return on_peer

    services = [
        LsdService(
            listen_port=40001 + i, on_peer=finder(me), interface=interface, port=port, min_gap=0.0
        )
        for i, me in enumerate("ab")
    ]
    a, b = services
    try:
        for service in services:
            if not await service.start():
                return service.error
        a.add_torrent(shared)
        a.add_torrent(only_a)
        b.add_torrent(shared)
        b.add_torrent(only_b)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await both.wait()
        await asyncio.sleep(0.2)  # anything extra (our own echo, a repeat) would show now
    finally:
        a.close()
        b.close()
    want = {"a": [(shared, ("127.0.0.1", 40002))], "b": [(shared, ("127.0.0.1", 40001))]}
    return None if seen == want else f"found {seen}, wanted {want}"


def test_two_services_find_each_other_over_multicast() -> None:
    problem = asyncio.run(find_each_other("127.0.0.1", _free_udp_port()))
    if problem is None:
        return
    # Loopback multicast does not work here: do it in a namespace with a multicast route.
    with _namespace(f"loopback multicast failed ({problem})") as name:
        _run_in_namespace(name)


def test_two_services_find_each_other_in_a_network_namespace() -> None:
    """The real port and group, the kernel's own route choice (interface 0.0.0.0)."""
    with _namespace("namespaces are the fallback for hosts without loopback multicast") as name:
        _run_in_namespace(name)


def _run_in_namespace(name: str) -> None:
    code = (  # `python -c` imports from its working folder: this test's own
        "import asyncio, sys; import test_lsd; "
        "r = asyncio.run(test_lsd.find_each_other('0.0.0.0', 6771)); "
        "print(r or 'OK'); sys.exit(0 if r is None else 1)"
    )
    result = subprocess.run(
        ["ip", "netns", "exec", name, sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=Path(__file__).resolve().parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "OK"


@contextlib.contextmanager
def _namespace(why: str) -> Iterator[str]:
    """A fresh network namespace with `lo` up and a route for 239.0.0.0/8; always removed.
    Without root or `ip`, the test skips, except under CI=true where it fails."""
    reason = None
    if shutil.which("ip") is None:
        reason = "the `ip` program is not installed"
    elif os.geteuid() != 0:
        reason = "network namespaces need root"
    name = f"bswlsd-{os.getpid()}-{secrets.token_hex(3)}"
    if reason is None:
        made = subprocess.run(
            ["ip", "netns", "add", name], capture_output=True, text=True, timeout=10
        )
        if made.returncode != 0:
            reason = f"`ip netns add` failed: {made.stderr.strip()}"
    if reason is not None:
        message = f"{why}; cannot make a network namespace: {reason}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    try:
        # `src`: without it announces leave from 0.0.0.0 (lo's 127.0.0.1 is host-scoped),
        # and a receiver has nobody to dial.
        route = ["ip", "route", "add", "239.0.0.0/8", "dev", "lo", "src", "127.0.0.1"]
        for command in (["ip", "link", "set", "lo", "up"], route):
            subprocess.run(
                ["ip", "netns", "exec", name, *command], check=True, capture_output=True, timeout=10
            )
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], capture_output=True, timeout=10)


@settings(max_examples=30)
@given(st.binary(max_size=200))
def test_the_driver_survives_garbage(data: bytes) -> None:
    found: list[object] = []
    service = LsdService(listen_port=1, on_peer=lambda h, a: found.append(h))
    service.add_torrent(IH1)
    service._received(data, ("10.0.0.1", 6771))
    assert found == []
