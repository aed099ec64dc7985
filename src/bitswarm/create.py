"""Create .torrent files (v1 BEP 3, v2 BEP 52, hybrid) from a file or folder, hashing on all cores.

L2: this module reads files. It scans the source, lays the files out, hashes every piece in a
thread pool (``os.pread`` and hashlib both release the GIL, so the cores work at once) and
bencodes the result canonically. What it decides, and why:

* A folder's files are sorted by their UTF-8 path components, which is also the order of a v2
  ``file tree``, so v1, v2 and hybrid torrents of one folder list files alike.
* Hidden files are included (as mktorrent does): nothing is skipped silently. Empty folders
  are not data and do not appear. Symlinks are followed when they point inside the folder; a
  symlink that points outside it is refused with `UnsafePathError`, a symlink loop, a FIFO, a
  socket or a device with `TorrentCreationError`. File attributes (BEP 47 ``x``, ``h``) are not
  recorded, so the info-hash depends only on names and contents.
* Every file name must pass `safe_relative_path` and be valid UTF-8, or we refuse: we never
  make a torrent our own parser would reject.
* Hybrid torrents align every file to a piece boundary in the v1 view with BEP 47 padding
  files (``.pad/N``, attr ``p``) between files, as libtorrent does; there is no padding after
  the last file (libtorrent's ``canonical_files_no_tail_padding`` layout).
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Literal

from .bencode import bencode
from .errors import MetainfoError, UnsafePathError
from .merkle import BLOCK_SIZE, hash_piece_v2, root_from_piece_layer
from .metainfo.paths import safe_relative_path
from .metainfo.piece_length import MAX_PIECE_LENGTH, auto_piece_length
from .version import USER_AGENT

__all__ = ["TorrentCreationError", "auto_piece_length", "create_torrent"]

Version = Literal["v1", "v2", "hybrid"]


class TorrentCreationError(MetainfoError):
    """The source cannot be made into a torrent (nothing to share, unreadable, a loop...)."""


@dataclass(frozen=True, slots=True)
class _Source:
    rel: tuple[str, ...]  # path inside the torrent, without the torrent's name
    abspath: str
    size: int


@dataclass(frozen=True, slots=True)
class _Job:
    spans: tuple[tuple[int, int, int], ...]  # (source index, offset in file, length)
    pad: int  # zero bytes that follow the data in the v1 piece (hybrid padding)
    v1: bool  # compute the piece's SHA-1
    v2: bool  # compute the piece's merkle hash
    whole_file: bool  # the v2 piece is a whole file: its merkle hash is the pieces root


_Result = tuple[bytes | None, bytes | None]  # (v1 SHA-1, v2 merkle hash)


def create_torrent(
    path: str | os.PathLike[str],
    *,
    trackers: Sequence[Sequence[str]] = (),
    piece_length: int | None = None,
    version: Version = "v1",
    private: bool = False,
    web_seeds: Sequence[str] = (),
    comment: str | None = None,
    created_by: str | None = USER_AGENT,
    creation_date: int | Literal["now"] | None = "now",
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> bytes:
    """Hash `path` (a file or a folder) and return the bencoded .torrent.

    Args:
        trackers: BEP 12 tiers of announce URLs; a bare string counts as a one-URL tier.
        piece_length: a power of two from 16 KiB to 512 MiB; None picks `auto_piece_length`.
        version: "v1" (BEP 3), "v2" (BEP 52) or "hybrid" (both, with padding files).
        private: set BEP 27 ``private=1``.
        web_seeds: BEP 19 ``url-list`` URLs (a bare string counts as one URL).
        creation_date: seconds since the epoch, "now", or None to leave it out.
        progress: called as ``progress(bytes_hashed, bytes_total)`` from the calling thread.
        workers: hashing threads; None uses every core.

    Raises:
        TorrentCreationError: no data, an unreadable or changing file, a bad piece length.
        UnsafePathError: a name our parser would refuse, or a symlink leading outside.
    """
    if version not in ("v1", "v2", "hybrid"):
        raise TorrentCreationError(f"unknown torrent version {version!r} (v1, v2 or hybrid)")
    name, sources, single = _scan(os.fspath(path))
    total = sum(s.size for s in sources)
    if total == 0:
        raise TorrentCreationError(f"{os.fspath(path)!r} holds no data (every file is empty)")
    if piece_length is None:
        piece_length = auto_piece_length(total)
    elif (
        piece_length < BLOCK_SIZE
        or piece_length > MAX_PIECE_LENGTH
        or piece_length & (piece_length - 1)
    ):
        raise TorrentCreationError(
            f"piece length {piece_length} is not a power of two from 16 KiB to 512 MiB"
        )
    use_v1, use_v2 = version != "v2", version != "v1"
    if use_v2:
        jobs = _jobs_aligned(sources, piece_length, use_v1)
    else:
        jobs = _jobs_v1(sources, piece_length)
    results = _run_jobs(sources, jobs, total, piece_length, progress, workers)

    info: dict[str, object] = {"name": name, "piece length": piece_length}
    if private:
        info["private"] = 1
    if use_v1:
        info["pieces"] = b"".join(r[0] for r in results if r[0] is not None)
        if single:
            info["length"] = sources[0].size
        else:
            info["files"] = _v1_file_list(sources, piece_length, padded=use_v2)
    top: dict[str, object] = {"info": info}
    if use_v2:
        roots, layers = _merkle(sources, jobs, results, piece_length)
        info["meta version"] = 2
        info["file tree"] = _file_tree(sources, roots, name if single else None)
        top["piece layers"] = layers
    _add_top_level(top, trackers, web_seeds, comment, created_by, creation_date)
    return bencode(top)


def _add_top_level(
    top: dict[str, object],
    trackers: Sequence[Sequence[str]],
    web_seeds: Sequence[str],
    comment: str | None,
    created_by: str | None,
    creation_date: int | Literal["now"] | None,
) -> None:
    tiers = [[tier] if isinstance(tier, str) else [u for u in tier if u] for tier in trackers]
    tiers = [t for t in tiers if t]
    if tiers:
        top["announce"] = tiers[0][0]
        if len(tiers) > 1 or len(tiers[0]) > 1:
            top["announce-list"] = tiers
    seeds = [web_seeds] if isinstance(web_seeds, str) else [u for u in web_seeds if u]
    if seeds:
        top["url-list"] = seeds
    if comment is not None:
        top["comment"] = comment
    if created_by is not None:
        top["created by"] = created_by
    if creation_date == "now":
        top["creation date"] = int(time.time())
    elif creation_date is not None:
        top["creation date"] = creation_date


# -- scanning -------------------------------------------------------------------------------


def _scan(path: str) -> tuple[str, list[_Source], bool]:
    """(torrent name, files sorted by UTF-8 components, single-file?)."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise TorrentCreationError(f"cannot read {path!r}: {e.strerror}") from e
    real = os.path.realpath(path)
    name = _check_name(os.path.basename(os.path.abspath(path)), path)
    if stat.S_ISREG(st.st_mode):
        return name, [_Source((), real, st.st_size)], True
    if not stat.S_ISDIR(st.st_mode):
        raise TorrentCreationError(f"{path!r} is neither a regular file nor a folder")
    found: list[_Source] = []
    _walk(real, real, (), (real,), found)
    if not found:
        raise TorrentCreationError(f"the folder {path!r} holds no files")
    found.sort(key=lambda s: tuple(c.encode("utf-8") for c in s.rel))
    return name, found, False


