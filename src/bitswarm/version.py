"""bitswarm's version, in one place, and the forms the protocols carry it in.

pyproject.toml reads `__version__` from this module (a dynamic version), so the package
metadata, ``bitswarm --version``, our peer-id prefix (BEP 20), the ``v`` of the extension
handshake (BEP 10) and of DHT messages (BEP 5), the tracker User-Agent and the ``created
by`` of new torrents all follow one string. Change the version here and nowhere else.
"""

from __future__ import annotations

__all__ = [
    "AZUREUS_PREFIX",
    "CLIENT_NAME",
    "DHT_VERSION",
    "USER_AGENT",
    "VERSION_PARTS",
    "__version__",
]

__version__ = "0.1.0"

#: (major, minor, patch) as numbers
VERSION_PARTS: tuple[int, ...] = tuple(int(part) for part in __version__.split(".")[:3])
_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # one character a number (BEP 20 decoders)

#: BEP 10 ``v`` (extension handshake): a human-readable client name and version
CLIENT_NAME = f"bitswarm {__version__}"
#: HTTP User-Agent (tracker announces) and a new torrent's ``created by``
USER_AGENT = f"bitswarm/{__version__}"
#: BEP 20, Azureus style: ``-BS`` + four version digits + ``-`` (0.1.0 -> ``-BS0100-``)
AZUREUS_PREFIX = b"-BS" + "".join(_DIGITS[n] for n in (*VERSION_PARTS, 0)).encode() + b"-"
#: BEP 5 ``v``: the client code of our peer id, then major and minor as one byte each
DHT_VERSION = b"BS" + bytes(VERSION_PARTS[:2])
