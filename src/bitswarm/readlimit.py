"""Reading a file named by a path, with a bound on its size that never trusts `stat()`.

`stat().st_size` is 0 for `/dev/zero`, `/dev/urandom`, a FIFO or a process substitution
such as `<(curl …)`, so a size check before `read_bytes()` lets those read without end
(`bitswarm info /dev/zero` took 4.7 GB in 10 s, issue 14). `read_limited` reads at most
`limit + 1` bytes whatever the file is, and refuses it with a one-line error when that
many came: memory stays bounded by the limit. Every .torrent, resume, state, config,
blocklist and whitelist file bitswarm reads from a path goes through here.
"""

from __future__ import annotations

import os
import zlib

from .errors import BitswarmError

__all__ = [
    "MAX_CONFIG_FILE",
    "MAX_LIST_FILE",
    "MAX_STATE_FILE",
    "MAX_TORRENT_FILE",
    "InputTooLarge",
    "gunzip_limited",
    "read_limited",
]

MAX_TORRENT_FILE = 64 * 2**20  # .torrent files (libtorrent's default max_buffer_size is 10 MB)
MAX_STATE_FILE = 64 * 2**20  # resume data, the DHT routing table: far above any real one
MAX_CONFIG_FILE = 2**20  # a TOML settings file
MAX_LIST_FILE = 256 * 2**20  # IP blocklists and tracker whitelists (uncompressed too)


class InputTooLarge(BitswarmError):
    """A file (or pipe, or device) held more bytes than the limit for its kind."""


def read_limited(path: str | os.PathLike[str], limit: int, *, what: str = "file") -> bytes:
    """The whole content of `path`, at most `limit` bytes (devices and pipes included).

    Raises:
        InputTooLarge: more than `limit` bytes could be read ("<path>: more than N bytes,
            too large for a <what>").
        OSError: the path cannot be opened or read (missing, a folder, no permission).
    """
    with open(path, "rb") as file:  # buffered: read(n) loops until n bytes or the end
        data = file.read(limit + 1)
    if len(data) > limit:
        raise InputTooLarge(f"{os.fspath(path)}: more than {limit} bytes, too large for a {what}")
    return data


def gunzip_limited(data: bytes, limit: int, *, where: str) -> bytes:
    """Decompress gzip `data` into at most `limit` bytes (a small gzip bomb expands to
    gigabytes: the output is bounded, not the input).

    Raises:
        InputTooLarge: it expands beyond `limit`.
        zlib.error, EOFError: not a complete gzip stream.
    """
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out = inflater.decompress(data, limit + 1)
    if len(out) > limit:
        raise InputTooLarge(f"{where}: expands to more than {limit} bytes")
    if not inflater.eof:
        raise EOFError("compressed data ended before the end-of-stream marker")
    return out
