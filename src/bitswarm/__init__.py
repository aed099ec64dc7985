"""bitswarm: a complete BitTorrent implementation in Python.

The names below are the library's supported API; the subpackages behind them may change.
Download a torrent (docs/library.md has the whole example, which the tests run):

    import asyncio
    from pathlib import Path

    import bitswarm

    async def main() -> None:
        meta = bitswarm.parse_torrent(Path("file.torrent").read_bytes())
        async with bitswarm.Session() as session:
            torrent = await session.add(meta, Path("downloads"))
            await torrent.wait_complete()  # raises TorrentFailed on a disk error
            print(torrent.status())

    asyncio.run(main())

- Sessions: `Session` runs torrents behind one listening port (`SessionConfig`);
  `Session.add` returns a `TorrentRuntime`, whose `status()` is a `TorrentStatus`.
- Torrents: `parse_torrent` reads a .torrent file into a `Metainfo`; `create_torrent`
  makes one from a file or folder; `torrent_file_bytes` writes a `Metainfo` back out.
- Magnet links: `parse_magnet` gives a `Magnet`; `Session.fetch_metadata` turns it into a
  `Metainfo` (BEP 9).
- Errors: everything bitswarm raises on purpose is a `BitswarmError`, with a message a
  person can act on.

Importing bitswarm is cheap: the session (asyncio, the wire, the DHT) is imported the first
time a program uses a name that needs it.
"""

import importlib as _importlib

from .version import __version__

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (20 ms); mypy knows it
__docformat__ = "google"  # for pdoc: "Raises:" and "Attributes:" sections

# Where each exported name is defined; imported on first use (PEP 562), so that
# `import bitswarm` (and every `bitswarm.<subpackage>`, the tracker server's included)
# does not pay for the session and its drivers.
_ORIGINS: dict[str, str] = {
    "Session": "bitswarm.session",
    "SessionConfig": "bitswarm.session",
    "TorrentRuntime": "bitswarm.session",
    "TorrentState": "bitswarm.session",
    "TorrentStatus": "bitswarm.session",
    "FileProgress": "bitswarm.session",
    "Metainfo": "bitswarm.metainfo",
    "InfoDict": "bitswarm.metainfo",
    "InfoHashes": "bitswarm.metainfo",
    "FileEntry": "bitswarm.metainfo",
    "parse_torrent": "bitswarm.metainfo",
    "parse_info_dict": "bitswarm.metainfo",
    "torrent_file_bytes": "bitswarm.metainfo.encode",
    "create_torrent": "bitswarm.create",
    "Magnet": "bitswarm.magnet",
    "parse_magnet": "bitswarm.magnet",
    "BitswarmError": "bitswarm.errors",
    "BencodeError": "bitswarm.errors",
    "MetainfoError": "bitswarm.errors",
    "UnsafePathError": "bitswarm.errors",
    "MagnetError": "bitswarm.errors",
    "StorageError": "bitswarm.errors",
    "TorrentFailed": "bitswarm.errors",
    "TorrentCreationError": "bitswarm.create",
    "PortInUseError": "bitswarm.session",
    "MetadataTimeout": "bitswarm.session.metadata",
}

__all__ = [
    "BencodeError",
    "BitswarmError",
    "FileEntry",
    "FileProgress",
    "InfoDict",
    "InfoHashes",
    "Magnet",
    "MagnetError",
    "MetadataTimeout",
    "Metainfo",
    "MetainfoError",
    "PortInUseError",
    "Session",
    "SessionConfig",
    "StorageError",
    "TorrentCreationError",
    "TorrentFailed",
    "TorrentRuntime",
    "TorrentState",
    "TorrentStatus",
    "UnsafePathError",
    "__version__",
    "create_torrent",
    "parse_info_dict",
    "parse_magnet",
    "parse_torrent",
    "torrent_file_bytes",
]

if TYPE_CHECKING:  # what type checkers and editors see; at run time __getattr__ imports
    from .create import TorrentCreationError, create_torrent
    from .errors import (
        BencodeError,
        BitswarmError,
        MagnetError,
        MetainfoError,
        StorageError,
        TorrentFailed,
        UnsafePathError,
    )
    from .magnet import Magnet, parse_magnet
    from .metainfo import (
        FileEntry,
        InfoDict,
        InfoHashes,
        Metainfo,
        parse_info_dict,
        parse_torrent,
    )
    from .metainfo.encode import torrent_file_bytes
    from .session import (
        FileProgress,
        PortInUseError,
        Session,
        SessionConfig,
        TorrentRuntime,
        TorrentState,
        TorrentStatus,
    )
    from .session.metadata import MetadataTimeout
else:  # hidden from type checkers, which then flag a misspelt name

    def __getattr__(name: str) -> object:
        origin = _ORIGINS.get(name)
        if origin is None:
            raise AttributeError(f"module 'bitswarm' has no attribute {name!r}")
        value = getattr(_importlib.import_module(origin), name)
        globals()[name] = value  # the next lookup is a plain module attribute
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *__all__})


del TYPE_CHECKING
