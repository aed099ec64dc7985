"""Private mode: only listed info-hashes are tracked. The list's format, parsed purely.

The file holds one v1 info-hash a line as 40 hex digits, optionally followed by
whitespace and a note (a torrent's name); blank lines and lines starting with ``#`` are
ignored. opentracker reads the same shape (``-w FILE``), so one list serves both. The
front-end reads the file at start and again on SIGHUP; a reload that fails keeps the
previous list, so a half-written file never opens or closes the tracker by accident.
"""

from __future__ import annotations

import re

from .config import ConfigError

__all__ = ["Whitelist", "parse_whitelist"]

_HEX40 = re.compile(r"[0-9a-fA-F]{40}")


def parse_whitelist(text: str, *, source: str = "whitelist") -> frozenset[bytes]:
    """The 20-byte info-hashes listed in `text`.

    Raises:
        ConfigError: a line that is neither blank, a comment nor a hex info-hash, named
            by its number so a person can fix it.
    """
    out: set[bytes] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        token = stripped.split(None, 1)[0]
        if not _HEX40.fullmatch(token):
            shown = token[:60]
            raise ConfigError(f"{source} line {number}: {shown!r} is not a 40-digit hex info-hash")
        out.add(bytes.fromhex(token))
    return frozenset(out)


class Whitelist:
    """The allowed info-hashes, or everything when the tracker is public (`None`)."""

    __slots__ = ("_hashes",)

    def __init__(self, hashes: frozenset[bytes] | None = None) -> None:
        self._hashes = hashes

    @property
    def enabled(self) -> bool:
        return self._hashes is not None

    def __len__(self) -> int:
        return len(self._hashes) if self._hashes is not None else 0

    def allows(self, info_hash: bytes) -> bool:
        return self._hashes is None or info_hash in self._hashes

    def replace(self, hashes: frozenset[bytes]) -> None:
        """Swap in a freshly parsed list (SIGHUP)."""
        self._hashes = hashes
