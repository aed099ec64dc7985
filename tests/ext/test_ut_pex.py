"""BEP 11 peer exchange: the codec (IPv4 and IPv6, flags), the sending side's diff and
limits, the receiving side's cleaning and rate limit, hostile payloads, and a message
carried between two real `PeerConnection`s."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitswarm.bencode import bencode
from bitswarm.ext import UT_PEX_ID, extension_handshake
from bitswarm.ext.ut_pex import (
    PexFlags,
    PexFormatError,
    PexMessage,
    PexPeer,
    PexState,
    decode_pex,
    encode_pex,
)
from bitswarm.wire import ExtendedMessageReceived, PeerConnection

F = PexFlags
A4 = ("1.2.3.4", 6881)
B4 = ("5.6.7.8", 80)
A6 = ("2001:db8::1", 51413)
B6 = ("fe80::abcd", 1)

# ---- codec ------------------------------------------------------------------------------


def test_encode_vector_ipv4_and_ipv6() -> None:
    msg = PexMessage(
        added=(PexPeer(A4, F.SEED | F.REACHABLE), PexPeer(A6, F.UTP | F.PREFERS_ENCRYPTION)),
        dropped=(B4, B6),
    )
    expected = bencode(
        {
            b"added": bytes([1, 2, 3, 4, 0x1A, 0xE1]),
            b"added.f": b"\x12",
            b"added6": ipaddress.IPv6Address("2001:db8::1").packed + b"\xc8\xd5",
            b"added6.f": b"\x05",
            b"dropped": bytes([5, 6, 7, 8, 0, 80]),
            b"dropped6": ipaddress.IPv6Address("fe80::abcd").packed + b"\x00\x01",
        }
    )
    assert encode_pex(msg) == expected
    assert decode_pex(expected) == msg


def test_flag_values_are_bep_11s() -> None:
    assert [int(f) for f in (F.PREFERS_ENCRYPTION, F.SEED, F.UTP, F.HOLEPUNCH, F.REACHABLE)] == [
        0x01,
        0x02,
        0x04,
        0x08,
        0x10,
    ]


def test_only_dropped_and_empty_fields() -> None:
    assert decode_pex(bencode({b"dropped": bytes([9, 9, 9, 9, 0, 1])})) == PexMessage(
        (), (("9.9.9.9", 1),)
    )
    assert decode_pex(b"de") == PexMessage()
    assert encode_pex(PexMessage()) == b"de"


ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(str)
ports = st.integers(1, 65535)
flags = st.integers(0, 0x1F).map(PexFlags)


@given(
    added=st.lists(st.tuples(ipv4 | ipv6, ports, flags), max_size=60, unique_by=lambda t: t[0]),
    dropped=st.lists(st.tuples(ipv4 | ipv6, ports), max_size=60, unique=True),
)
def test_round_trip(added: list[tuple[str, int, PexFlags]], dropped: list[tuple[str, int]]) -> None:
    added_peers = tuple(PexPeer((h, p), f) for h, p, f in added)
    dropped = [d for d in dropped if d not in {p.address for p in added_peers}]
    msg = PexMessage(added_peers, tuple(dropped))
    back = decode_pex(encode_pex(msg))

    # The codec groups IPv4 before IPv6; within a family the order is kept.
    def v4_first(addr: tuple[str, int]) -> bool:
        return ":" in addr[0]

    assert back.added == tuple(sorted(msg.added, key=lambda p: v4_first(p.address)))
    assert back.dropped == tuple(sorted(msg.dropped, key=v4_first))


def test_cleaning_of_received_contacts() -> None:
    payload = bencode(
        {
            b"added": b"".join(
                [
                    bytes([1, 1, 1, 1, 0, 0]),  # port 0: nobody listens there
                    bytes([2, 2, 2, 2, 0, 10]),
                    bytes([2, 2, 2, 2, 0, 11]),  # same IP, other port: ignored
                    bytes([3, 3, 3, 3, 0, 12]),  # also dropped below: contradictory, ignored
                    bytes([4, 4, 4, 4, 0, 13]),
                ]
            ),
            b"added.f": bytes([0, 0x02, 0, 0, 0xFF]),  # unknown bits are masked off
            b"dropped": bytes([3, 3, 3, 3, 0, 12]) + bytes([5, 5, 5, 5, 0, 14]) * 2,
        }
    )
    msg = decode_pex(payload)
    assert msg.added == (PexPeer(("2.2.2.2", 10), F.SEED), PexPeer(("4.4.4.4", 13), F(0x1F)))
    assert msg.dropped == (("5.5.5.5", 14),)


def test_flags_of_the_wrong_length_are_ignored() -> None:
    payload = bencode({b"added": bytes([1, 2, 3, 4, 0, 1, 1, 2, 3, 5, 0, 1]), b"added.f": b"\x02"})
    assert [p.flags for p in decode_pex(payload).added] == [F.NONE, F.NONE]


def test_at_most_200_contacts_of_each_kind_are_read() -> None:
    many4 = b"".join(ipaddress.IPv4Address(0x0A000000 + i).packed + b"\x00\x01" for i in range(150))
    many6 = b"".join(
        ipaddress.IPv6Address((0x20010DB8 << 96) + i).packed + b"\x00\x01" for i in range(150)
    )
    msg = decode_pex(
        bencode({b"added": many4, b"added6": many6, b"dropped": many4, b"dropped6": many6})
    )
    assert len(msg.added) == 0  # every contact is also dropped: all contradictory
    msg = decode_pex(bencode({b"added": many4, b"added6": many6}))
    assert len(msg.added) == 200
    assert msg.added[149].address == ("10.0.0.149", 1) and ":" in msg.added[150].address[0]
    msg = decode_pex(bencode({b"dropped": many4, b"dropped6": many6}))
    assert len(msg.dropped) == 200


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"garbage",
        b"le",
        b"i5e",
        bencode({b"added": 5}),
        bencode({b"added6": [b"x"]}),
        bencode({b"added": b"\x01\x02\x03\x04\x00"}),  # 5 bytes: not a contact
        bencode({b"dropped6": bytes(17)}),
        bencode({b"dropped": bytes(6)}) + b"x",
        bencode({b"added": bytes(6 * 12000)}),  # over the payload cap
    ],
)
def test_malformed_payloads_raise_the_format_error(payload: bytes) -> None:
    with pytest.raises(PexFormatError):
        decode_pex(payload)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_the_format_error(payload: bytes) -> None:
    try:
        decode_pex(payload)
    except PexFormatError:
        pass


keys = st.sampled_from(
    [b"added", b"added.f", b"added6", b"added6.f", b"dropped", b"dropped6", b"other"]
)
values = (
    st.binary(max_size=80)
    | st.integers(-(2**63), 2**63 - 1)
    | st.lists(st.binary(max_size=4), max_size=3)
)


@given(st.dictionaries(keys, values, max_size=7))
def test_arbitrary_dictionaries_raise_only_the_format_error(fields: dict[bytes, object]) -> None:
    try:
        msg = decode_pex(bencode(fields))
    except PexFormatError:
        return
    assert len(msg.added) <= 200 and len(msg.dropped) <= 200
    assert not {p.address for p in msg.added} & set(msg.dropped)
    assert all(p.address[1] > 0 for p in msg.added) and all(d[1] > 0 for d in msg.dropped)


# ---- the sending side -------------------------------------------------------------------


def peers(*numbers: int) -> dict[tuple[str, int], PexFlags]:
    return {(f"10.0.{n // 256}.{n % 256}", 6881): F.REACHABLE for n in numbers}


def test_first_message_at_once_then_diffs_at_most_once_a_minute() -> None:
    state = PexState(now=100.0)
    first = state.poll(peers(1, 2), now=100.0)
    assert first == PexMessage(tuple(PexPeer(a, F.REACHABLE) for a in peers(1, 2)), ())
    assert state.get_timer() == 160.0
    assert state.poll(peers(1, 3), now=159.0) is None  # changed, but not a minute yet
    second = state.poll(peers(1, 3), now=160.0)
    assert second == PexMessage((PexPeer(("10.0.0.3", 6881), F.REACHABLE),), (("10.0.0.2", 6881),))
    assert state.poll(peers(1, 3), now=300.0) is None  # nothing changed: nothing sent
    assert state.get_timer() == 220.0  # and the next one may go as soon as something does
    assert state.poll(peers(1), now=300.0) == PexMessage((), (("10.0.0.3", 6881),))


def test_at_most_50_added_and_50_dropped_the_rest_next_time() -> None:
    state = PexState(now=0.0)
    sizes = []
    for minute in range(3):
        msg = state.poll(peers(*range(120)), now=60.0 * minute)
        assert msg is not None
        sizes.append(len(msg.added))
    assert sizes == [50, 50, 20]
    drops = []
    for minute in range(3, 6):
        msg = state.poll(peers(), now=60.0 * minute)
        assert msg is not None
        drops.append(len(msg.dropped))
    assert drops == [50, 50, 20]
    assert state.advertised == {}


def test_transient_peers_the_remote_itself_and_names_are_never_sent() -> None:
    state = PexState(now=0.0, remote=("10.0.0.1", 6881))
    assert state.poll(peers(1, 2), now=0.0) == PexMessage(
        (PexPeer(("10.0.0.2", 6881), F.REACHABLE),), ()
    )
    assert state.poll(peers(1, 2, 3), now=10.0) is None  # 3 comes and goes between messages
    connected = peers(2) | {("example.com", 1): F.NONE, ("10.0.0.9", 0): F.NONE}
    assert state.poll(connected, now=60.0) is None


@settings(max_examples=60)
@given(
    st.lists(
        st.tuples(st.floats(0, 200), st.sets(st.integers(0, 90), max_size=80)),
        min_size=1,
        max_size=25,
    )
)
def test_the_peer_s_view_follows_ours(steps: list[tuple[float, set[int]]]) -> None:
    """Whatever the connected set does, messages keep BEP 11's limits, and once things
    stay still the peer's view (replaying the messages) equals our connected set."""
    state = PexState(now=0.0)
    view: set[tuple[str, int]] = set()
    now = 0.0
    last_sent: float | None = None
    current: dict[tuple[str, int], PexFlags] = {}
    for gap, numbers in steps:
        now += gap
        current = peers(*numbers)
        msg = state.poll(current, now=now)
        if msg is None:
            continue
        if last_sent is not None:  # (the sender adds 60 s to a float: allow its rounding)
            assert now - last_sent >= 60.0 - 1e-9
        last_sent = now
        added = {p.address for p in msg.added}
        assert len(msg.added) <= 50 and len(msg.dropped) <= 50
        assert len(added) == len(msg.added) and len(set(msg.dropped)) == len(msg.dropped)
        assert not added & set(msg.dropped)
        assert not added & view and set(msg.dropped) <= view  # nothing twice
        view = (view | added) - set(msg.dropped)
    for _ in range(4):
        now += 60.0
        msg = state.poll(current, now=now)
        if msg is not None:
            view = (view | {p.address for p in msg.added}) - set(msg.dropped)
    assert view == set(current)


