"""Deleting and moving a torrent's files, never outside its folder (blocking: run in a thread).

What a daemon does when a torrent is removed "with data" or its data is moved. The files
are named by the torrent (untrusted) and the folder may hold symlinks planted by anyone
who could write there, so:

* every path component is checked (`check_components`: no ``..``, no separators);
* the folders are walked one component at a time with ``O_NOFOLLOW | O_DIRECTORY``
  descriptors, and every unlink, rename and rmdir is made relative to the parent's
  descriptor: a symlink can never send an operation outside the folder, even one swapped
  in while we work;
* deleting: a symlink where the torrent has a file or a folder is unlinked itself, its
  target left alone; anything that is neither a regular file nor a symlink (a folder
  where a file should be, a device) is left alone. Folders the torrent's paths name are
  removed when empty, deepest first; the download folder itself is kept;
* moving: a symlink in the source is refused, nothing is ever overwritten (a file already
  at the destination with other contents is an error; one with the same contents is kept
  and the source copy dropped), and every conflict is found before the first file moves.
  On one file system a file is renamed; across file systems it is copied to a temporary
  name, fsynced, renamed into place (its mtime kept, so resume data still matches), and
  only then is the source deleted.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import StorageError
from .filesystem import check_components
from .layout import Layout

__all__ = ["delete_files", "move_files"]

log = logging.getLogger("bitswarm.storage")

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
COPY_CHUNK = 1 << 20
_COMPARE_CHUNK = 1 << 20


class _Symlink(Exception):
    """A component of the path is a symlink (carries the path walked so far)."""

    def __init__(self, where: tuple[str, ...]) -> None:
        super().__init__("/".join(where))
        self.where = where


def _paths(layout: Layout, parts_name: str | None = None) -> list[tuple[str, ...]]:
    """The torrent's file paths (pad files are never on disk), each checked, and its
    parts file's (`storage/parts.py`: the share of skipped files in boundary pieces)."""
    out = []
    for spec in layout.files:
        if not spec.is_pad:
            check_components(spec.path)
            out.append(spec.path)
    if parts_name is not None:
        check_components((parts_name,))
        out.append((parts_name,))
    return out


