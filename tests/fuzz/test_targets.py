"""Every parser, through its fuzz target (bench/fuzz/targets.py), on three kinds of input:
random bytes, valid seeds with a few bytes changed, and (for bencoded formats) valid seeds
with one node of their tree replaced. A target fails on any exception but the parser's
own error type and on a broken bound (buffer sizes, peer and node counts, round trips);
the deadline bounds time. The seeds themselves must be accepted, or the mutations would
only exercise the first check."""

from __future__ import annotations

import pytest
from bench.fuzz.seeds import seeds
from bench.fuzz.targets import TARGETS, frames
from hypothesis import given
from hypothesis import strategies as st

from bitswarm.bencode import bdecode
from bitswarm.dht.krpc import decode_message
from bitswarm.errors import BencodeError
from bitswarm.ext.lsd import decode_announce
from bitswarm.magnet import parse_magnet
from bitswarm.metainfo.parse import parse_torrent
from bitswarm.storage.resume import read_resume
from bitswarm.tracker.http import parse_announce_response, parse_scrape_response
from bitswarm.tracker_server.config import TrackerConfig
from bitswarm.tracker_server.http_codec import parse_announce, parse_query

from .mutations import byte_mutants, tree_mutants
from .profile import FUZZ, scaled

NAMES = sorted(TARGETS)


def _bencoded(name: str) -> list[bytes]:
    out = []
    for seed in seeds(name):
        try:
            bdecode(seed, strict=False)
        except BencodeError:
            continue
        out.append(seed)
    return out


TREE_TARGETS = sorted(n for n in NAMES if _bencoded(n) and n not in ("wire", "tracker_server"))


def test_every_parser_has_a_target_and_seeds() -> None:
    assert set(NAMES) == {
        "bencode", "metainfo", "magnet", "wire", "extension", "krpc", "dht", "tracker_http",
        "tracker_udp", "tracker_server", "lsd", "resume",
    }  # fmt: skip
    for name in NAMES:
        assert seeds(name), name


def _tracker_announce_ok(data: bytes) -> bool:
    head = data[1:].split(b"\r\n", 1)[0]
    query = head.split(b" ")[1].partition(b"?")[2]
    return parse_announce(parse_query(query), "10.0.0.1", TrackerConfig()) is not None


def test_the_seeds_are_valid_inputs() -> None:
    """Each seed passes its parser's checks: mutations start from the deep end."""
    for data in seeds("metainfo"):
        parse_torrent(data)
    for data in seeds("magnet"):
        parse_magnet(data.decode())
    for data in seeds("krpc"):
        decode_message(data)
    for data in seeds("lsd"):
        decode_announce(data)
    for data in seeds("resume"):
        read_resume(data)
    http = seeds("tracker_http")
    assert len(parse_announce_response(http[0]).peers) == 4
    assert parse_scrape_response(http[3]).files
    assert _tracker_announce_ok(seeds("tracker_server")[0])
    for data in seeds("dht"):
        assert all(frame[1:2] == b"d" for frame in frames(data))
    for name in NAMES:
        for data in seeds(name):
            TARGETS[name](data)


@pytest.mark.parametrize("name", NAMES)
@scaled(0.5)
@given(data=st.binary(max_size=600))
def test_random_bytes(name: str, data: bytes) -> None:
    TARGETS[name](data)


@pytest.mark.parametrize("name", NAMES)
@FUZZ
@given(data=st.data())
def test_byte_mutations_of_valid_inputs(name: str, data: st.DataObject) -> None:
    TARGETS[name](data.draw(byte_mutants(seeds(name)), label="input"))


@pytest.mark.parametrize("name", TREE_TARGETS)
@FUZZ
@given(data=st.data())
def test_one_field_replaced_in_valid_inputs(name: str, data: st.DataObject) -> None:
    TARGETS[name](data.draw(tree_mutants(_bencoded(name)), label="input"))
