"""Torrent data on disk or in memory: piece/file geometry, backends, verification, resume.

`layout`, `verify` and `resume` are pure; `FileStorage` does blocking file I/O and is meant to
be driven from worker threads by `bitswarm.aio.disk.DiskWorker`.
"""

from __future__ import annotations

from .base import DiskFullError, Preallocate, Storage, StorageError, UnsafeStoragePath
from .filesystem import FileStorage
from .layout import FileSpan, FileSpec, Layout
from .memory import MemoryStorage
from .resume import ResumeData, ResumeError, decode_resume, encode_resume, trusted_pieces
from .verify import piece_is_valid, sha1_piece, v2_piece_root

__all__ = [
    "DiskFullError",
    "FileSpan",
    "FileSpec",
    "FileStorage",
    "Layout",
    "MemoryStorage",
    "Preallocate",
    "ResumeData",
    "ResumeError",
    "Storage",
    "StorageError",
    "UnsafeStoragePath",
    "decode_resume",
    "encode_resume",
    "piece_is_valid",
    "sha1_piece",
    "trusted_pieces",
    "v2_piece_root",
]
