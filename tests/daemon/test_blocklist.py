"""The IP blocklist (daemon/blocklist.py): both text formats, IPv4 and IPv6, bad lines
counted and skipped, gzip, merging, lookups checked against brute force, reload on change,
and its speed with half a million ranges."""

from __future__ import annotations

import gzip
import ipaddress
import os
import random
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitswarm.daemon.blocklist import Blocklist, BlocklistFile, parse_range
from bitswarm.daemon.model import DaemonError

SAMPLE = """\
# a comment, then a blank line

Some org: with colons:1.2.3.0-1.2.3.255
001.002.005.000 - 001.002.005.015 , 000 , a DAT line, zero-padded
009.009.009.000 - 009.009.009.255 , 127 , allowed in eMule's reading
spam:2001:db8::-2001:db8::ffff
2001:db8:1::10-2001:db8:1::20
2001:db8:2:: - 2001:db8:2::ff , 50 , DAT with IPv6
10.0.0.0/8
192.0.2.7
this is not a range
bad octet:1.2.3.256-1.2.4.0
backwards:1.2.3.9-1.2.3.1
mixed:1.2.3.4-::1
5.5.5.5 - 5.5.5.6 , x , no level
"""


def v4(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


def test_both_formats_and_both_families() -> None:
    blocklist = Blocklist.from_lines(SAMPLE.splitlines())
    assert blocklist.bad_lines == 5
    assert blocklist.entries == 7
    blocked = [
        "1.2.3.0",
        "1.2.3.128",
        "1.2.3.255",
        "1.2.5.0",
        "1.2.5.15",
        "2001:db8::",
        "2001:db8::abcd",
        "2001:db8:1::10",
        "2001:db8:1::20",
        "2001:db8:2::1",
        "10.255.255.255",
        "192.0.2.7",
        "::ffff:1.2.3.4",  # an IPv4-mapped IPv6 address is its IPv4 one
        "[2001:db8::1]",
    ]
    passed = [
        "1.2.2.255",
        "1.2.4.0",
        "1.2.5.16",
        "9.9.9.9",  # level 127: allowed
        "2001:db8::1:0",
        "2001:db8:1::f",
        "2001:db8:1::21",
        "11.0.0.0",
        "192.0.2.8",
        "5.5.5.5",
        "::ffff:1.2.4.0",
        "not an address",
        "",
    ]
    assert [h for h in blocked if not blocklist.blocked(h)] == []
    assert [h for h in passed if blocklist.blocked(h)] == []


def test_parse_range_one_line_at_a_time() -> None:
    assert parse_range("   ") is True
    assert parse_range("  # note") is True
    assert parse_range("x:1.2.3.4-1.2.3.4") == (4, v4("1.2.3.4"), v4("1.2.3.4"))
    assert parse_range("1.2.3.4 - 1.2.3.5") == (4, v4("1.2.3.4"), v4("1.2.3.5"))
    assert parse_range("1.2.3.4 - 1.2.3.5 , 126 , x") == (4, v4("1.2.3.4"), v4("1.2.3.5"))
    assert parse_range("1.2.3.4 - 1.2.3.5 , 200 , x") is True
    assert parse_range("a:b: c:2001:db8::1-2001:db8::2") == (
        6,
        int(ipaddress.IPv6Address("2001:db8::1")),
        int(ipaddress.IPv6Address("2001:db8::2")),
    )
    assert parse_range("::/0") == (6, 0, 2**128 - 1)
    for bad in ("x", "x:1.2.3-1.2.3.4", "x:1.2.3.4-", "x:foo-::1", ",", "a - b , 1", "x:-::1"):
        assert parse_range(bad) is None, bad


def test_merging_overlapping_and_adjacent_ranges() -> None:
    lines = [
        "a:1.0.0.0-1.0.0.10",
        "b:1.0.0.5-1.0.0.20",  # overlaps a
        "c:1.0.0.21-1.0.0.30",  # adjacent to b
        "d:1.0.0.2-1.0.0.3",  # inside a
        "e:1.0.0.32-1.0.0.40",  # a gap of one address
        "f:::1-::5",
        "g:::6-::9",
    ]
    blocklist = Blocklist.from_lines(lines)
    assert blocklist.entries == 7
    assert len(blocklist) == 3
    assert blocklist.blocked("1.0.0.30") and not blocklist.blocked("1.0.0.31")
    assert blocklist.blocked("1.0.0.32") and blocklist.blocked("::9")
    assert len(Blocklist()) == 0 and not Blocklist().blocked("1.2.3.4")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 300), st.integers(0, 40)), max_size=30),
    st.lists(st.integers(0, 400), min_size=1, max_size=50),
)
def test_lookups_agree_with_brute_force(spans: list[tuple[int, int]], probes: list[int]) -> None:
    base = v4("100.0.0.0")
    lines = [
        f"r{i}:{ipaddress.IPv4Address(base + a)}-{ipaddress.IPv4Address(base + a + n)}"
        for i, (a, n) in enumerate(spans)
    ]
    v6_lines = [f"{ipaddress.IPv6Address(a)}-{ipaddress.IPv6Address(a + n)}" for a, n in spans]
    blocklist = Blocklist.from_lines(lines + v6_lines)
    for probe in probes:
        expected = any(a <= probe <= a + n for a, n in spans)
        assert blocklist.blocked(str(ipaddress.IPv4Address(base + probe))) is expected
        assert blocklist.blocked(str(ipaddress.IPv6Address(probe))) is expected


