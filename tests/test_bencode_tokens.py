"""The bencode token limit (libtorrent's ``max_decode_tokens``) and the cap on recorded
issues: hostile input of many small values is refused before it is built, and the limit
still admits a torrent at bitswarm's own file cap."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitswarm.bencode import (
    DEFAULT_MAX_TOKENS,
    MAX_ISSUES,
    bdecode,
    bencode,
    count_tokens,
    decode_spans,
)
from bitswarm.errors import BencodeError
from bitswarm.metainfo.v2 import MAX_FILES


@pytest.mark.parametrize(
    ("data", "tokens"),
    [
        (b"i3e", 1),
        (b"4:spam", 1),
        (b"le", 2),  # a list counts its start and its end
        (b"l4:spami3ee", 4),
        (b"d3:cow3:mooe", 4),  # a key is a token
        (b"lleldeee", 8),
    ],
)
def test_tokens_are_counted_as_libtorrent_counts_them(data: bytes, tokens: int) -> None:
    assert count_tokens(data) == tokens
    bdecode(data, max_tokens=tokens)
    with pytest.raises(BencodeError, match=f"more than {tokens - 1} tokens"):
        bdecode(data, max_tokens=tokens - 1)


def test_one_token_past_the_limit_is_refused_at_its_byte() -> None:
    data = b"l" + b"le" * 10 + b"e"  # 22 tokens
    assert bdecode(data, max_tokens=22) == [[]] * 10
    with pytest.raises(BencodeError) as info:
        decode_spans(data, max_tokens=21)
    assert "more than 21 tokens" in str(info.value) and info.value.offset == 19  # 10th `le`


_VALUES = st.recursive(
    st.integers(0, 9) | st.binary(max_size=3),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.binary(max_size=2), inner),
)


@given(_VALUES)
def test_the_count_matches_the_limit_for_any_value(value: object) -> None:
    data = bencode(value)
    n = count_tokens(data)
    assert bdecode(data, max_tokens=n) == value
    with pytest.raises(BencodeError, match="tokens"):
        bdecode(data, max_tokens=n - 1)


def test_a_torrent_at_the_file_cap_fits_the_default_limit() -> None:
    """2**20 files, each three folders deep (v1): measured on 1024 such entries, scaled."""

    def torrent(n: int) -> bytes:
        files = [
            {
                b"length": 16385 + i,
                b"path": [b"d%03d" % (i % 1000), b"e%02d" % (i % 97), b"f%07d.bin" % i],
            }
            for i in range(n)
        ]
        info = {b"files": files, b"name": b"big", b"piece length": 1 << 22, b"pieces": bytes(20)}
        return bencode({b"announce": b"http://t/a", b"info": info})

    per_1024 = count_tokens(torrent(1024)) - count_tokens(torrent(0))
    assert per_1024 == 1024 * 10
    assert count_tokens(torrent(0)) + per_1024 * (MAX_FILES // 1024) < DEFAULT_MAX_TOKENS


_HOSTILE = """
import time
from bitswarm.errors import MetainfoError
from bitswarm.metainfo import parse_torrent
data = b"d1:xl" + b"le" * 2**23 + b"ee"
started = time.monotonic()
try:
    parse_torrent(data)
except MetainfoError as exc:
    print(exc)
print(time.monotonic() - started)
# VmHWM: this program's peak (ru_maxrss would count what the forking parent had mapped)
print(next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM:")))
"""


def test_a_torrent_of_millions_of_empty_lists_is_refused_fast_in_little_memory() -> None:
    """Before the limit `parse_torrent(b"d1:xl" + b"le" * 2**23 + b"ee")` took 6.5 s and
    625 MiB of RSS to refuse; at 64 MiB it would have cost over 2 GB. In a process of its
    own, so its peak memory is its own."""
    out = subprocess.run(
        [sys.executable, "-c", _HOSTILE], capture_output=True, text=True, check=True, timeout=120
    ).stdout.splitlines()
    assert f"more than {DEFAULT_MAX_TOKENS} tokens" in out[0]
    assert float(out[1]) < 30  # about 1 s; generous for a loaded CI machine
    assert int(out[2]) < 150 * 1024  # KiB: the 16 MiB input and the interpreter, no values


def test_tolerant_mode_records_a_bounded_number_of_issues() -> None:
    keys = [b"%05d" % i for i in range(5000)]
    data = b"d" + b"".join(b"5:" + k + b"i0e" for k in reversed(keys)) + b"e"
    decoded = decode_spans(data, strict=False)
    assert len(decoded.value) == 5000  # type: ignore[arg-type]
    assert len(decoded.issues) == MAX_ISSUES + 1
    assert decoded.issues[-1] == "more unsorted or duplicate keys not listed"
