"""The cached/fast paths of addresses.py give exactly what the `ipaddress` module gives."""

from __future__ import annotations

import ipaddress
import random

import pytest

from bitswarm.addresses import decode_addresses, encode_address, ipv4_text
from bitswarm.errors import LocalProtocolError


def test_ipv4_text_matches_ipaddress() -> None:
    rng = random.Random(5)
    for raw in [bytes(4), b"\xff" * 4, *(rng.randbytes(4) for _ in range(2000))]:
        assert ipv4_text(raw) == str(ipaddress.IPv4Address(raw))


def test_encode_address_cache_keeps_refusing_bad_hosts() -> None:
    for _ in range(2):  # the second call must not hit a cached success
        with pytest.raises(LocalProtocolError):
            encode_address("router.bittorrent.com", 6881)
    packed = encode_address("10.1.2.3", 6881)
    assert packed == encode_address("10.1.2.3", 6881) == bytes([10, 1, 2, 3, 0x1A, 0xE1])
    assert decode_addresses(packed, 6) == [("10.1.2.3", 6881)]
    assert decode_addresses(encode_address("::1", 1), 18) == [("::1", 1)]
