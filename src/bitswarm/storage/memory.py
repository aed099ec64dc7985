"""`MemoryStorage`: the `Storage` interface over byte arrays, for tests and small payloads.

It follows `FileStorage`'s rules so the two are interchangeable: a file exists only once it is
created or written, reads past the written end of a file fail, pad regions read as zeros and
only accept zeros (BEP 47). Each file's "mtime" is a counter bumped on every change, so
fast-resume checks behave as they do on disk. Thread-safe (one lock; it only copies bytes).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from ..errors import LocalProtocolError, StorageError
from .base import Preallocate, check_padding
from .layout import Layout

__all__ = ["MemoryStorage"]


class MemoryStorage:
    """`Storage` kept in memory; `files[i]` is None until file `i` is created or written."""

    def __init__(self, layout: Layout) -> None:
        self._layout = layout
        self._lock = threading.Lock()
        self.files: list[bytearray | None] = [None] * len(layout.files)
        self._versions = [0] * len(layout.files)
        self._clock = 0
        self._closed = False

    @property
    def layout(self) -> Layout:
        return self._layout

    def read(self, piece: int, begin: int, length: int) -> bytes:
        out = bytearray(length)
        self.readinto(piece, begin, memoryview(out))
        return bytes(out)

    def readinto(self, piece: int, begin: int, target: memoryview) -> None:
        spans = self._layout.spans(piece, begin, len(target))
        out = target
        pos = 0
        with self._lock:
            self._check_open()
            for span in spans:
                if not self._layout.files[span.file_index].is_pad:
                    content = self.files[span.file_index]
                    end = span.file_offset + span.length
                    if content is None or len(content) < end:
                        raise StorageError(f"file {span.file_index} is missing or too short")
                    out[pos : pos + span.length] = content[span.file_offset : end]
                else:
                    out[pos : pos + span.length] = bytes(span.length)
                pos += span.length

    def read_piece(self, piece: int) -> bytes:
        return self.read(piece, 0, self._layout.piece_size(piece))

    def write(self, piece: int, begin: int, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data).cast("B")
        spans = self._layout.spans(piece, begin, len(view))
        files = self._layout.files
        check_padding(self._layout, spans, view)
        pos = 0
        with self._lock:
            self._check_open()
            for span in spans:
                if not files[span.file_index].is_pad:
                    content = self._file(span.file_index)
                    end = span.file_offset + span.length
                    if len(content) < end:
                        content.extend(bytes(end - len(content)))
                    content[span.file_offset : end] = view[pos : pos + span.length]
                    self._touch(span.file_index)
                pos += span.length

    def file_sizes_and_mtimes(self) -> list[tuple[int, int] | None]:
        with self._lock:
            return [
                None if content is None or spec.is_pad else (len(content), version)
                for spec, content, version in zip(
                    self._layout.files, self.files, self._versions, strict=True
                )
            ]

    def create_files(self, preallocate: Preallocate = "sparse") -> None:
        if preallocate not in ("sparse", "none"):
            raise LocalProtocolError(f"unknown preallocation {preallocate!r}")
        with self._lock:
            self._check_open()
            for index, spec in enumerate(self._layout.files):
                if spec.is_pad or (preallocate == "none" and spec.length):
                    continue
                content = self._file(index)
                if len(content) < spec.length:
                    content.extend(bytes(spec.length - len(content)))
                self._touch(index)

    def flush(self) -> None:
        with self._lock:
            self._check_open()

    def close(self) -> None:
        with self._lock:
            self._closed = True

    def set_file_priorities(self, priorities: Sequence[int]) -> None:
        """Memory holds every file: priorities change nothing here."""
        if len(priorities) != len(self._layout.files):
            raise LocalProtocolError(
                f"{len(priorities)} priorities for {len(self._layout.files)} files"
            )

    def delete_files(self) -> None:
        with self._lock:
            self._closed = True
            self.files = [None] * len(self._layout.files)

    def _file(self, index: int) -> bytearray:
        content = self.files[index]
        if content is None:
            content = self.files[index] = bytearray()
        return content

    def _touch(self, index: int) -> None:
        self._clock += 1
        self._versions[index] = self._clock

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("memory storage is closed")