def _folders(paths: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Every folder the paths name, deepest first."""
    found = {path[:i] for path in paths for i in range(1, len(path))}
    return sorted(found, key=lambda f: (-len(f), f))


def _open_root(root: Path, *, create: bool = False) -> int | None:
    """A descriptor of the download folder (resolved: the user chose it), or None if it
    does not exist."""
    if create:
        os.makedirs(root, exist_ok=True)
    try:
        return os.open(os.path.realpath(root), _DIR_FLAGS)
    except FileNotFoundError:
        return None


@contextmanager
def _walk(root_fd: int, folder: tuple[str, ...], *, create: bool = False) -> Iterator[int | None]:
    """A descriptor of `folder` below the root, opened component by component without
    following symlinks; None if a component is missing (and `create` is false).

    Raises:
        _Symlink: a component is a symlink (or not a folder).
    """
    fds: list[int] = []
    fd = root_fd
    try:
        for i, part in enumerate(folder):
            try:
                fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    yield None
                    return
                os.mkdir(part, 0o777, dir_fd=fd)
                fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise _Symlink(folder[: i + 1]) from exc
                raise
            fds.append(fd)
        yield fd
    finally:
        for opened in fds:
            os.close(opened)


def _lstat(name: str, dir_fd: int) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


# ---------------------------------------------------------------------- deleting


def delete_files(save_path: Path, layout: Layout, *, parts_name: str | None = None) -> None:
    """Delete the torrent's files below `save_path` (and its parts file `parts_name`),
    then the folders its paths name if they are empty; never anything outside
    `save_path` (see the module docstring).

    Files already gone are skipped.

    Raises:
        UnsafeStoragePath: a path of the layout is unsafe (nothing is deleted).
        StorageError: a file or folder could not be deleted.
    """
    paths = _paths(layout, parts_name)
    root_fd = _open_root(save_path)
    if root_fd is None:
        return
    try:
        for path in paths:
            _delete_one(root_fd, path)
        for folder in _folders(paths):
            _remove_empty(root_fd, folder)
    finally:
        os.close(root_fd)


def _delete_one(root_fd: int, path: tuple[str, ...]) -> None:
    try:
        with _walk(root_fd, path[:-1]) as dir_fd:
            if dir_fd is None:
                return
            st = _lstat(path[-1], dir_fd)
            if st is None:
                return
            if stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode):
                os.unlink(path[-1], dir_fd=dir_fd)  # a symlink itself, never its target
            else:
                log.warning("not deleting %s: not a regular file", "/".join(path))
    except _Symlink as link:
        _unlink_symlink(root_fd, link.where)
    except OSError as exc:
        raise StorageError(f"cannot delete {'/'.join(path)}: {exc.strerror or exc}") from exc


def _unlink_symlink(root_fd: int, where: tuple[str, ...]) -> None:
    """A folder of the torrent is a symlink: unlink the link, leave what it points to."""
    try:
        with _walk(root_fd, where[:-1]) as dir_fd:
            if dir_fd is None:
                return
            st = _lstat(where[-1], dir_fd)
            if st is not None and stat.S_ISLNK(st.st_mode):
                os.unlink(where[-1], dir_fd=dir_fd)
    except _Symlink:
        pass  # a link further up: unlinked when that path is handled
    except OSError as exc:
        raise StorageError(f"cannot delete {'/'.join(where)}: {exc.strerror or exc}") from exc


def _remove_empty(root_fd: int, folder: tuple[str, ...]) -> None:
    try:
        with _walk(root_fd, folder[:-1]) as dir_fd:
            if dir_fd is None:
                return
            os.rmdir(folder[-1], dir_fd=dir_fd)  # rmdir never follows a symlink
    except _Symlink:
        return
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT, errno.ENOTDIR):
            return  # someone else's files are in it, or it is gone, or not a folder
        raise StorageError(f"cannot delete {'/'.join(folder)}: {exc.strerror or exc}") from exc


# ---------------------------------------------------------------------- moving


def move_files(src: Path, dst: Path, layout: Layout, *, parts_name: str | None = None) -> None:
    """Move the torrent's files (and its parts file `parts_name`) from the folder `src`
    to the folder `dst` (same relative paths), then remove the folders left empty in `src`.

    Raises:
        UnsafeStoragePath: a path of the layout is unsafe.
        StorageError: a source path is a symlink, a different file is already at the
            destination, or a file could not be moved; the checks run before any file
            moves, so then nothing has.
    """
    paths = _paths(layout, parts_name)
    src_fd = _open_root(src)
    if src_fd is None:
        return
    try:
        if os.path.realpath(src) == os.path.realpath(dst):
            return
        try:
            dst_fd = _open_root(dst, create=True)
        except OSError as exc:
            raise StorageError(f"cannot create {dst}: {exc.strerror or exc}") from exc
        assert dst_fd is not None
        try:
            todo = [p for p in paths if _check_move(src_fd, dst_fd, p)]
            for path in todo:
                _move_one(src_fd, dst_fd, path)
            for folder in _folders(paths):
                _remove_empty(src_fd, folder)
        finally:
            os.close(dst_fd)
    finally:
        os.close(src_fd)


def _check_move(src_fd: int, dst_fd: int, path: tuple[str, ...]) -> bool:
    """Whether `path` is to be moved: False if the source has no such file.

    Raises:
        StorageError: the source is a symlink or not a file, or the destination holds
            something else under that name.
    """
    name = "/".join(path)
    try:
        with _walk(src_fd, path[:-1]) as dir_fd:
            if dir_fd is None:
                return False
            st = _lstat(path[-1], dir_fd)
            if st is None:
                return False
            if not stat.S_ISREG(st.st_mode):
                raise StorageError(f"refusing to move {name}: not a regular file (a symlink?)")
            src_file = os.open(path[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    except _Symlink as link:
        where = "/".join(link.where)
        raise StorageError(f"refusing to move {name}: {where} is a symlink") from None
    except OSError as exc:
        raise StorageError(f"cannot read {name}: {exc.strerror or exc}") from exc
    try:
        with _walk(dst_fd, path[:-1]) as dir_fd:
            if dir_fd is None:
                return True
            there = _lstat(path[-1], dir_fd)
            if there is None:
                return True
            if stat.S_ISREG(there.st_mode) and _same_contents(src_file, path[-1], dir_fd):
                return True
            raise StorageError(
                f"cannot move {name}: a different file is already at the destination"
            )
    except _Symlink as link:
        where = "/".join(link.where)
        raise StorageError(f"cannot move {name}: {where} at the destination is a symlink") from None
    except OSError as exc:
        raise StorageError(
            f"cannot check the destination of {name}: {exc.strerror or exc}"
        ) from exc
    finally:
        os.close(src_file)


def _same_contents(src_file: int, name: str, dir_fd: int) -> bool:
    other = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        if os.fstat(src_file).st_size != os.fstat(other).st_size:
            return False
        offset = 0
        while True:
            a = os.pread(src_file, _COMPARE_CHUNK, offset)
            b = os.pread(other, _COMPARE_CHUNK, offset)
            if a != b:
                return False
            if not a:
                return True
            offset += len(a)
    finally:
        os.close(other)


def _move_one(src_fd: int, dst_fd: int, path: tuple[str, ...]) -> None:
    name, leaf = "/".join(path), path[-1]
    try:
        with (
            _walk(src_fd, path[:-1]) as from_dir,
            _walk(dst_fd, path[:-1], create=True) as to_dir,
        ):
            assert from_dir is not None and to_dir is not None
            if _lstat(leaf, to_dir) is not None:  # the same contents (checked): keep it
                os.unlink(leaf, dir_fd=from_dir)
                return
            try:
                os.rename(leaf, leaf, src_dir_fd=from_dir, dst_dir_fd=to_dir)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                _copy_across(from_dir, to_dir, leaf)
                os.unlink(leaf, dir_fd=from_dir)
    except _Symlink as link:
        where = "/".join(link.where)
        raise StorageError(f"refusing to move {name}: {where} is a symlink") from None
    except OSError as exc:
        raise StorageError(f"cannot move {name}: {exc.strerror or exc}") from exc


def _copy_across(from_dir: int, to_dir: int, leaf: str) -> None:
    """Copy a file to another file system: a temporary name, fsync, the source's times,
    then a rename into place (a crash leaves no half file under the real name)."""
    tmp = f".{leaf}.bitswarm-move"
    source = os.open(leaf, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=from_dir)
    try:
        st = os.fstat(source)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        target = os.open(tmp, flags, 0o666, dir_fd=to_dir)
        try:
            offset = 0
            while offset < st.st_size:
                chunk = os.pread(source, COPY_CHUNK, offset)
                if not chunk:
                    break
                view = memoryview(chunk)
                while view:
                    written = os.write(target, view)
                    view = view[written:]
                offset += len(chunk)
            os.fsync(target)
        except BaseException:
            os.close(target)
            os.unlink(tmp, dir_fd=to_dir)
            raise
        os.close(target)
        os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=to_dir, follow_symlinks=False)
        os.rename(tmp, leaf, src_dir_fd=to_dir, dst_dir_fd=to_dir)
        os.fsync(to_dir)
    finally:
        os.close(source)


# ---------------------------------------------------------------------- renaming


def rename_within(save_path: Path, source: str, target: str) -> bool:
    """Rename `source` to `target` (both "/"-joined paths below `save_path` that differ
    only in their last component): a torrent's file or folder renamed in place. Nothing
    is followed through a symlink; an existing `target` is never replaced.

    Returns:
        Whether something was renamed (False: `source` is not on disk yet, nothing to do).

    Raises:
        StorageError: a symlink on the way, or `target` exists.
    """
    src = tuple(source.split("/"))
    dst = tuple(target.split("/"))
    if src[:-1] != dst[:-1] or not src[-1] or not dst[-1]:
        raise StorageError(f"cannot rename {source!r} to {target!r}: not in one folder")
    root = _open_root(save_path)
    if root is None:
        return False
    try:
        with _walk(root, src[:-1]) as folder:
            if folder is None or _lstat(src[-1], folder) is None:
                return False
            if _lstat(dst[-1], folder) is not None:
                raise StorageError(f"cannot rename {source!r}: {target!r} exists")
            if stat.S_ISLNK(_lstat(src[-1], folder).st_mode):  # type: ignore[union-attr]
                raise StorageError(f"cannot rename {source!r}: it is a symlink")
            os.rename(src[-1], dst[-1], src_dir_fd=folder, dst_dir_fd=folder)
            return True
    except _Symlink as exc:
        raise StorageError(f"cannot rename {source!r}: a symlink on the way ({exc})") from None
    finally:
        os.close(root)
