"""BEP 9 metadata exchange: the codec, `MetadataFetcher` against simulated peers (honest,
corrupt, lying about sizes, silent, rejecting), `MetadataServer`, a magnet download of a
real info dictionary between two `PeerConnection`s paired in memory, and both directions
against libtorrent over loopback."""

from __future__ import annotations

import hashlib
import os
import socket
import time
import tomllib
from collections.abc import Callable, Hashable
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import grimp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitswarm.bencode import bencode
from bitswarm.bitfield import Bitfield
from bitswarm.create import Version, create_torrent
from bitswarm.errors import LocalProtocolError
from bitswarm.ext import UT_METADATA_ID, extension_handshake
from bitswarm.ext.metadata_fetcher import (
    MetadataFetcher,
    MetadataHashMismatch,
    MetadataPeerFlagged,
    MetadataVerified,
    SendMetadataRequest,
)
from bitswarm.ext.ut_metadata import (
    MetadataData,
    MetadataProtocolError,
    MetadataReject,
    MetadataRequest,
    MetadataServer,
    decode_metadata_message,
    encode_metadata_message,
)
from bitswarm.magnet import Magnet
from bitswarm.metainfo import InfoHashes, parse_info_dict, parse_torrent
from bitswarm.wire import (
    Event,
    ExtendedHandshakeReceived,
    ExtendedMessageReceived,
    HandshakeReceived,
    PeerConnection,
)
from tests.lt_sessions import loopback_session

E = TypeVar("E")

PIECE = 16384
RAW = bencode({b"blob": bytes(range(256)) * 160, b"name": b"synthetic"})  # 40 KiB + a bit
assert 2 * PIECE < len(RAW) < 3 * PIECE
V1 = InfoHashes(hashlib.sha1(RAW).digest(), None)
SIZE = len(RAW)

# ---- codec ------------------------------------------------------------------------------


def test_bep_9_examples() -> None:
    assert encode_metadata_message(MetadataRequest(0)) == b"d8:msg_typei0e5:piecei0ee"
    assert decode_metadata_message(b"d8:msg_typei0e5:piecei0ee") == MetadataRequest(0)
    data = b"d8:msg_typei1e5:piecei0e10:total_sizei34256eexxxxxxxx"
    assert decode_metadata_message(data) == MetadataData(0, 34256, b"xxxxxxxx")
    assert encode_metadata_message(MetadataData(0, 34256, b"xxxxxxxx")) == data
    assert encode_metadata_message(MetadataReject(3)) == b"d8:msg_typei2e5:piecei3ee"
    assert decode_metadata_message(b"d8:msg_typei2e5:piecei3ee") == MetadataReject(3)


def test_data_whose_bytes_look_like_bencoding() -> None:
    for tail in (b"e", b"de", b"d8:msg_typei0ee", b"4:spam", b"i1e" * 10):
        msg = MetadataData(7, 99999, tail)
        assert decode_metadata_message(encode_metadata_message(msg)) == msg


def test_unknown_message_types_and_extra_keys() -> None:
    assert decode_metadata_message(b"d8:msg_typei9e5:piecei0ee") is None  # BEP 9: ignore
    assert decode_metadata_message(b"d1:xl1:ye8:msg_typei0e5:piecei2ee") == MetadataRequest(2)
    unsorted = b"d5:piecei1e8:msg_typei2ee"  # some clients do not sort keys
    assert decode_metadata_message(unsorted) == MetadataReject(1)


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"l8:msg_typei0ee",
        b"d8:msg_typei0e",  # unterminated
        b"d8:msg_type1:0e",  # msg_type not an integer
        b"d5:piecei0ee",  # no msg_type
        b"d8:msg_typei0ee",  # no piece
        b"d8:msg_typei0e5:piecei-1ee",
        b"d8:msg_typei0e5:piece1:0e",
        b"d8:msg_typei0e5:piecei0eeXX",  # bytes after a request
        b"d8:msg_typei2e5:piecei0eeXX",
        b"d8:msg_typei1e5:piecei0eexx",  # data without total_size
        b"d8:msg_typei1e5:piecei0e10:total_sizei0eexx",
        b"d8:msg_typei1e5:piecei0e10:total_sizei5ee",  # data without bytes
        b"d8:msg_typei1e5:piecei0e10:total_sizei5ee" + bytes(PIECE + 1),
        b"d8:msg_typei0e5:piecei03ee",  # non-canonical integer
        b"d" + b"1:x" * 200 + b"e",  # header too long
        b"dddddd",
    ],
)
def test_malformed_messages_raise_the_protocol_error(payload: bytes) -> None:
    with pytest.raises(MetadataProtocolError):
        decode_metadata_message(payload)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_the_protocol_error(payload: bytes) -> None:
    try:
        decode_metadata_message(payload)
    except MetadataProtocolError:
        pass