def _check_name(component: str, where: str) -> str:
    try:
        component.encode("utf-8")
    except UnicodeEncodeError:
        raise TorrentCreationError(f"the name of {where!r} is not valid UTF-8") from None
    return safe_relative_path([component])[0]


def _walk(
    root: str, folder: str, rel: tuple[str, ...], ancestors: tuple[str, ...], out: list[_Source]
) -> None:
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as e:
        raise TorrentCreationError(f"cannot list {folder!r}: {e.strerror}") from e
    for entry in entries:
        here = (*rel, _check_name(entry.name, entry.path))
        target = entry.path
        if entry.is_symlink():
            target = os.path.realpath(entry.path)
            if os.path.commonpath([root, target]) != root:
                raise UnsafePathError(
                    f"symlink {'/'.join(here)!r} points outside the folder, to {target!r}"
                )
        try:
            st = os.stat(target)
        except OSError as e:
            raise TorrentCreationError(f"cannot read {entry.path!r}: {e.strerror}") from e
        if stat.S_ISDIR(st.st_mode):
            if target in ancestors:
                raise TorrentCreationError(f"symlink loop at {entry.path!r}")
            _walk(root, target, here, (*ancestors, target), out)
        elif stat.S_ISREG(st.st_mode):
            out.append(_Source(here, target, st.st_size))
        else:
            raise TorrentCreationError(f"{entry.path!r} is not a regular file (FIFO, socket...)")


# -- layout and hashing ---------------------------------------------------------------------


def _jobs_v1(sources: Sequence[_Source], piece_length: int) -> list[_Job]:
    """One job per v1 piece over the plain concatenation of the files (BEP 3)."""
    jobs: list[_Job] = []
    spans: list[tuple[int, int, int]] = []
    room = piece_length
    for index, src in enumerate(sources):
        pos = 0
        while pos < src.size:
            n = min(room, src.size - pos)
            spans.append((index, pos, n))
            pos += n
            room -= n
            if room == 0:
                jobs.append(_Job(tuple(spans), 0, True, False, False))
                spans, room = [], piece_length
    if spans:
        jobs.append(_Job(tuple(spans), 0, True, False, False))
    return jobs