# ---- the receiving side -----------------------------------------------------------------


def test_receive_drops_our_own_address_and_rate_limits() -> None:
    own = ("10.0.0.5", 6881)
    state = PexState(now=0.0, own_addresses=[own])
    payload = encode_pex(PexMessage((PexPeer(own), PexPeer(A4)), (own, B4)))
    assert state.receive(payload, now=1.0) == PexMessage((PexPeer(A4),), (B4,))
    assert state.receive(payload, now=20.0) is None  # a second message within the limit
    assert state.ignored == 1
    assert state.receive(payload, now=47.0) is not None
    with pytest.raises(PexFormatError):
        state.receive(b"nonsense", now=200.0)


def test_our_own_entry_does_not_hide_another_peer_at_our_ip() -> None:
    # libtorrent's message names its recipient too; on loopback (or behind one NAT) every
    # peer has the same IP, and only one contact per IP is taken. Our own entry coming
    # first must not use up that place (the PEX interop test lost the third peer so).
    own = ("127.0.0.1", 36269)
    other = ("127.0.0.1", 44883)
    state = PexState(now=0.0, own_addresses=[own])
    payload = encode_pex(PexMessage((PexPeer(own), PexPeer(other)), ()))
    assert state.receive(payload, now=1.0) == PexMessage((PexPeer(other),), ())
    # without our own address in the way, the rule still keeps one contact per IP
    again = encode_pex(PexMessage((PexPeer(other), PexPeer(("127.0.0.1", 5))), ()))
    assert PexState(now=0.0).receive(again, now=1.0) == PexMessage((PexPeer(other),), ())