@given(st.binary(max_size=60), st.binary(max_size=40))
def test_arbitrary_dictionary_then_bytes(prefix: bytes, tail: bytes) -> None:
    try:
        decode_metadata_message(b"d" + prefix + b"e" + tail)
    except MetadataProtocolError:
        pass


# ---- the fetcher against simulated peers ------------------------------------------------

Behaviour = Callable[[int], MetadataData | MetadataReject | None]


def honest(raw: bytes = RAW) -> Behaviour:
    def answer(piece: int) -> MetadataData | MetadataReject | None:
        return MetadataData(piece, len(raw), raw[piece * PIECE : (piece + 1) * PIECE])

    return answer


def corrupting(bad_piece: int, raw: bytes = RAW) -> Behaviour:
    def answer(piece: int) -> MetadataData | MetadataReject | None:
        data = raw[piece * PIECE : (piece + 1) * PIECE]
        if piece == bad_piece:
            data = bytes([data[0] ^ 1]) + data[1:]
        return MetadataData(piece, len(raw), data)

    return answer


class Swarm:
    """Peers that answer a fetcher's requests at once, by their behaviour."""

    def __init__(self, fetcher: MetadataFetcher) -> None:
        self.fetcher = fetcher
        self.peers: dict[Hashable, Behaviour] = {}
        self.asked: list[tuple[Hashable, int]] = []
        self.events: list[object] = []

    def add(self, key: str, behaviour: Behaviour, size: int = SIZE, *, now: float = 0.0) -> bool:
        self.peers[key] = behaviour
        ok = self.fetcher.add_peer(key, metadata_size=size, ext_id=3, now=now)
        self.run(now)
        return ok

    def run(self, now: float = 0.0) -> None:
        for _ in range(1000):
            actions = self.fetcher.actions()
            if not actions:
                return
            for action in actions:
                if isinstance(action, SendMetadataRequest):
                    assert action.ext_id == 3
                    assert decode_metadata_message(action.payload) == MetadataRequest(action.piece)
                    self.asked.append((action.peer, action.piece))
                    reply = self.peers[action.peer](action.piece)
                    if reply is not None:
                        self.fetcher.receive(action.peer, reply, now=now)
                else:
                    self.events.append(action)

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]


def requests(fetcher: MetadataFetcher) -> list[SendMetadataRequest]:
    """The fetcher's pending actions, each of which must be a request."""
    out = []
    for action in fetcher.actions():
        assert isinstance(action, SendMetadataRequest), action
        out.append(action)
    return out


def test_fetch_spread_over_three_peers() -> None:
    swarm = Swarm(MetadataFetcher(V1))
    swarm.fetcher.max_requests_per_peer = 1
    for key in "ABC":
        swarm.peers[key] = honest()
        assert swarm.fetcher.add_peer(key, metadata_size=SIZE, ext_id=3, now=0.0)
    assert [(a.peer, a.piece) for a in requests(swarm.fetcher)] == [("A", 0), ("B", 1), ("C", 2)]


def test_honest_fetch_verifies_and_stops_asking() -> None:
    swarm = Swarm(MetadataFetcher(V1))
    swarm.add("A", honest())
    assert swarm.of(MetadataVerified) == [MetadataVerified(RAW)]
    assert swarm.fetcher.done and swarm.fetcher.raw == RAW
    assert sorted(p for _, p in swarm.asked) == [0, 1, 2]
    assert swarm.fetcher.get_timer() is None
    assert not swarm.add("B", honest())  # nothing left to do