def _jobs_aligned(sources: Sequence[_Source], piece_length: int, v1: bool) -> list[_Job]:
    """One job per piece of each file: v2 pieces never span files (BEP 52)."""
    last = max(i for i, s in enumerate(sources) if s.size)
    jobs: list[_Job] = []
    for index, src in enumerate(sources):
        for pos in range(0, src.size, piece_length):
            n = min(piece_length, src.size - pos)
            pad = piece_length - n if v1 and index != last else 0
            whole = src.size <= piece_length
            jobs.append(_Job(((index, pos, n),), pad, v1, True, whole))
    return jobs


def _hash_job(sources: Sequence[_Source], job: _Job, piece_length: int) -> _Result:
    """Read one piece and hash it as the job asks; runs on a worker thread."""
    chunks = [_read(sources[i], offset, length) for i, offset, length in job.spans]
    data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    sha1 = None
    if job.v1:
        h = hashlib.sha1(data)
        if job.pad:
            h.update(bytes(job.pad))  # BEP 47: a padding file's content is zeros
        sha1 = h.digest()
    v2 = hash_piece_v2(data, piece_length, whole_file=job.whole_file) if job.v2 else None
    return sha1, v2


def _read(src: _Source, offset: int, length: int) -> bytes:
    try:
        fd = os.open(src.abspath, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        try:
            data = os.pread(fd, length, offset)
            while len(data) < length:
                more = os.pread(fd, length - len(data), offset + len(data))
                if not more:
                    raise TorrentCreationError(
                        f"{src.abspath!r} became shorter while it was being hashed"
                    )
                data += more
        finally:
            os.close(fd)
    except OSError as e:
        raise TorrentCreationError(f"cannot read {src.abspath!r}: {e.strerror}") from e
    return data


def _run_jobs(
    sources: Sequence[_Source],
    jobs: Sequence[_Job],
    total: int,
    piece_length: int,
    progress: Callable[[int, int], None] | None,
    workers: int | None,
) -> list[_Result]:
    """Hash every job on a thread pool, keeping a bounded number of pieces in memory."""
    threads = max(1, workers if workers is not None else (os.cpu_count() or 1))
    results: list[_Result] = [(None, None)] * len(jobs)
    done = 0
    if progress is not None:
        progress(0, total)
    pending: dict[Future[_Result], int] = {}
    queue: Iterator[int] = iter(range(len(jobs)))
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="bitswarm-hash") as pool:
        try:
            while True:
                while len(pending) < 2 * threads:
                    index = next(queue, None)
                    if index is None:
                        break
                    pending[pool.submit(_hash_job, sources, jobs[index], piece_length)] = index
                if not pending:
                    break
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    index = pending.pop(future)
                    results[index] = future.result()
                    done += sum(span[2] for span in jobs[index].spans)
                    if progress is not None:
                        progress(done, total)
        finally:
            for future in pending:
                future.cancel()
    return results


def _merkle(
    sources: Sequence[_Source],
    jobs: Sequence[_Job],
    results: Sequence[_Result],
    piece_length: int,
) -> tuple[list[bytes | None], dict[bytes, bytes]]:
    """Each file's pieces root and the ``piece layers`` of files larger than one piece."""
    per_file: list[list[bytes]] = [[] for _ in sources]
    for job, (_, v2) in zip(jobs, results, strict=True):
        assert v2 is not None
        per_file[job.spans[0][0]].append(v2)
    roots: list[bytes | None] = []
    layers: dict[bytes, bytes] = {}
    for src, layer in zip(sources, per_file, strict=True):
        if src.size == 0:
            roots.append(None)
        elif src.size <= piece_length:
            roots.append(layer[0])  # the job hashed the whole file: this is its root
        else:
            root = root_from_piece_layer(layer, piece_length)
            roots.append(root)
            layers[root] = b"".join(layer)
    return roots, layers


def _v1_file_list(
    sources: Sequence[_Source], piece_length: int, *, padded: bool
) -> list[dict[str, object]]:
    """BEP 3 ``files``; for hybrids a BEP 47 pad after each unaligned file but the last."""
    last = max(i for i, s in enumerate(sources) if s.size)
    out: list[dict[str, object]] = []
    for index, src in enumerate(sources):
        out.append({"length": src.size, "path": list(src.rel)})
        pad = -src.size % piece_length
        if padded and pad and index < last:
            out.append({"attr": "p", "length": pad, "path": [".pad", str(pad)]})
    return out


def _file_tree(
    sources: Sequence[_Source], roots: Sequence[bytes | None], single_name: str | None
) -> dict[str, object]:
    """The BEP 52 ``file tree``: nested folders, each file a ``{"": {...}}`` node."""
    tree: dict[str, object] = {}
    for src, root in zip(sources, roots, strict=True):
        props: dict[str, object] = {"length": src.size}
        if root is not None:
            props["pieces root"] = root
        node = tree
        for part in (single_name,) if single_name is not None else src.rel:
            child = node.setdefault(part, {})
            assert isinstance(child, dict)
            node = child
        node[""] = props
    return tree
