"""`FileStorage`: a torrent's files under a download folder, read and written with pread/pwrite.

Blocking by design: the disk worker (`bitswarm.aio.disk`) calls it from a thread pool, and
several threads may call it at once (open files are reference-counted, so one thread's LRU
eviction never closes a descriptor another thread is using).

Paths are checked here again even though the metainfo parser already sanitised them (defence
in depth, and the session may build layouts by other means):

* every component must be a non-empty name, not ``.`` or ``..``, without NUL or a separator;
* each parent directory is resolved with ``realpath`` (following symlinks that already exist)
  and must stay inside the resolved download folder;
* the file itself is opened with ``O_NOFOLLOW``: a symlink planted in the download folder is
  refused rather than followed, and anything but a regular file is refused.

Files open lazily, read-only until a write needs them, and at most `max_open_files` stay open.

Writes go one at a time (reads and hashing stay parallel). A buffered write holds the
file's inode lock in the kernel while it copies into the page cache, so concurrent
writers gain nothing, and the kernel lets waiting writers spin on that lock instead of
sleeping: with four disk threads writing one file, spinning took 11 % of a downloading
leecher's CPU samples (perf, 1 GiB from libtorrent). A Python lock makes them sleep.

Skipped files (`set_file_priorities`, priority 0) are never created: with a `parts_name`,
the bytes of a skipped file that does not exist on disk ("parked") go to a `PartsFile` in
the download folder, keyed by piece: the pieces it shares with wanted files are written,
read (recheck, uploads) and verified through it. When the file is chosen again its bytes
move from the parts file into it. A skipped file that already exists stays where it is and
is read and written as before (libtorrent does the same). Resume data records the parts
file's size and mtime in place of each parked file's (`file_sizes_and_mtimes`), so a parts
file changed behind our back means a recheck.

`direct_io=True` writes through O_DIRECT (the "disable OS cache" write mode of libtorrent
1.x and qBittorrent): whole 4 KiB-aligned runs go through a page-aligned buffer straight
to the device (a piece assembled in page-aligned memory, `aligned_piece_buffer`, is
written from where it is, without that copy), the page cache is neither filled nor left
dirty, and the copy into it (the biggest kernel cost of a download: on a virtual machine
that hands freed memory back to its host, 1-2 CPU s per GiB) is gone. The unaligned head
or tail of a file is written normally. A file system that refuses O_DIRECT (tmpfs before
Linux 6.6: EINVAL at open; EINVAL or EOPNOTSUPP at a write) is written normally too, from
then on. Reads always go
through the page cache. The aligned buffer is one `DIRECT_CHUNK` per disk thread (not per
torrent), and the extra O_DIRECT descriptors are closed at every `flush` (resume saves,
completion), so a session holding many torrents pays for neither once they are written.
"""

from __future__ import annotations

import errno
import mmap
import os
import stat
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import LocalProtocolError, StorageError
from .base import Preallocate, UnsafeStoragePath, check_padding, storage_error
from .layout import Layout
from .parts import PartsFile

__all__ = ["FileStorage", "aligned_piece_buffer", "check_components"]

_SEPARATORS = frozenset({"/", "\\", "\0"})
DIRECT_ALIGN = 4096  # O_DIRECT offsets, lengths and buffers: a multiple of the block size
DIRECT_CHUNK = 1 << 20  # bytes one O_DIRECT pwrite takes: each disk thread's aligned buffer
_MAX_DIRECT_FDS = 8
_aligned = threading.local()  # .buffer: this thread's page-aligned DIRECT_CHUNK (an mmap)
_NO_DIRECT = frozenset({errno.EINVAL, errno.EOPNOTSUPP})


def aligned_piece_buffer(size: int) -> mmap.mmap:
    """A piece's assembly buffer in page-aligned anonymous memory: `FileStorage.write`
    with `direct_io` hands its aligned runs to O_DIRECT as they are (no bounce copy)."""
    return mmap.mmap(-1, size)


def _aligned_buffer() -> mmap.mmap:
    """This thread's page-aligned buffer for O_DIRECT writes (anonymous maps are
    page-aligned), made on its first direct write and kept for the thread's life."""
    buffer: mmap.mmap | None = getattr(_aligned, "buffer", None)
    if buffer is None:
        buffer = _aligned.buffer = mmap.mmap(-1, DIRECT_CHUNK)
    return buffer