def test_a_corrupt_piece_is_discarded_its_sender_flagged_and_the_fetch_completes() -> None:
    fetcher = MetadataFetcher(V1, max_requests_per_peer=1)  # one piece from each
    swarm = Swarm(fetcher)
    for key, behaviour in (("A", honest()), ("B", corrupting(1)), ("C", honest())):
        swarm.peers[key] = behaviour
        fetcher.add_peer(key, metadata_size=SIZE, ext_id=3, now=0.0)
    swarm.run()
    assert swarm.asked[:3] == [("A", 0), ("B", 1), ("C", 2)]
    [mismatch] = swarm.of(MetadataHashMismatch)
    assert mismatch == MetadataHashMismatch(SIZE, frozenset("ABC"))
    assert swarm.of(MetadataVerified) == [MetadataVerified(RAW)]
    assert swarm.of(MetadataPeerFlagged) == [
        MetadataPeerFlagged("B", "sent a corrupt metadata piece 1")
    ]
    assert fetcher.flagged == {"B": "sent a corrupt metadata piece 1"}


def test_a_lone_liar_is_flagged_at_once_and_another_peer_supplies_the_metadata() -> None:
    swarm = Swarm(MetadataFetcher(V1))
    swarm.add("liar", corrupting(2))
    [mismatch] = swarm.of(MetadataHashMismatch)
    assert mismatch.contributors == {"liar"}
    assert [e.peer for e in swarm.of(MetadataPeerFlagged)] == ["liar"]
    assert not swarm.fetcher.done
    swarm.add("good", honest())
    assert swarm.fetcher.raw == RAW
    assert {peer for peer, _ in swarm.asked[-3:]} == {"good"}


def test_two_liars_among_suspects_are_found_one_at_a_time() -> None:
    swarm = Swarm(MetadataFetcher(V1))
    for key, behaviour in (("L1", corrupting(0)), ("L2", corrupting(2)), ("H", honest())):
        swarm.peers[key] = behaviour
        swarm.fetcher.add_peer(key, metadata_size=SIZE, ext_id=3, now=0.0)
    swarm.run()
    assert swarm.fetcher.raw == RAW
    assert set(swarm.fetcher.flagged) == {"L1", "L2"}


@pytest.mark.parametrize("size", [2**30, 16 * 1024 * 1024 + 1, 0, -5])
def test_absurd_metadata_sizes_are_refused(size: int) -> None:
    fetcher = MetadataFetcher(V1)
    assert not fetcher.add_peer("big", metadata_size=size, ext_id=3, now=0.0)
    [flag] = fetcher.actions()
    assert isinstance(flag, MetadataPeerFlagged) and flag.peer == "big"
    assert str(size) in flag.reason
    assert fetcher.progress == (0, 0)


def test_the_cap_is_configurable_and_peers_without_metadata_are_left_out() -> None:
    fetcher = MetadataFetcher(V1, max_metadata_size=1000)
    assert not fetcher.add_peer("A", metadata_size=SIZE, ext_id=3, now=0.0)
    assert not fetcher.add_peer("B", metadata_size=None, ext_id=3, now=0.0)
    assert not fetcher.add_peer("C", metadata_size=500, ext_id=None, now=0.0)
    assert [type(a) for a in fetcher.actions()] == [MetadataPeerFlagged]  # only A
    assert MetadataFetcher(V1).add_peer("D", metadata_size=16 * 2**20, ext_id=1, now=0.0)


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (MetadataData(0, SIZE, RAW[: PIECE - 1]), "16383 bytes for metadata piece 0"),
        (MetadataData(0, SIZE, RAW[:PIECE] + b"x"), "16385 bytes"),
        (MetadataData(2, SIZE, RAW[2 * PIECE :] + b"x"), "for metadata piece 2"),
        (MetadataData(3, SIZE, b"x"), "piece 3, out of range"),
        (MetadataData(0, SIZE + 1, RAW[:PIECE]), f"total_size {SIZE + 1}"),
    ],
)
def test_pieces_that_do_not_fit_flag_the_sender(reply: MetadataData, reason: str) -> None:
    fetcher = MetadataFetcher(V1)
    fetcher.add_peer("bad", metadata_size=SIZE, ext_id=3, now=0.0)
    fetcher.add_peer("good", metadata_size=SIZE, ext_id=3, now=0.0)
    fetcher.actions()
    fetcher.receive("bad", reply, now=1.0)
    [flag, *_] = fetcher.actions()
    assert isinstance(flag, MetadataPeerFlagged) and flag.peer == "bad"
    assert reason in flag.reason


