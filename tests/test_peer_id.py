"""BEP 20 peer ids: ours is -BS0100- plus 12 random characters; others are named for display."""

from __future__ import annotations

import random

import pytest

from bitswarm.peer_id import PEER_ID_PREFIX, client_name, make_peer_id


def test_our_peer_id_shape_and_determinism() -> None:
    pid = make_peer_id(random.Random(1))
    assert len(pid) == 20
    assert pid.startswith(b"-BS0100-") and PEER_ID_PREFIX == b"-BS0100-"
    assert pid[8:].isalnum() and pid[8:].isascii()
    assert make_peer_id(random.Random(1)) == pid
    ids = {make_peer_id(random.Random(seed)) for seed in range(200)}
    assert len(ids) == 200
    chars = b"".join(make_peer_id(random.Random(seed))[8:] for seed in range(1000))
    counts = [chars.count(c) for c in set(chars)]
    assert len(counts) == 62  # every letter and digit shows up ...
    assert max(counts) < 1.4 * len(chars) / 62  # ... and none twice as often (no modulo bias)


def test_custom_prefix() -> None:
    assert make_peer_id(random.Random(0), b"-XX0001-").startswith(b"-XX0001-")
    with pytest.raises(ValueError):
        make_peer_id(random.Random(0), b"x" * 21)


@pytest.mark.parametrize(
    ("peer_id", "name"),
    [
        (b"-BS0100-abcdefghijkl", "bitswarm 0.1.0"),
        (b"-qB4520-abcdefghijkl", "qBittorrent 4.5.2"),
        (b"-LT2010-abcdefghijkl", "libtorrent 2.0.1"),
        (b"-lt0D60-abcdefghijkl", "libTorrent (rakshasa) 0.13.6"),
        (b"-TR300Z-abcdefghijkl", "Transmission 3.00+"),
        (b"-TR2940-abcdefghijkl", "Transmission 2.94"),
        (b"-AZ2060-abcdefghijkl", "Azureus 2.0.6"),
        (b"-DE13F0-abcdefghijkl", "Deluge 1.3.15"),
        (b"M4-3-6--abcdefghijkl", "Mainline 4.3.6"),
        (b"M4-20-8-abcdefghijkl", "Mainline 4.20.8"),
        (b"S58B-----abcdefghijk", "Shadow's client 5.8.11"),
        (b"T03I-----abcdefghijk", "BitTornado 0.3.18"),
        (b"exbc\x00\x38LORDabcdefghij", "BitLord 0.56"),
        (b"exbc\x00\x38xyzwabcdefghij", "BitComet 0.56"),
        (b"XBT054d-abcdefghijkl", "XBT Client 0.5.4 (debug)"),
        (b"OP8123abcdefghijklmn", "Opera (build 8123)"),
        (b"-ZZ1234-abcdefghijkl", "unknown (-ZZ1234-)"),
        (b"\x00\x03BS\xff\xfeabcdefghijklmn", "BitSpirit 3.x"),
        (b"\x00\x07BS\xff\xfeabcdefghijklmn", "unknown (..BS..ab)"),
        (b"short", "unknown (short)"),
        (b"", "unknown ()"),
    ],
)
def test_client_name(peer_id: bytes, name: str) -> None:
    assert client_name(peer_id) == name