# --------------------------------------------------------------------- files


def test_from_file_plain_and_gzip(tmp_path: Path) -> None:
    plain = tmp_path / "list.p2p"
    plain.write_bytes(SAMPLE.encode() + b"caf\xe9 in latin-1:7.7.7.0-7.7.7.9\n")
    packed = tmp_path / "list.txt"  # gzip told by its bytes, not its name
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    for path in (plain, packed):
        blocklist = Blocklist.from_file(path)
        assert blocklist.entries == 8 and blocklist.bad_lines == 5
        assert blocklist.blocked("7.7.7.7") and blocklist.blocked("1.2.3.4")


def test_from_file_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(DaemonError, match=r"blocklist .*missing: No such file"):
        Blocklist.from_file(tmp_path / "missing")
    broken = tmp_path / "broken.gz"
    broken.write_bytes(gzip.compress(b"a:1.2.3.4-1.2.3.5\n" * 100)[:30])
    with pytest.raises(DaemonError, match=r"blocklist .*broken\.gz"):
        Blocklist.from_file(broken)


def test_reload_when_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "blocklist.txt"
    watched = BlocklistFile(path)
    assert watched.reload_if_changed() is False  # no file yet: nothing to do
    path.write_text("a:1.1.1.1-1.1.1.1\n")
    assert watched.reload_if_changed() is True
    assert watched.blocklist.blocked("1.1.1.1")
    assert watched.reload_if_changed() is False  # unchanged: not read again
    path.write_text("a:2.2.2.2-2.2.2.2\n")  # same size, new content and time
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert watched.reload_if_changed() is True
    assert watched.blocklist.blocked("2.2.2.2") and not watched.blocklist.blocked("1.1.1.1")
    path.write_text("a:2.2.2.2-2.2.2.2\nb:3.3.3.3-3.3.3.3\n")
    assert watched.reload_if_changed() is True
    assert len(watched.blocklist) == 2
    path.unlink()
    path.mkdir()  # unreadable now: the previous list stays
    assert watched.reload_if_changed() is False
    assert watched.blocklist.blocked("3.3.3.3")
    path.rmdir()  # gone: nothing is blocked
    assert watched.reload_if_changed() is True
    assert len(watched.blocklist) == 0
    assert watched.reload_if_changed() is False


@pytest.mark.timeout(120)  # builds a 500,000-line file on a shared machine
def test_half_a_million_ranges(tmp_path: Path) -> None:
    rng = random.Random(7)
    starts = sorted(rng.sample(range(0, 2**32 - 256, 256), 500_000))
    path = tmp_path / "big.p2p"
    with path.open("w") as out:
        for n, start in enumerate(starts):
            first, last = ipaddress.IPv4Address(start), ipaddress.IPv4Address(start + 99)
            out.write(f"range {n}:{first}-{last}\n")
    began = time.perf_counter()
    blocklist = Blocklist.from_file(path)
    loaded = time.perf_counter() - began
    assert len(blocklist) == 500_000 and blocklist.bad_lines == 0
    probes = [str(ipaddress.IPv4Address(rng.randrange(2**32))) for _ in range(100_000)]
    inside = [str(ipaddress.IPv4Address(s + 50)) for s in starts[:1000]]
    began = time.perf_counter()
    hits = sum(blocklist.blocked(p) for p in probes)
    looked = time.perf_counter() - began
    assert all(blocklist.blocked(p) for p in inside)
    # 500,000 ranges of 100 addresses cover 1.16 % of the IPv4 space
    assert 0.009 < hits / len(probes) < 0.014
    outside = [str(ipaddress.IPv4Address(s + 100)) for s in starts[:1000]]
    assert not any(blocklist.blocked(p) for p in outside)
    print(f"500k ranges: loaded in {loaded:.2f} s, {looked / len(probes) * 1e6:.2f} µs a lookup")
    assert loaded < 30
    assert looked / len(probes) < 50e-6