def test_an_unrequested_piece_flags_and_drops_what_the_peer_sent() -> None:
    fetcher = MetadataFetcher(V1, max_requests_per_peer=1)
    fetcher.add_peer("A", metadata_size=SIZE, ext_id=3, now=0.0)
    fetcher.add_peer("B", metadata_size=SIZE, ext_id=3, now=0.0)
    assert [(a.peer, a.piece) for a in requests(fetcher)] == [("A", 0), ("B", 1)]
    fetcher.receive("A", MetadataData(0, SIZE, RAW[:PIECE]), now=1.0)
    assert fetcher.progress == (1, 3)
    fetcher.actions()
    fetcher.receive("A", MetadataData(1, SIZE, RAW[PIECE : 2 * PIECE]), now=1.0)  # B's piece
    actions = fetcher.actions()
    assert actions[0] == MetadataPeerFlagged("A", "sent metadata piece 1 that was never requested")
    assert fetcher.progress == (0, 3)  # A's piece 0 is gone with it
    assert SendMetadataRequest("B", 3, 0) not in actions  # B still has piece 1 outstanding
    fetcher.receive("B", MetadataData(1, SIZE, RAW[PIECE : 2 * PIECE]), now=2.0)
    assert [(a.peer, a.piece) for a in requests(fetcher)] == [("B", 0)]


def test_timeouts_move_pieces_to_other_peers_and_late_answers_still_count() -> None:
    fetcher = MetadataFetcher(V1, request_timeout=20.0)
    fetcher.add_peer("slow", metadata_size=SIZE, ext_id=3, now=0.0)
    assert [a.piece for a in requests(fetcher)] == [0, 1, 2]
    assert fetcher.get_timer() == 20.0
    fetcher.handle_timer(now=10.0)
    assert fetcher.actions() == []
    fetcher.add_peer("fast", metadata_size=SIZE, ext_id=3, now=15.0)
    assert fetcher.actions() == []  # every piece is out already
    fetcher.handle_timer(now=20.0)
    assert [(a.peer, a.piece) for a in requests(fetcher)] == [
        ("fast", 0),
        ("fast", 1),
        ("fast", 2),
    ]
    fetcher.receive("slow", MetadataData(0, SIZE, RAW[:PIECE]), now=21.0)  # late, accepted
    assert fetcher.flagged == {} and fetcher.progress == (1, 3)
    for piece in range(3):
        fetcher.receive(
            "fast", MetadataData(piece, SIZE, RAW[piece * PIECE : (piece + 1) * PIECE]), now=22.0
        )
    assert fetcher.raw == RAW and fetcher.flagged == {}


def test_a_peer_that_keeps_timing_out_is_no_longer_asked() -> None:
    fetcher = MetadataFetcher(V1, max_requests_per_peer=1)
    fetcher.add_peer("mute", metadata_size=SIZE, ext_id=3, now=0.0)
    now = 0.0
    asked = 0
    for _ in range(10):
        asked += len(fetcher.actions())
        timer = fetcher.get_timer()
        if timer is None:
            break
        now = timer
        fetcher.handle_timer(now=now)
    assert asked == 3  # MAX_TIMEOUTS
    assert fetcher.get_timer() is None


def test_a_reject_sends_the_piece_elsewhere_and_rests_the_peer() -> None:
    fetcher = MetadataFetcher(V1, max_requests_per_peer=1)
    fetcher.add_peer("A", metadata_size=SIZE, ext_id=3, now=0.0)
    fetcher.add_peer("B", metadata_size=SIZE, ext_id=4, now=0.0)
    fetcher.actions()
    fetcher.receive("A", MetadataReject(0), now=1.0)
    assert fetcher.actions() == []  # B is busy with piece 1, A rests
    assert fetcher.get_timer() == 20.0
    fetcher.receive("B", MetadataData(1, SIZE, RAW[PIECE : 2 * PIECE]), now=2.0)
    assert fetcher.actions() == [SendMetadataRequest("B", 4, 0)]
    fetcher.receive("B", MetadataData(0, SIZE, RAW[:PIECE]), now=3.0)
    assert fetcher.actions() == [SendMetadataRequest("B", 4, 2)]
    fetcher.remove_peer("B", now=4.0)
    assert fetcher.actions() == []
    assert fetcher.get_timer() == 31.0  # A's rest ends
    fetcher.handle_timer(now=31.0)
    assert fetcher.actions() == [SendMetadataRequest("A", 3, 2)]


