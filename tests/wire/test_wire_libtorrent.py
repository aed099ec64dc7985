"""PeerConnection against libtorrent over loopback: download from it, seed to it.

The one place the wire core meets a real peer program directly: libtorrent sends its
extended handshake before have_all, sends allowed_fast, and judges our framing strictly.
A minimal blocking-socket loop stands in for the asyncio driver.
"""

from __future__ import annotations

import hashlib
import os
import random
import socket
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from bitswarm.bencode import bencode
from bitswarm.bitfield import Bitfield
from bitswarm.peer_id import client_name, make_peer_id
from bitswarm.wire import (
    BitfieldReceived,
    ConnectionClosed,
    Event,
    ExtensionHandshake,
    HandshakeReceived,
    HaveAllReceived,
    Interested,
    PeerConnection,
    PieceReceived,
    RequestReceived,
    Unchoked,
)
from tests.lt_sessions import loopback_session

pytestmark = pytest.mark.interop

PIECE_LENGTH = 64 * 1024
DATA = random.Random(7).randbytes(20 * PIECE_LENGTH + 1234)  # a short last piece
BLOCK = 16384


@pytest.fixture
def lt() -> ModuleType:
    try:
        import libtorrent
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("the libtorrent Python module is required in CI (pip install libtorrent)")
        pytest.skip("libtorrent is not installed")
    return libtorrent


def torrent_bytes() -> tuple[bytes, bytes]:
    pieces = b"".join(
        hashlib.sha1(DATA[i : i + PIECE_LENGTH]).digest() for i in range(0, len(DATA), PIECE_LENGTH)
    )
    info = {b"name": b"data.bin", b"length": len(DATA), b"piece length": PIECE_LENGTH,
            b"pieces": pieces}  # fmt: skip
    return bencode({b"info": info}), hashlib.sha1(bencode(info)).digest()


def lt_session(lt: ModuleType, save_path: Path) -> tuple[Any, Any, bytes]:
    raw, info_hash = torrent_bytes()
    session = loopback_session(lt, allow_multiple_connections_per_ip=True)
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(raw)
    params.save_path = str(save_path)
    return session, session.add_torrent(params), info_hash


def new_conn(info_hash: bytes, *, initiator: bool, fast: bool) -> PeerConnection:
    return PeerConnection(
        info_hash=info_hash, our_peer_id=make_peer_id(random.Random(1)),
        num_pieces=-(-len(DATA) // PIECE_LENGTH), piece_length=PIECE_LENGTH,
        total_length=len(DATA), initiator=initiator, enable_fast=fast, now=time.monotonic(),
    )  # fmt: skip


def drive(
    sock: socket.socket,
    conn: PeerConnection,
    on_event: Callable[[Event], None],
    done: Callable[[], bool],
) -> None:
    """Shuttle bytes between `sock` and `conn` until `done()`, with a 20 s limit."""
    sock.settimeout(0.02)
    deadline = time.monotonic() + 20
    while not done() and not conn.closed and time.monotonic() < deadline:
        out = conn.data_to_send()
        if out:
            sock.sendall(out)
        try:
            conn.receive_data(sock.recv(1 << 20), now=time.monotonic())
        except TimeoutError:
            pass
        timer = conn.get_timer()
        if timer is not None and time.monotonic() >= timer:
            conn.handle_timer(now=time.monotonic())
        for event in conn.events():
            on_event(event)
    sock.sendall(conn.data_to_send())
    assert done(), f"timed out; closed={conn.closed} reason={conn.close_reason}"


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "plain"])
def test_download_from_libtorrent(lt: ModuleType, tmp_path: Path, fast: bool) -> None:
    (tmp_path / "data.bin").write_bytes(DATA)
    session, handle, info_hash = lt_session(lt, tmp_path)
    for _ in range(500):
        if handle.status().is_seeding:
            break
        time.sleep(0.01)
    conn = new_conn(info_hash, initiator=True, fast=fast)
    sock = socket.create_connection(("127.0.0.1", session.listen_port()), timeout=5)
    seen: list[Event] = []
    received = bytearray(len(DATA))
    blocks = [(off // PIECE_LENGTH, off % PIECE_LENGTH, min(BLOCK, len(DATA) - off))
              for off in range(0, len(DATA), BLOCK)]  # fmt: skip
    pending = list(blocks)
    got = 0

    def request_more() -> None:
        while pending and len(conn.outstanding_requests) < 32:
            conn.send_request(*pending.pop())

    def on_event(event: Event) -> None:
        nonlocal got
        seen.append(event)
        match event:
            case HandshakeReceived():
                assert client_name(event.peer_id).startswith("libtorrent")
                conn.send_extended_handshake(ExtensionHandshake(v="bitswarm test").to_payload())
                conn.send_bitfield(Bitfield(conn.num_pieces))
                conn.send_interested()
            case Unchoked():
                request_more()
            case PieceReceived(index=index, begin=begin, data=data):
                start = index * PIECE_LENGTH + begin
                received[start : start + len(data)] = data
                got += 1
                request_more()
            case ConnectionClosed():
                pytest.fail(f"closed: {event}")

    conn.send_handshake()
    try:
        drive(sock, conn, on_event, lambda: got == len(blocks))
    finally:
        sock.close()
        del session
    assert received == DATA
    kinds = {type(e) for e in seen}
    assert (HaveAllReceived if fast else BitfieldReceived) in kinds
    assert conn.remote_extension_handshake is not None
    assert (conn.remote_extension_handshake.v or "").startswith("libtorrent")


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "plain"])
def test_seed_to_libtorrent(lt: ModuleType, tmp_path: Path, fast: bool) -> None:
    session, handle, info_hash = lt_session(lt, tmp_path)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    handle.connect_peer(listener.getsockname())
    sock, _ = listener.accept()
    listener.close()
    conn = new_conn(info_hash, initiator=False, fast=fast)  # it answers the handshake itself
    served = 0

    def on_event(event: Event) -> None:
        nonlocal served
        match event:
            case HandshakeReceived():
                conn.send_bitfield(Bitfield(conn.num_pieces, full=True))
            case Interested():
                conn.send_unchoke()
            case RequestReceived(index=index, begin=begin, length=length):
                start = index * PIECE_LENGTH + begin
                served += conn.send_piece(index, begin, memoryview(DATA)[start : start + length])
            case ConnectionClosed():
                pytest.fail(f"closed: {event}")

    try:
        drive(sock, conn, on_event, lambda: bool(handle.status().is_seeding))
    finally:
        sock.close()
    assert served >= len(DATA) // BLOCK
    for _ in range(500):  # libtorrent may still be writing its last piece
        path = tmp_path / "data.bin"
        if path.exists() and path.read_bytes() == DATA:
            break
        time.sleep(0.01)
    assert (tmp_path / "data.bin").read_bytes() == DATA
    del session
