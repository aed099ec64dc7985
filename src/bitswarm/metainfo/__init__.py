"""Torrent metainfo (.torrent files, BEP 3/12/19/27/47/52): parse, validate, describe.

L0 codec: bytes in, frozen dataclasses out, no I/O. Start with `parse_torrent` for a
.torrent file or `parse_info_dict` for metadata fetched from peers (BEP 9).
"""

from __future__ import annotations

from .model import FileEntry, InfoDict, InfoHashes, Metainfo
from .parse import MAX_PIECES, parse_info_dict, parse_torrent
from .paths import WINDOWS_RESERVED_NAMES, decode_text, safe_relative_path
from .piece_length import MAX_PIECE_LENGTH, MIN_V2_PIECE_LENGTH, auto_piece_length
from .v2 import MAX_FILES, MAX_TOTAL_LENGTH

__all__ = [
    "MAX_FILES",
    "MAX_PIECES",
    "MAX_PIECE_LENGTH",
    "MAX_TOTAL_LENGTH",
    "MIN_V2_PIECE_LENGTH",
    "WINDOWS_RESERVED_NAMES",
    "FileEntry",
    "InfoDict",
    "InfoHashes",
    "Metainfo",
    "auto_piece_length",
    "decode_text",
    "parse_info_dict",
    "parse_torrent",
    "safe_relative_path",
]