def test_a_peer_lying_about_the_size_does_not_stop_the_fetch() -> None:
    fake = bytes(5000)
    swarm = Swarm(MetadataFetcher(V1))
    swarm.add("liar", honest(fake), size=len(fake))  # first, so its size is tried first
    assert [e.peer for e in swarm.of(MetadataPeerFlagged)] == ["liar"]
    swarm.add("A", honest())
    assert swarm.fetcher.raw == RAW


def test_peers_announcing_another_size_are_flagged_once_verified() -> None:
    fetcher = MetadataFetcher(V1, max_requests_per_peer=8)
    swarm = Swarm(fetcher)
    swarm.peers["odd"] = honest(bytes(100))
    swarm.peers["A"] = honest()
    swarm.peers["B"] = honest()
    for key, size in (("A", SIZE), ("odd", 100), ("B", SIZE)):
        fetcher.add_peer(key, metadata_size=size, ext_id=3, now=0.0)
    swarm.run()
    assert fetcher.raw == RAW
    assert fetcher.flagged == {"odd": f"announced metadata_size 100, not {SIZE}"}
    assert all(peer != "odd" for peer, _ in swarm.asked)


def _real_info(tmp_path: Path, version: Version) -> bytes:
    folder = tmp_path / "content"
    folder.mkdir(exist_ok=True)
    for i in range(150):
        (folder / f"file-{i:04d}-{'x' * 60}.bin").write_bytes(bytes([i]) * (i + 1))
    torrent = create_torrent(
        folder,
        version=version,
        piece_length=16384,
        workers=1,
        creation_date=None,
    )
    return parse_torrent(torrent).info.raw


@pytest.mark.parametrize("version", ["v2", "hybrid"])
def test_v2_and_hybrid_metadata_is_checked_with_sha256(tmp_path: Path, version: Version) -> None:
    raw = _real_info(tmp_path, version)
    hashes = parse_info_dict(raw).info_hashes
    assert hashes.v2 == hashlib.sha256(raw).digest()
    for known in [hashes] if version == "v2" else [hashes, InfoHashes(None, hashes.v2)]:
        swarm = Swarm(MetadataFetcher(known))
        swarm.add("bad", corrupting(0, raw), size=len(raw))
        swarm.add("good", honest(raw), size=len(raw))
        assert swarm.fetcher.raw == raw
        assert list(swarm.fetcher.flagged) == ["bad"]
    # A hybrid's v1 hash alone is no proof when the v2 one is known too.
    wrong_v2 = InfoHashes(hashlib.sha1(raw).digest(), bytes(32))
    swarm = Swarm(MetadataFetcher(wrong_v2))
    swarm.add("A", honest(raw), size=len(raw))
    assert not swarm.fetcher.done and swarm.of(MetadataHashMismatch)


# ---- the server ---------------------------------------------------------------------------


def test_server_answers_and_rejects() -> None:
    server = MetadataServer(RAW, info_hashes=V1, rate_limit=False)
    assert server.metadata_size == SIZE
    assert server.answer("p", 0, now=0.0) == MetadataData(0, SIZE, RAW[:PIECE])
    last = server.answer("p", 2, now=0.0)
    assert last == MetadataData(2, SIZE, RAW[2 * PIECE :]) and len(last.data) == SIZE - 2 * PIECE
    assert server.answer("p", 3, now=0.0) == MetadataReject(3)
    assert server.answer("p", -1, now=0.0) == MetadataReject(-1)
    assert MetadataServer().answer("p", 0, now=0.0) == MetadataReject(0)  # nothing to serve
    assert MetadataServer().metadata_size is None


def test_server_rate_limit_per_peer_and_window() -> None:
    server = MetadataServer(RAW, budget_factor=3, window=60.0)
    replies = [server.answer("p", i % 3, now=1.0) for i in range(12)]
    assert [type(r) for r in replies] == [MetadataData] * 9 + [MetadataReject] * 3
    assert isinstance(server.answer("q", 0, now=1.0), MetadataData)  # another peer
    assert isinstance(server.answer("p", 0, now=61.0), MetadataData)  # a new window
    server.remove_peer("p")


def test_server_refuses_metadata_that_is_not_ours() -> None:
    with pytest.raises(LocalProtocolError):
        MetadataServer(RAW + b"x", info_hashes=V1)
    with pytest.raises(LocalProtocolError):
        MetadataServer(b"")


# ---- two real PeerConnections: a magnet download of a real info dictionary ----------------


