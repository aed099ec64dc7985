"""The IP blocklist: address ranges peers may not come from, read from P2P or DAT files.

Two text formats are in use (the lists Transmission, qBittorrent and PeerGuardian read):

* P2P (PeerGuardian): ``description:1.2.3.0-1.2.3.255``; the description may hold colons,
  and the addresses may be IPv6 (``spam:2001:db8::-2001:db8::ffff``).
* DAT (eMule's ipfilter.dat): ``001.002.003.000 - 001.002.003.255 , 000 , description``;
  octets may be zero-padded, and a range whose access level is 127 or more is allowed,
  not blocked, as eMule reads it.

A bare address or CIDR network on a line is taken too. ``#`` comments and blank lines are
skipped; a line that is none of these is counted in `Blocklist.bad_lines` and skipped, so
one typo never disables the whole list. A file may be gzip-compressed (told by its first
bytes, not its name). Overlapping and adjacent ranges are merged into sorted, disjoint
ranges, and `Blocklist.blocked` is a binary search: fast for half a million ranges.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import zlib
from array import array
from bisect import bisect_right
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from ..readlimit import MAX_LIST_FILE, InputTooLarge, gunzip_limited, read_limited
from .model import DaemonError

__all__ = ["Blocklist", "BlocklistFile", "parse_range"]

log = logging.getLogger(__name__)

_V4 = r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})"
_P2P_V4 = re.compile(rf".*:\s*{_V4}\s*-\s*{_V4}\s*")
_DAT_V4 = re.compile(rf"\s*{_V4}\s*-\s*{_V4}\s*,\s*(\d+)\s*(?:,.*)?")
_DAT_LEVEL_ALLOWED = 127  # eMule: a range at this access level or above is let through

Range = tuple[int, int, int]  # (ip version, first, last) as integers


def _v4(octets: Iterable[str]) -> int | None:
    value = 0
    for octet in octets:
        number = int(octet)
        if number > 255:
            return None
        value = value << 8 | number
    return value


def _address(text: str) -> tuple[int, int] | None:
    """(version, integer) of an address; IPv4 octets may be zero-padded (DAT files)."""
    text = text.strip()
    parts = text.split(".")
    if len(parts) == 4 and all(p.isdigit() and len(p) <= 3 for p in parts):
        value = _v4(parts)
        return None if value is None else (4, value)
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return address.version, int(address)


def _v4_span(groups: tuple[str | Any, ...]) -> Range | None:
    first, last = _v4(groups[0:4]), _v4(groups[4:8])
    return None if first is None or last is None or first > last else (4, first, last)


def _span(first: str, last: str) -> Range | None:
    a, b = _address(first), _address(last)
    if a is None or b is None or a[0] != b[0] or a[1] > b[1]:
        return None
    return a[0], a[1], b[1]


def parse_range(line: str) -> Range | Literal[True] | None:
    """One line: a range to block; True for a line with nothing to block (blank, comment,
    an allowed DAT range); None for a line that cannot be read."""
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return True
    if match := _DAT_V4.fullmatch(stripped):  # the common cases first, without ipaddress
        if int(match[9]) >= _DAT_LEVEL_ALLOWED:
            return True
        return _v4_span(match.groups())
    if match := _P2P_V4.fullmatch(stripped):
        return _v4_span(match.groups())
    if "," in stripped:  # DAT with IPv6 addresses
        fields = [f.strip() for f in stripped.split(",")]
        if len(fields) >= 2 and "-" in fields[0] and fields[1].isdigit():
            if int(fields[1]) >= _DAT_LEVEL_ALLOWED:
                return True
            start, _, end = fields[0].partition("-")
            return _span(start, end)
        return None
    if "-" in stripped:  # P2P with IPv6 addresses: the description may hold colons too
        head, _, end = stripped.rpartition("-")
        if _address(end) is None:
            return None
        # Where does the description end? "dead:2001:db8::1" is an address too, so take
        # the tail after a colon (or the whole, with no description) that makes the
        # tightest valid range: a range's ends share their leading groups.
        tails = [head] + [head[i + 1 :] for i, char in enumerate(head) if char == ":"]
        spans = [span for tail in tails if (span := _span(tail, end)) is not None]
        return min(spans, key=lambda span: span[2] - span[1], default=None)
    try:  # a bare address or network
        network = ipaddress.ip_network(stripped, strict=False)
    except ValueError:
        return None
    low = int(network.network_address)
    return network.version, low, low + network.num_addresses - 1


def _merged(spans: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    spans.sort()
    starts: list[int] = []
    ends: list[int] = []
    for first, last in spans:
        if ends and first <= ends[-1] + 1:  # overlapping or adjacent
            if last > ends[-1]:
                ends[-1] = last
        else:
            starts.append(first)
            ends.append(last)
    return starts, ends


class Blocklist:
    """Sorted, disjoint ranges of blocked addresses, IPv4 and IPv6 apart."""

    __slots__ = ("_v4_ends", "_v4_starts", "_v6_ends", "_v6_starts", "bad_lines", "entries")

    def __init__(self, ranges: Iterable[Range] = (), *, bad_lines: int = 0) -> None:
        spans: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
        count = 0
        for version, first, last in ranges:
            spans[version].append((first, last))
            count += 1
        starts4, ends4 = _merged(spans[4])
        self._v4_starts = array("I", starts4)  # 4 bytes a value, not an int object each
        self._v4_ends = array("I", ends4)
        self._v6_starts, self._v6_ends = _merged(spans[6])
        self.entries = count  # ranges read, before merging
        self.bad_lines = bad_lines

    @classmethod
    def from_lines(cls, lines: Iterable[str]) -> Blocklist:
        ranges: list[Range] = []
        bad = 0
        for line in lines:
            parsed = parse_range(line)
            if parsed is None:
                bad += 1
            elif parsed is not True:
                ranges.append(parsed)
        return cls(ranges, bad_lines=bad)

    @classmethod
    def from_file(cls, path: Path) -> Blocklist:
        """Read a P2P or DAT list, gzip-compressed or not (blocking: run it in a thread).

        Raises:
            DaemonError: the file cannot be read or decompressed.
        """
        try:
            raw = read_limited(path, MAX_LIST_FILE, what="blocklist")
            if raw[:2] == b"\x1f\x8b":
                raw = gunzip_limited(raw, MAX_LIST_FILE, where=f"blocklist {path}")
        except InputTooLarge as exc:
            raise DaemonError(str(exc)) from None
        except OSError as exc:
            raise DaemonError(f"blocklist {path}: {exc.strerror or exc}") from None
        except (EOFError, zlib.error) as exc:
            raise DaemonError(f"blocklist {path}: not a complete gzip file ({exc})") from None
        blocklist = cls.from_lines(raw.decode("utf-8", "replace").splitlines())
        if blocklist.bad_lines:
            log.warning("blocklist %s: %d unreadable lines skipped", path, blocklist.bad_lines)
        return blocklist

    def __len__(self) -> int:
        """Disjoint ranges after merging."""
        return len(self._v4_starts) + len(self._v6_starts)

    def blocked(self, host: str) -> bool:
        """Whether `host` (an IPv4 or IPv6 address; an IPv4-mapped IPv6 address counts as
        its IPv4 one) is in a blocked range. Text that is not an address is not blocked."""
        try:
            address = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        value = int(address)
        if address.version == 4:
            index = bisect_right(self._v4_starts, value) - 1
            return index >= 0 and value <= self._v4_ends[index]
        index = bisect_right(self._v6_starts, value) - 1
        return index >= 0 and value <= self._v6_ends[index]


class BlocklistFile:
    """A blocklist read from a file and read again when the file changes (its modification
    time or size), as the daemon's periodic check calls `reload_if_changed`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.blocklist = Blocklist()
        self._seen: tuple[int, int] | None = None  # (mtime_ns, size) last read

    def reload_if_changed(self) -> bool:
        """Read the file again if it changed since the last read (blocking). A file that
        is gone empties the list; one that cannot be read keeps the previous list.

        Returns:
            Whether `blocklist` was replaced.
        """
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            if self._seen is None:
                return False
            log.warning("blocklist %s is gone: nothing is blocked now", self.path)
            self._seen = None
            self.blocklist = Blocklist()
            return True
        except OSError as exc:
            log.warning("blocklist %s: %s; keeping the previous list", self.path, exc)
            return False
        seen = (stat.st_mtime_ns, stat.st_size)
        if seen == self._seen:
            return False
        try:
            blocklist = Blocklist.from_file(self.path)
        except DaemonError as exc:
            log.warning("%s; keeping the previous list", exc)
            return False
        self._seen = seen
        self.blocklist = blocklist
        log.info("blocklist %s: %d ranges", self.path, len(blocklist))
        return True