def check_components(path: tuple[str, ...]) -> None:
    """Refuse a relative path that could name anything outside its folder.

    Raises:
        UnsafeStoragePath: empty path, an empty/``.``/``..`` component, or a component with
            NUL or a path separator (which also rules out absolute paths).
    """
    if not path:
        raise UnsafeStoragePath("empty file path")
    for part in path:
        if part in ("", ".", "..") or any(c in _SEPARATORS for c in part):
            raise UnsafeStoragePath(f"unsafe path component {part!r} in {path!r}")


class _Handle:
    """An open descriptor shared by threads; closed when retired and no longer in use."""

    __slots__ = ("fd", "retired", "users", "writable")

    def __init__(self, fd: int, writable: bool) -> None:
        self.fd = fd
        self.writable = writable
        self.users = 0
        self.retired = False


class FileStorage:
    """`Storage` over real files below `root` (see the module docstring for the rules).

    `pwrite` is the write system call, replaceable so tests can exercise the error mapping
    with real errno values (for example by writing to ``/dev/full``).
    """

    def __init__(
        self,
        root: Path | str,
        layout: Layout,
        *,
        max_open_files: int = 64,
        pwrite: Callable[[int, memoryview, int], int] = os.pwrite,
        direct_io: bool = False,
        parts_name: str | None = None,
    ) -> None:
        if max_open_files < 1:
            raise LocalProtocolError("max_open_files must be at least 1")
        for spec in layout.files:
            if not spec.is_pad:
                check_components(spec.path)
        self._layout = layout
        self._root = os.path.realpath(root)
        self._max_open = max_open_files
        self._pwrite = pwrite
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        # direct writes (used under _write_lock only): O_DIRECT descriptors by file index,
        # files that refused O_DIRECT, and the page-aligned buffer blocks are copied into
        self._direct = direct_io and hasattr(os, "O_DIRECT")
        self._direct_fds: OrderedDict[int, int] = OrderedDict()
        self._no_direct: set[int] = set()
        self._handles: OrderedDict[int, _Handle] = OrderedDict()
        self._dirty: set[int] = set()
        # file index -> the size the file had or was written to in this run: a file found
        # shorter than that, or unlinked, changed under us (see `_check_still_there`)
        self._extent: dict[int, int] = {}
        self._closed = False
        # parked files (see the module docstring): their bytes live in `_parts`; the set
        # changes only under both locks, so a write (under _write_lock) sees it fixed
        self._parts: PartsFile | None = None
        if parts_name is not None:
            check_components((parts_name,))
            self._parts = PartsFile(
                os.path.join(self._root, parts_name),
                num_pieces=layout.num_pieces,
                piece_length=layout.piece_length,
                num_files=len(layout.files),
            )
        self._parts_lock = threading.RLock()
        self._parts_loaded = self._parts is None
        self._parked: frozenset[int] = frozenset()

    @property
    def layout(self) -> Layout:
        return self._layout

    @property
    def root(self) -> str:
        """The download folder, resolved."""
        return self._root

    def path_of(self, file_index: int) -> str:
        """The (unresolved) absolute path of a file of the layout."""
        return os.path.join(self._root, *self._layout.files[file_index].path)

    # ------------------------------------------------------------------ reading

    @property
    def parked(self) -> frozenset[int]:
        """The files whose bytes live in the parts file (see the module docstring)."""
        self._load_parts()
        return self._parked

    def read(self, piece: int, begin: int, length: int) -> bytes:
        if not self._parts_loaded:
            self._load_parts()
        spans = self._layout.spans(piece, begin, length)
        files = self._layout.files
        if len(spans) == 1 and not files[spans[0].file_index].is_pad:
            span = spans[0]
            if span.file_index not in self._parked:
                return self._pread(span.file_index, span.file_offset, span.length)
        out = bytearray(length)
        self.readinto(piece, begin, memoryview(out))
        return bytes(out)

    def read_piece(self, piece: int) -> bytes:
        return self.read(piece, 0, self._layout.piece_size(piece))

    def readinto(self, piece: int, begin: int, target: memoryview) -> None:
        if not self._parts_loaded:
            self._load_parts()
        spans = self._layout.spans(piece, begin, len(target))
        files = self._layout.files
        parked = self._parked
        pos = 0
        for span in spans:
            chunk = target[pos : pos + span.length]
            if files[span.file_index].is_pad:
                chunk[:] = bytes(span.length)  # pad regions read as zeros (BEP 47)
            elif span.file_index in parked:
                self._read_parked(span.file_index, piece, begin + pos, chunk, span.file_offset)
            else:
                self._preadinto(span.file_index, chunk, span.file_offset)
            pos += span.length

    def _read_parked(
        self, index: int, piece: int, in_piece: int, chunk: memoryview, file_offset: int
    ) -> None:
        with self._parts_lock:
            if index in self._parked:
                assert self._parts is not None
                self._parts.readinto(piece, in_piece, chunk)
                return
        self._preadinto(index, chunk, file_offset)  # moved into its file meanwhile

    def _pread(self, index: int, offset: int, length: int) -> bytes:
        handle = self._acquire(index, write=False)
        try:
            data = os.pread(handle.fd, length, offset)
        except OSError as exc:
            raise self._error(exc, "read", index) from exc
        finally:
            self._release(handle)
        if len(data) != length:
            raise StorageError(f"{self.path_of(index)} is shorter than expected")
        return data

    def _preadinto(self, index: int, target: memoryview, offset: int) -> None:
        handle = self._acquire(index, write=False)
        try:
            done = 0
            while done < len(target):
                got = os.preadv(handle.fd, [target[done:]], offset + done)
                if got == 0:
                    raise StorageError(f"{self.path_of(index)} is shorter than expected")
                done += got
        except OSError as exc:
            raise self._error(exc, "read", index) from exc
        finally:
            self._release(handle)

    # ------------------------------------------------------------------ writing

    def write(self, piece: int, begin: int, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data).cast("B")
        # all of an anonymous mmap (`aligned_piece_buffer`): its memory starts on a page
        aligned = isinstance(view.obj, mmap.mmap) and view.nbytes == len(view.obj)
        spans = self._layout.spans(piece, begin, len(view))
        files = self._layout.files
        check_padding(self._layout, spans, view)
        if not self._parts_loaded:
            self._load_parts()
        pos = 0
        with self._write_lock:  # one writer at a time: see the module docstring
            parked = self._parked
            for span in spans:
                if files[span.file_index].is_pad:
                    pass
                elif span.file_index in parked:
                    with self._parts_lock:
                        assert self._parts is not None
                        self._parts.write(piece, begin + pos, view[pos : pos + span.length])
                else:
                    self._pwrite_all(
                        span.file_index,
                        view[pos : pos + span.length],
                        span.file_offset,
                        aligned=aligned and pos % DIRECT_ALIGN == 0,
                    )
                pos += span.length

    def _pwrite_all(
        self, index: int, chunk: memoryview, offset: int, *, aligned: bool = False
    ) -> None:
        """Write all of `chunk` at `offset`; `aligned`: its memory starts on a page."""
        handle = self._acquire(index, write=True)
        try:
            self._check_still_there(index, handle.fd)
            done = 0
            if self._direct:
                done = self._direct_write(index, handle.fd, chunk, offset, aligned=aligned)
            while done < len(chunk):
                wrote = self._pwrite(handle.fd, chunk[done:], offset + done)
                if wrote <= 0:
                    raise StorageError(f"cannot write {self.path_of(index)}: no progress")
                done += wrote
        except OSError as exc:
            raise self._error(exc, "write", index) from exc
        finally:
            self._release(handle)
        with self._lock:
            self._dirty.add(index)
            self._extent[index] = max(self._extent.get(index, 0), offset + len(chunk))

    def _check_still_there(self, index: int, fd: int) -> None:
        """Refuse to write into a file that was deleted (its folder removed) or truncated
        since we opened it: the bytes would go to an unlinked inode, or the verified
        pieces the truncation cut off would silently become holes. One fstat per write.
        """
        st = os.fstat(fd)
        if st.st_nlink == 0:
            raise StorageError(f"{self.path_of(index)} was deleted while the torrent was running")
        with self._lock:
            extent = self._extent.setdefault(index, st.st_size)
        if st.st_size < extent:
            raise StorageError(
                f"{self.path_of(index)} was truncated while the torrent was running "
                f"({st.st_size} bytes, {extent} expected)"
            )

    def _direct_write(
        self, index: int, fd: int, chunk: memoryview, offset: int, *, aligned: bool = False
    ) -> int:
        """Write the aligned head of `chunk` with O_DIRECT; return how many bytes it took
        (0 when the offset is unaligned or the file refuses O_DIRECT). `chunk` is written
        from where it is when `aligned` (its memory starts on a page), else copied into this
        thread's aligned buffer first, one `DIRECT_CHUNK` at a time."""
        size = len(chunk) - len(chunk) % DIRECT_ALIGN
        if offset % DIRECT_ALIGN or not size or index in self._no_direct:
            return 0
        direct_fd = self._direct_fd(index, fd)
        if direct_fd is None:
            return 0
        if aligned:
            return self._direct_runs(index, direct_fd, chunk, offset, size, None)
        with memoryview(_aligned_buffer()) as bounce:
            return self._direct_runs(index, direct_fd, chunk, offset, size, bounce)

    def _direct_runs(
        self,
        index: int,
        direct_fd: int,
        chunk: memoryview,
        offset: int,
        size: int,
        bounce: memoryview | None,
    ) -> int:
        """`_direct_write`'s loop: the first `size` bytes of `chunk`, one `DIRECT_CHUNK` per
        pwrite, from `chunk` itself or copied into `bounce` first."""
        done = 0
        while done < size:
            step = min(size - done, DIRECT_CHUNK)
            if bounce is None:
                source = chunk[done : done + step]
            else:
                bounce[:step] = chunk[done : done + step]
                source = bounce[:step]
            wrote = 0
            while wrote < step:
                try:
                    got = self._pwrite(direct_fd, source[wrote:], offset + done + wrote)
                except OSError as exc:
                    if exc.errno not in _NO_DIRECT:
                        raise
                    self._give_up_direct(index)
                    return done + wrote
                if got <= 0 or got % DIRECT_ALIGN:
                    return done + wrote + max(got, 0)  # the rest through the page cache
                wrote += got
            done += step
        return done

    def _direct_fd(self, index: int, fd: int) -> int | None:
        direct_fd = self._direct_fds.get(index)
        if direct_fd is not None:
            self._direct_fds.move_to_end(index)
            return direct_fd
        try:
            # the same open file, reopened through /proc: no path lookup to race with
            direct_fd = os.open(f"/proc/self/fd/{fd}", os.O_WRONLY | os.O_DIRECT | os.O_CLOEXEC)
        except OSError:
            self._no_direct.add(index)
            return None
        self._direct_fds[index] = direct_fd
        while len(self._direct_fds) > _MAX_DIRECT_FDS:
            os.close(self._direct_fds.popitem(last=False)[1])
        return direct_fd

    def _close_direct_fds(self) -> None:
        """Close the O_DIRECT descriptors (callers hold `_write_lock`)."""
        for direct_fd in self._direct_fds.values():
            os.close(direct_fd)
        self._direct_fds.clear()

    def _give_up_direct(self, index: int) -> None:
        self._no_direct.add(index)
        direct_fd = self._direct_fds.pop(index, None)
        if direct_fd is not None:
            os.close(direct_fd)

    def create_files(self, preallocate: Preallocate = "sparse") -> None:
        if preallocate not in ("sparse", "none"):
            raise LocalProtocolError(f"unknown preallocation {preallocate!r}")
        try:
            os.makedirs(self._root, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create {self._root}: {exc.strerror or exc}") from exc
        self._load_parts()
        for index, spec in enumerate(self._layout.files):
            if spec.is_pad or index in self._parked or (preallocate == "none" and spec.length):
                continue
            self._create(index)

    def _create(self, index: int) -> None:
        length = self._layout.files[index].length
        handle = self._acquire(index, write=True)
        try:
            if os.fstat(handle.fd).st_size < length:
                os.ftruncate(handle.fd, length)  # sparse: no blocks allocated
        except OSError as exc:
            raise self._error(exc, "create", index) from exc
        finally:
            self._release(handle)

    # ------------------------------------------------------------------ skipped files

    def set_file_priorities(self, priorities: Sequence[int]) -> None:
        """Take the file priorities (one per file of the layout; 0: skipped; pad files'
        ignored): park the skipped files not on disk, and move the bytes of files chosen
        again from the parts file into them (created at full size, sparse). The parts file
        is deleted once it holds nothing. Without a `parts_name` this does nothing."""
        files = self._layout.files
        if len(priorities) != len(files):
            raise LocalProtocolError(f"{len(priorities)} priorities for {len(files)} files")
        parts = self._parts
        if parts is None:
            return
        self._load_parts()
        with self._write_lock, self._parts_lock:
            old = self._parked
            new = frozenset(
                i
                for i, (spec, prio) in enumerate(zip(files, priorities, strict=True))
                if not spec.is_pad and prio == 0 and (i in old or not self._exists(i))
            )
            for index in sorted(old - new):
                self._unpark(parts, index)
            self._parked = new
            layout = self._layout
            for piece in parts.pieces():
                spans = layout.spans(piece, 0, layout.piece_size(piece))
                if not any(s.file_index in new for s in spans):
                    parts.free(piece)
            parts.set_parked(new)
            if not parts.pieces():
                parts.delete()

    def _unpark(self, parts: PartsFile, index: int) -> None:
        """Copy file `index`'s bytes out of the parts file into the file (callers hold
        both locks)."""
        layout = self._layout
        start = layout.file_offset(index)
        end = start + layout.files[index].length
        for piece in layout.file_piece_range(index):
            if not parts.has(piece):
                continue
            lo = max(start, layout.piece_offset(piece))
            hi = min(end, layout.piece_offset(piece) + layout.piece_size(piece))
            chunk = memoryview(bytearray(hi - lo))
            parts.readinto(piece, lo - layout.piece_offset(piece), chunk)
            self._pwrite_all(index, chunk, lo - start)
        self._create(index)

    def _exists(self, index: int) -> bool:
        try:
            os.lstat(
                os.path.join(
                    self._safe_parent(index, create=False), self._layout.files[index].path[-1]
                )
            )
        except (FileNotFoundError, NotADirectoryError):
            return False
        except OSError as exc:
            raise self._error(exc, "stat", index) from exc
        return True

    def _load_parts(self) -> None:
        """Read the parts file's header once: which files it held when we last ran."""
        if self._parts_loaded:
            return
        with self._parts_lock:
            if self._parts_loaded or self._parts is None:
                return
            self._parts.load()
            files = self._layout.files
            if self._parts.pieces():
                self._parked = frozenset(
                    i for i in self._parts.parked if i < len(files) and not files[i].is_pad
                )
            self._parts_loaded = True

    def flush(self) -> None:
        with self._write_lock:  # a finished download keeps no O_DIRECT descriptors
            self._close_direct_fds()
        if self._parts is not None:
            with self._parts_lock:
                self._parts.flush()
        with self._lock:
            dirty, self._dirty = self._dirty, set()
        for index in sorted(dirty):
            handle = self._acquire(index, write=False)
            try:
                os.fsync(handle.fd)  # fsync covers the inode, whichever descriptor wrote
            except OSError as exc:
                raise self._error(exc, "flush", index) from exc
            finally:
                self._release(handle)

    # ------------------------------------------------------------------ status

    def file_sizes_and_mtimes(self) -> list[tuple[int, int] | None]:
        """Parked files report the parts file's (size, mtime), or None without one."""
        self._load_parts()
        parts_state = None
        if self._parked:
            assert self._parts is not None
            with self._parts_lock:
                parts_state = self._parts.state()
        result: list[tuple[int, int] | None] = []
        for index, spec in enumerate(self._layout.files):
            if spec.is_pad:
                result.append(None)
                continue
            if index in self._parked:
                result.append(parts_state)
                continue
            parent = self._safe_parent(index, create=False)
            try:
                st = os.lstat(os.path.join(parent, spec.path[-1]))
            except FileNotFoundError:
                result.append(None)
                continue
            except OSError as exc:
                raise self._error(exc, "stat", index) from exc
            self._check_regular(index, st.st_mode)
            result.append((st.st_size, st.st_mtime_ns))
        return result

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        with self._write_lock:
            self._close_direct_fds()
        with self._lock:
            self._closed = True
            handles = list(self._handles.values())
            self._handles.clear()
            for handle in handles:
                self._retire(handle)
        if self._parts is not None:
            with self._parts_lock:
                self._parts.close()

    def delete_files(self) -> None:
        self.close()
        if self._parts is not None:
            with self._parts_lock:
                self._parts.delete()
        dirs: set[tuple[str, ...]] = set()
        for index, spec in enumerate(self._layout.files):
            if spec.is_pad:
                continue
            dirs.update(spec.path[:i] for i in range(1, len(spec.path)))
            parent = self._safe_parent(index, create=False)
            try:
                os.unlink(os.path.join(parent, spec.path[-1]))
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise self._error(exc, "delete", index) from exc
        for parts in sorted(dirs, key=len, reverse=True):
            path = os.path.join(self._root, *parts)
            if self._inside(os.path.realpath(path)) and not os.path.islink(path):
                try:
                    os.rmdir(path)
                except OSError:
                    pass  # not empty (holds other data) or already gone

    # ------------------------------------------------------------------ handles

    def _acquire(self, index: int, *, write: bool) -> _Handle:
        with self._lock:
            if self._closed:
                raise StorageError(f"storage for {self._root} is closed")
            handle = self._handles.get(index)
            if handle is not None and (handle.writable or not write):
                self._handles.move_to_end(index)
            else:
                if handle is not None:  # read-only, now needed for writing: reopen
                    del self._handles[index]
                    self._retire(handle)
                handle = _Handle(self._open(index, write=write), write)
                self._handles[index] = handle
                while len(self._handles) > self._max_open:
                    _, old = self._handles.popitem(last=False)
                    self._retire(old)
            handle.users += 1
            return handle

    def _release(self, handle: _Handle) -> None:
        with self._lock:
            handle.users -= 1
            if handle.retired and handle.users == 0:
                os.close(handle.fd)

    @staticmethod
    def _retire(handle: _Handle) -> None:
        """Caller holds the lock. Close now if idle, else when the last user releases it."""
        handle.retired = True
        if handle.users == 0:
            os.close(handle.fd)

    def _open(self, index: int, *, write: bool) -> int:
        name = self._layout.files[index].path[-1]
        parent = self._safe_parent(index, create=write)
        flags = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK  # NONBLOCK: a planted FIFO
        flags |= os.O_RDWR | os.O_CREAT if write else os.O_RDONLY
        try:
            fd = os.open(os.path.join(parent, name), flags, 0o666)
        except OSError as exc:
            raise self._error(exc, "open", index) from exc
        try:
            self._check_regular(index, os.fstat(fd).st_mode)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _safe_parent(self, index: int, *, create: bool) -> str:
        """The resolved parent directory of file `index`, made if `create`; never outside."""
        current = self._root
        for part in self._layout.files[index].path[:-1]:
            step = os.path.join(current, part)
            if create:
                try:
                    os.mkdir(step)
                except FileExistsError:
                    pass  # maybe a symlink: realpath below decides whether it stays inside
                except OSError as exc:
                    raise self._error(exc, "create a folder for", index) from exc
            current = os.path.realpath(step)
            if not self._inside(current):
                raise UnsafeStoragePath(
                    f"{self.path_of(index)} leads outside the download folder {self._root}"
                )
        return current

    def _inside(self, resolved: str) -> bool:
        return os.path.commonpath([self._root, resolved]) == self._root

    def _check_regular(self, index: int, mode: int) -> None:
        if stat.S_ISLNK(mode):
            raise UnsafeStoragePath(f"{self.path_of(index)} is a symbolic link; refusing it")
        if not stat.S_ISREG(mode):
            raise StorageError(f"{self.path_of(index)} exists but is not a regular file")

    def _error(self, exc: OSError, action: str, index: int) -> StorageError:
        return storage_error(exc, action, self.path_of(index))