def _shuttle(a: PeerConnection, b: PeerConnection) -> None:
    for _ in range(1000):
        to_b, to_a = a.data_to_send(), b.data_to_send()
        if not to_a and not to_b:
            return
        if to_b:  # b"" would mean end of stream
            b.receive_data(to_b)
        if to_a:
            a.receive_data(to_a)


def _connected(
    info_hash: bytes, seeder_handshake: dict[bytes, object]
) -> tuple[PeerConnection, PeerConnection]:
    leecher = PeerConnection(
        info_hash=info_hash,
        our_peer_id=b"L" * 20,
        num_pieces=0,
        piece_length=1,
        total_length=0,
        initiator=True,
        geometry_known=False,
    )
    seeder = PeerConnection(
        info_hash=info_hash,
        our_peer_id=b"S" * 20,
        num_pieces=1,
        piece_length=16384,
        total_length=1,
        initiator=False,
    )
    leecher.send_handshake()
    _shuttle(leecher, seeder)
    leecher.send_extended_handshake(extension_handshake(private=False, metadata_size=None))
    seeder.send_extended_handshake(seeder_handshake)
    _shuttle(leecher, seeder)
    return leecher, seeder


@pytest.mark.parametrize("version", ["v1", "hybrid"])
def test_magnet_download_between_two_peer_connections(tmp_path: Path, version: Version) -> None:
    raw = _real_info(tmp_path, version)
    info = parse_info_dict(raw)
    server = MetadataServer(raw, info_hashes=info.info_hashes)
    leecher, seeder = _connected(
        info.info_hashes.wire,
        {
            **extension_handshake(private=info.private, metadata_size=server.metadata_size),
            b"v": b"seeder",
        },
    )
    fetcher = MetadataFetcher(info.info_hashes)  # what the magnet link gives
    for event in leecher.events():
        if isinstance(event, ExtendedHandshakeReceived):
            fetcher.add_peer(
                "seeder",
                metadata_size=event.fields.metadata_size,
                ext_id=leecher.remote_extensions.get("ut_metadata"),
                now=0.0,
            )
    seeder.events()
    verified: list[bytes] = []
    for _ in range(100):
        for action in fetcher.actions():
            if isinstance(action, SendMetadataRequest):
                leecher.send_extended(action.ext_id, action.payload)
            elif isinstance(action, MetadataVerified):
                verified.append(action.raw)
        if verified:
            break
        _shuttle(leecher, seeder)
        for event in seeder.events():
            assert isinstance(event, ExtendedMessageReceived) and event.ext_id == UT_METADATA_ID
            request = decode_metadata_message(event.payload)
            assert isinstance(request, MetadataRequest)
            reply = server.answer("leecher", request.piece, now=0.0)
            seeder.send_extended(
                seeder.remote_extensions["ut_metadata"], encode_metadata_message(reply)
            )
        _shuttle(leecher, seeder)
        for event in leecher.events():
            assert isinstance(event, ExtendedMessageReceived) and event.ext_id == UT_METADATA_ID
            msg = decode_metadata_message(event.payload)
            assert isinstance(msg, MetadataData | MetadataReject)
            fetcher.receive("seeder", msg, now=0.0)
    assert verified == [raw]
    got = parse_info_dict(verified[0])
    assert got == info
    leecher.set_geometry(got.num_pieces, got.piece_length, got.piece_space_length)
    assert not leecher.closed and not seeder.closed


def test_a_1_gib_metadata_size_over_the_wire_is_refused() -> None:
    leecher, _ = _connected(bytes(20), {b"m": {b"ut_metadata": 2}, b"metadata_size": 2**30})
    [event] = [e for e in leecher.events() if isinstance(e, ExtendedHandshakeReceived)]
    assert leecher.remote_extensions == {"ut_metadata": 2}
    fetcher = MetadataFetcher(V1)
    ok = fetcher.add_peer(
        "seeder",
        metadata_size=event.fields.metadata_size,
        ext_id=leecher.remote_extensions.get("ut_metadata"),
        now=0.0,
    )
    assert not ok
    assert not any(isinstance(a, SendMetadataRequest) for a in fetcher.actions())


# ---- the layer rule for the new package ----------------------------------------------------


