"""bitswarm: a complete BitTorrent implementation in Python."""

from __future__ import annotations

from .version import __version__

__all__ = ["__version__"]
