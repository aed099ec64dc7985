"""The two spellings of Transmission's RPC names, and the errors both protocols share.

Rules:
- Transmission <= 4.0 (the "legacy" protocol) spells names in camelCase (torrent fields)
  or kebab-case (methods, session keys); 4.1's JSON-RPC 2.0 spells every one of them in
  snake_case. Inside this package everything is snake_case: a legacy request's names are
  turned into snake_case on the way in (`snake`), and each reply table carries the legacy
  spelling of its own keys for the way out (the mapping back is not mechanical:
  `downloadDir` in torrent-get is `download-dir` in session-get).
- `snake` is mechanical, with the few exceptions Transmission's libtransmission/api-compat.cc
  lists (`cache-size-mb` became `cache_size_mib`; `isUTP` is one word).
- Errors carry a JSON-RPC 2.0 code (the spec's -32xxx, or Transmission's own small
  positive codes) and a sentence for a person; the legacy protocol shows only the sentence.
"""

from __future__ import annotations

import enum
import functools
import re

__all__ = ["ErrorCode", "RpcError", "Style", "snake"]


class Style(enum.Enum):
    """Which protocol a request came in, so its reply goes out the same way."""

    LEGACY = "legacy"  # {"method", "arguments", "tag"} -> {"result", "arguments", "tag"}
    JSONRPC = "jsonrpc"  # JSON-RPC 2.0, snake_case names (Transmission 4.1)


class ErrorCode(enum.IntEnum):
    """JSON-RPC 2.0's codes and the ones Transmission adds (libtransmission/rpcimpl.h)."""

    PARSE_ERROR = -32700
    INVALID_REQUEST = -32600
    METHOD_NOT_FOUND = -32601
    INVALID_PARAMS = -32602
    INTERNAL_ERROR = -32603
    SET_ANNOUNCE_LIST = 1
    INVALID_TRACKER_LIST = 2
    PATH_NOT_ABSOLUTE = 3
    UNRECOGNIZED_INFO = 4
    SYSTEM_ERROR = 5
    FILE_IDX_OOR = 6
    PIECE_IDX_OOR = 7
    HTTP_ERROR = 8
    CORRUPT_TORRENT = 9
    INVALID_BLOCKLIST_DATA = 10


# The `message` of each code, as Transmission words it (the detail goes in data.error_string).
ERROR_MESSAGES = {
    ErrorCode.PARSE_ERROR: "Parse error",
    ErrorCode.INVALID_REQUEST: "Invalid Request",
    ErrorCode.METHOD_NOT_FOUND: "Method not found",
    ErrorCode.INVALID_PARAMS: "Invalid params",
    ErrorCode.INTERNAL_ERROR: "Internal error",
    ErrorCode.SET_ANNOUNCE_LIST: "error setting announce list",
    ErrorCode.INVALID_TRACKER_LIST: "Invalid tracker list",
    ErrorCode.PATH_NOT_ABSOLUTE: "path is not absolute",
    ErrorCode.UNRECOGNIZED_INFO: "unrecognized info",
    ErrorCode.SYSTEM_ERROR: "system error",
    ErrorCode.FILE_IDX_OOR: "file index out of range",
    ErrorCode.PIECE_IDX_OOR: "piece index out of range",
    ErrorCode.HTTP_ERROR: "HTTP error from backend service",
    ErrorCode.CORRUPT_TORRENT: "invalid or corrupt torrent file",
    ErrorCode.INVALID_BLOCKLIST_DATA: "couldn't parse any valid blocklist rules",
}


class RpcError(Exception):
    """A request that failed: `code` for JSON-RPC clients, `detail` for a person."""

    def __init__(self, code: ErrorCode, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


_EXCEPTIONS = {
    "cache-size-mb": "cache_size_mib",
    "cache_size_mb": "cache_size_mib",
    "isUTP": "is_utp",
    "speed-Bps": "speed_bps",
}
_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


@functools.lru_cache(maxsize=2048)  # bounded: request names are chosen by the client
def snake(name: str) -> str:
    """The snake_case spelling of a legacy (camelCase or kebab-case) or current name."""
    special = _EXCEPTIONS.get(name)
    if special is not None:
        return special
    if "-" in name:
        return name.replace("-", "_").lower()
    if name.islower():
        return name
    return _CAMEL_HUMP.sub("_", name).lower()
