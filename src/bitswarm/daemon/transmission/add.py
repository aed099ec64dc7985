"""torrent-add: a torrent from a .torrent file's content, a URL, a magnet link or a local path.

Rules:
- `metainfo` (base64 of the .torrent file) wins over `filename`. A `filename` that is an
  http(s) URL or a magnet link goes to the daemon as it is (the daemon fetches URLs).
- A local path is read only when it names a file inside the daemon's download folder or
  its enabled watch folder (after resolving symlinks), and only up to the request body
  limit: the RPC may be reached from the network, and reading any file the daemon can
  read would let a client probe the server's disk. transmission-remote sends a file it
  can read itself as metainfo, so this only matters for paths on the server.
- `cookies` is ignored (the daemon fetches URLs without them). `bandwidthPriority` and
  "every file" priority lists (empty lists) are applied right after the add, when the
  file list is known; a magnet's empty lists wait for nothing and are dropped.
- Reply: `torrent-added`, or `torrent-duplicate` (still success) with id, name, hashString.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
from typing import Any

from ...readlimit import InputTooLarge, read_limited
from ..api import AddRequest
from .call import Call
from .names import ErrorCode, RpcError
from .priorities import file_lists, new_priorities, sparse_priorities

__all__ = ["torrent_add"]


def _read_local_torrent(path: str, roots: list[str], limit: int) -> bytes:
    real = os.path.realpath(path)
    allowed = [os.path.realpath(r) for r in roots if r]
    if not any(real.startswith(root.rstrip("/") + "/") for root in allowed):
        raise RpcError(
            ErrorCode.INVALID_PARAMS,
            "filename: bitswarm reads a local .torrent file only inside its download or "
            "watch folder; send the file's content as metainfo instead",
        )
    try:
        return read_limited(real, limit, what=".torrent file")
    except OSError as e:
        raise RpcError(ErrorCode.SYSTEM_ERROR, f"cannot read {path}: {e.strerror}") from e
    except InputTooLarge:
        raise RpcError(
            ErrorCode.CORRUPT_TORRENT, f"{path} is too large for a .torrent file"
        ) from None


async def _add_request(call: Call) -> AddRequest:
    settings = call.api.settings
    metainfo = call.arg_str("metainfo", "metainfo")
    filename = call.arg_str("filename", "filename")
    options: dict[str, Any] = {
        "download_dir": call.arg_path("download_dir", "download-dir"),
        "paused": call.arg_bool("paused", "paused"),
        "labels": call.arg_labels() or (),
        "peer_limit": call.arg_int("peer_limit", "peer-limit", low=1),
        "sequential": call.arg_bool("sequential_download", "sequential_download") or False,
    }
    priorities = sparse_priorities(file_lists(call))
    if priorities:
        options["file_priorities"] = priorities
    if metainfo:
        try:
            data = base64.b64decode(metainfo, validate=False)
        except (binascii.Error, ValueError) as e:
            raise RpcError(ErrorCode.INVALID_PARAMS, "metainfo is not base64") from e
        return AddRequest(torrent=data, **options)
    if not filename:
        raise RpcError(ErrorCode.INVALID_PARAMS, "no filename or metainfo specified")
    if filename.startswith("magnet:"):
        return AddRequest(magnet=filename, **options)
    if filename.startswith(("http://", "https://")):
        return AddRequest(url=filename, **options)
    roots = [settings.download_dir, settings.watch_dir if settings.watch_dir_enabled else ""]
    data = await asyncio.to_thread(_read_local_torrent, filename, roots, settings.rpc_max_body)
    return AddRequest(torrent=data, **options)


async def torrent_add(call: Call) -> dict[str, Any]:
    bandwidth = call.arg_int("bandwidth_priority", "bandwidthPriority", low=-1, high=1)
    lists = file_lists(call)
    request = await _add_request(call)
    result = await call.api.add(request)
    view = result.view
    if not result.duplicate:
        call.memory.touch([view.id], call.now)
        if bandwidth:
            await call.api.set_options([view.id], {"bandwidth_priority": bandwidth})
        if view.has_metadata and any(not indices for indices in lists.values()):
            current = [f.priority for f in call.api.files(view.id)]
            changes = new_priorities(current, lists)
            if changes:
                await call.api.set_file_priorities(view.id, changes)
    key = "torrent_duplicate" if result.duplicate else "torrent_added"
    legacy_key = "torrent-duplicate" if result.duplicate else "torrent-added"
    item = {
        "id": view.id,
        "name": view.name,
        call.name("hash_string", "hashString"): view.info_hash.lower(),
    }
    return {call.name(key, legacy_key): item}
