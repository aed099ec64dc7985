"""The error types of bitswarm.

Two families, as h11 draws them:

* `ProtocolError` for the wire and tracker cores: `RemoteProtocolError` when a peer
  or server broke the protocol (the driver closes that connection, the session may
  ban), `LocalProtocolError` when we misused our own API (a bug in bitswarm).
* `BitswarmError` subclasses for things a person can act on: a bad torrent, a bad
  magnet link, a path that would leave the download folder. The command line prints
  these as one line and exits non-zero.
"""

from __future__ import annotations

__all__ = [
    "BencodeError",
    "BitswarmError",
    "LocalProtocolError",
    "MagnetError",
    "MetainfoError",
    "ProtocolError",
    "RemoteProtocolError",
    "StorageError",
    "TorrentFailed",
    "UnsafePathError",
]


class BitswarmError(Exception):
    """Base of every error bitswarm raises on purpose."""


class BencodeError(BitswarmError):
    """Bytes that are not valid bencoding; `offset` is where decoding stopped."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} at byte {offset}")
        self.reason = message
        self.offset = offset


class MetainfoError(BitswarmError):
    """A torrent file that is not a valid or acceptable metainfo dictionary."""


class UnsafePathError(MetainfoError):
    """A file path in a torrent that would land outside the download folder."""


class MagnetError(BitswarmError):
    """A magnet URI we cannot use."""


class StorageError(BitswarmError):
    """Reading or writing torrent data failed (disk full, permissions, ...)."""


class TorrentFailed(BitswarmError):
    """A torrent can no longer complete: it stopped on an error (a disk error, no
    metadata in time) or was stopped first. Waiting on it raises this instead of hanging.

    Attributes:
        reason: the cause alone (the message also names the torrent).
    """

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = message if reason is None else reason


class ProtocolError(Exception):
    """Base of the protocol-core errors."""


class RemoteProtocolError(ProtocolError):
    """The remote side (peer, tracker, DHT node) broke the protocol."""


class LocalProtocolError(ProtocolError):
    """We called a protocol core in a way its rules forbid: a bug in bitswarm."""