def test_ext_modules_are_pure() -> None:
    """bitswarm.ext is in the "pure" import-linter contract (pyproject.toml; lint-imports
    and tests/test_layering.py check it): no ext module reaches an I/O module."""
    config = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    pure = next(c for c in config["tool"]["importlinter"]["contracts"] if c["id"] == "pure")
    assert "bitswarm.ext" in pure["source_modules"]
    graph = grimp.build_graph("bitswarm", include_external_packages=True, cache_dir=None)
    modules = {"bitswarm.ext", *graph.find_descendants("bitswarm.ext")}
    assert {"bitswarm.ext.ut_metadata", "bitswarm.ext.ut_pex", "bitswarm.ext.lsd"} <= modules

    def violations() -> list[tuple[str, ...]]:
        return [
            tuple(chain)
            for module in sorted(modules)
            for banned in pure["forbidden_modules"]
            if banned in graph.modules
            and (chain := graph.find_shortest_chain(importer=module, imported=banned))
        ]

    assert violations() == []
    graph.add_import(importer="bitswarm.ext.lsd", imported="socket")
    assert ("bitswarm.ext.lsd", "socket") in violations()  # the rule would see one


def test_progress_survives_the_only_peer_leaving() -> None:
    fetcher = MetadataFetcher(V1, max_requests_per_peer=1)
    fetcher.add_peer("A", metadata_size=SIZE, ext_id=3, now=0.0)
    fetcher.actions()
    fetcher.receive("A", MetadataData(0, SIZE, RAW[:PIECE]), now=1.0)
    fetcher.remove_peer("A", now=2.0)
    fetcher.actions()
    assert fetcher.progress == (1, 3)
    fetcher.add_peer("B", metadata_size=SIZE, ext_id=5, now=3.0)
    assert fetcher.actions() == [SendMetadataRequest("B", 5, 1)]


def test_a_liar_that_left_is_named_once_the_metadata_is_verified() -> None:
    fetcher = MetadataFetcher(V1, max_requests_per_peer=3)
    fetcher.add_peer("A", metadata_size=SIZE, ext_id=3, now=0.0)
    fetcher.actions()
    for piece in range(2):
        fetcher.receive("A", MetadataData(piece, SIZE, bytes(PIECE)), now=1.0)
    fetcher.remove_peer("A", now=1.5)
    fetcher.add_peer("B", metadata_size=SIZE, ext_id=3, now=2.0)
    assert fetcher.actions() == [SendMetadataRequest("B", 3, 2)]
    fetcher.receive("B", MetadataData(2, SIZE, RAW[2 * PIECE :]), now=3.0)
    actions = fetcher.actions()
    assert actions[0] == MetadataHashMismatch(SIZE, frozenset("AB"))
    assert fetcher.flagged == {}  # two sources: nobody is sure yet
    assert actions[1:] == [SendMetadataRequest("B", 3, i) for i in range(3)]  # B alone
    for piece in range(3):
        fetcher.receive(
            "B", MetadataData(piece, SIZE, RAW[piece * PIECE : (piece + 1) * PIECE]), now=4.0
        )
    assert fetcher.raw == RAW
    assert fetcher.flagged == {"A": "sent a corrupt metadata piece 0"}


# ---- against libtorrent: fetch its metadata, and let it fetch ours ------------------------


@pytest.fixture
def lt() -> ModuleType:
    try:
        import libtorrent
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("the libtorrent Python module is required in CI (pip install libtorrent)")
        pytest.skip("libtorrent is not installed")
    return libtorrent


def _lt_session(lt: ModuleType) -> Any:
    return loopback_session(lt, allow_multiple_connections_per_ip=True)


def _drive(
    sock: socket.socket,
    conn: PeerConnection,
    on_event: Callable[[Event], None],
    done: Callable[[], bool],
) -> None:
    """Shuttle bytes between `sock` and `conn` until `done()` (20 s at most)."""
    sock.settimeout(0.02)
    deadline = time.monotonic() + 20
    while not done() and not conn.closed and time.monotonic() < deadline:
        out = conn.data_to_send()
        if out:
            sock.sendall(out)
        try:
            data = sock.recv(1 << 20)
        except TimeoutError:
            data = None
        if data is not None:
            conn.receive_data(data, now=time.monotonic())
        for event in conn.events():
            on_event(event)
    assert done(), f"timed out; closed={conn.closed} reason={conn.close_reason}"