# ---- private torrents and a real connection pair ----------------------------------------


def test_private_torrents_do_not_offer_ut_pex() -> None:
    assert extension_handshake(private=True, metadata_size=None) == {b"m": {b"ut_metadata": 2}}
    public = extension_handshake(private=False, metadata_size=1234)
    assert public == {b"m": {b"ut_metadata": 2, b"ut_pex": UT_PEX_ID}, b"metadata_size": 1234}


def _pair() -> tuple[PeerConnection, PeerConnection]:
    a, b = (
        PeerConnection(
            our_peer_id=peer_id,
            initiator=initiator,
            info_hash=bytes(20),
            num_pieces=1,
            piece_length=16384,
            total_length=1,
        )
        for peer_id, initiator in ((b"A" * 20, True), (b"B" * 20, False))
    )
    a.send_handshake()
    _shuttle(a, b)
    return a, b


def _shuttle(a: PeerConnection, b: PeerConnection) -> None:
    for _ in range(100):
        to_b, to_a = a.data_to_send(), b.data_to_send()
        if not to_a and not to_b:
            return
        if to_b:  # b"" would mean end of stream
            b.receive_data(to_b)
        if to_a:
            a.receive_data(to_a)


def test_a_pex_message_between_two_peer_connections() -> None:
    a, b = _pair()
    assert not a.closed and not b.closed
    a.send_extended_handshake(extension_handshake(private=False, metadata_size=None))
    b.send_extended_handshake(extension_handshake(private=False, metadata_size=None))
    _shuttle(a, b)
    a.events()
    b.events()
    sender = PexState(now=0.0, remote=("127.0.0.1", 7000))
    msg = sender.poll({A4: F.REACHABLE, A6: F.SEED, ("127.0.0.1", 7000): F.NONE}, now=0.0)
    assert msg is not None
    a.send_extended(a.remote_extensions["ut_pex"], encode_pex(msg))
    _shuttle(a, b)
    [event] = b.events()
    assert isinstance(event, ExtendedMessageReceived) and event.ext_id == UT_PEX_ID
    got = PexState(now=0.0).receive(event.payload, now=1.0)
    assert got == PexMessage((PexPeer(A4, F.REACHABLE), PexPeer(A6, F.SEED)), ())