@pytest.mark.interop
@pytest.mark.parametrize("version", ["v1", "hybrid"])
def test_fetch_metadata_from_libtorrent(lt: ModuleType, tmp_path: Path, version: Version) -> None:
    info = parse_info_dict(_real_info(tmp_path, version))
    session = _lt_session(lt)
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(b"d4:info" + info.raw + b"e")
    params.save_path = str(tmp_path)
    handle = session.add_torrent(params)
    for _ in range(500):
        if handle.status().is_seeding:
            break
        time.sleep(0.01)
    conn = PeerConnection(
        info_hash=info.info_hashes.wire,
        our_peer_id=b"-BS0100-metadatatest",
        num_pieces=0,
        piece_length=1,
        total_length=0,
        initiator=True,
        geometry_known=False,
        now=time.monotonic(),
    )
    fetcher = MetadataFetcher(info.info_hashes)

    def on_event(event: Event) -> None:
        now = time.monotonic()
        match event:
            case HandshakeReceived():
                conn.send_extended_handshake(
                    {**extension_handshake(private=False, metadata_size=None), b"v": b"bitswarm"}
                )
                conn.send_bitfield(Bitfield(0))
            case ExtendedHandshakeReceived(fields=fields):
                fetcher.add_peer(
                    "lt",
                    metadata_size=fields.metadata_size,
                    ext_id=conn.remote_extensions.get("ut_metadata"),
                    now=now,
                )
            case ExtendedMessageReceived(ext_id=ext_id, payload=payload):
                assert ext_id == UT_METADATA_ID
                msg = decode_metadata_message(payload)
                assert isinstance(msg, MetadataData | MetadataReject), msg
                fetcher.receive("lt", msg, now=now)
        for action in fetcher.actions():
            assert not isinstance(action, MetadataPeerFlagged | MetadataHashMismatch), action
            if isinstance(action, SendMetadataRequest):
                conn.send_extended(action.ext_id, action.payload)

    sock = socket.create_connection(("127.0.0.1", session.listen_port()), timeout=5)
    conn.send_handshake()
    try:
        _drive(sock, conn, on_event, lambda: fetcher.done)
    finally:
        sock.close()
        del session
    assert fetcher.raw == info.raw


@pytest.mark.interop
@pytest.mark.parametrize("version", ["v1", "hybrid"])
def test_libtorrent_fetches_our_metadata(lt: ModuleType, tmp_path: Path, version: Version) -> None:
    info = parse_info_dict(_real_info(tmp_path, version))
    server = MetadataServer(info.raw, info_hashes=info.info_hashes)
    session = _lt_session(lt)
    params = lt.parse_magnet_uri(Magnet(info.info_hashes).to_uri())
    params.save_path = str(tmp_path / "lt")
    handle = session.add_torrent(params)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    handle.connect_peer(listener.getsockname())
    sock, _ = listener.accept()
    listener.close()
    conn = PeerConnection(
        info_hash=info.info_hashes.wire,
        our_peer_id=b"-BS0100-metadataserv",
        num_pieces=info.num_pieces,
        piece_length=info.piece_length,
        total_length=info.piece_space_length,
        initiator=False,
        now=time.monotonic(),
    )
    served: list[int] = []

    def on_event(event: Event) -> None:
        match event:
            case HandshakeReceived():
                handshake = extension_handshake(private=False, metadata_size=server.metadata_size)
                conn.send_extended_handshake({**handshake, b"v": b"bitswarm"})
                conn.send_bitfield(Bitfield(info.num_pieces))
            case ExtendedMessageReceived(ext_id=ext_id, payload=payload):
                assert ext_id == UT_METADATA_ID
                msg = decode_metadata_message(payload)
                assert isinstance(msg, MetadataRequest), msg
                reply = server.answer("lt", msg.piece, now=time.monotonic())
                assert isinstance(reply, MetadataData)
                served.append(msg.piece)
                conn.send_extended(
                    conn.remote_extensions["ut_metadata"], encode_metadata_message(reply)
                )

    try:
        _drive(sock, conn, on_event, lambda: bool(handle.status().has_metadata))
    finally:
        sock.close()
    hashes = handle.torrent_file().info_hashes()
    assert hashes.v1.to_bytes() == info.info_hashes.v1
    if info.info_hashes.v2 is not None:
        assert hashes.v2.to_bytes() == info.info_hashes.v2
    assert sorted(set(served)) == list(range(-(-len(info.raw) // PIECE)))
    del session
