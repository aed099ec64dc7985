"""Transmission's session methods (spec section 4), and the table of every method.

Rules:
- `METHODS` maps each snake_case method name to (handler, has side effects). A JSON-RPC
  notification (a request without an id) of a method without side effects is not run,
  as Transmission does not run it: nobody would see its answer.
- Methods bitswarm does not carry out answer with a sentence that says why and what to
  do instead, never a 500: session-close (a daemon stops from its service manager, and
  a remote stop would be a denial of service), blocklist-update (the blocklist is a
  local file, reloaded when it changes), port-test (it needs a service on the internet),
  group-get/group-set (no bandwidth groups).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from .call import Call
from .names import ErrorCode, RpcError, snake
from .session import SessionContext, session_get, session_set_changes, session_stats
from .torrents import TORRENT_METHODS

__all__ = ["METHODS", "Handler"]

Handler = Callable[[Call], Awaitable[dict[str, Any]]]


async def _session_get(call: Call) -> dict[str, Any]:
    fields = call.args.get("fields")
    if fields is not None and (
        not isinstance(fields, list) or not all(isinstance(f, str) for f in fields)
    ):
        raise RpcError(ErrorCode.INVALID_PARAMS, "fields must be a list of key names")
    names = None if fields is None else [snake(f) for f in fields]
    return session_get(SessionContext(call.api, call.style, call.session_id), names)


async def _session_set(call: Call) -> dict[str, Any]:
    changes = session_set_changes(call.api.settings, call.args)
    if changes:
        await call.api.set_settings(changes, remote=True)
    return {}


async def _session_stats(call: Call) -> dict[str, Any]:
    return session_stats(call.api, call.style)


async def _free_space(call: Call) -> dict[str, Any]:
    path = call.arg_path("path", "path")
    if path is None:
        raise RpcError(ErrorCode.INVALID_PARAMS, "free-space needs a path")
    free = call.api.free_space(path)
    return {"path": path, call.name("size_bytes", "size-bytes"): free, "total_size": -1}


def _queue_move(where: str) -> Handler:
    async def move(call: Call) -> dict[str, Any]:
        ids = call.resolved_ids()
        if ids:
            await call.api.queue_move(ids, where)
            call.memory.touch(ids, call.now)
        return {}

    return move


def _refuse(code: ErrorCode, sentence: str) -> Handler:
    async def refuse(call: Call) -> dict[str, Any]:
        raise RpcError(code, sentence)

    return refuse


METHODS: dict[str, tuple[Handler, bool]] = {
    **TORRENT_METHODS,
    "session_get": (_session_get, False),
    "session_set": (_session_set, True),
    "session_stats": (_session_stats, False),
    "free_space": (_free_space, False),
    "queue_move_top": (_queue_move("top"), True),
    "queue_move_up": (_queue_move("up"), True),
    "queue_move_down": (_queue_move("down"), True),
    "queue_move_bottom": (_queue_move("bottom"), True),
    "session_close": (
        _refuse(
            ErrorCode.METHOD_NOT_FOUND,
            "session-close is not supported by bitswarm: stop the daemon from its service "
            "manager (systemctl stop, or SIGTERM)",
        ),
        True,
    ),
    "blocklist_update": (
        _refuse(
            ErrorCode.METHOD_NOT_FOUND,
            "blocklist-update is not supported by bitswarm: it reloads its blocklist file "
            "(blocklist_path in the config file) whenever the file changes",
        ),
        True,
    ),
    "port_test": (
        _refuse(
            ErrorCode.HTTP_ERROR,
            "port-test is not supported by bitswarm: it cannot test its peer port from "
            "outside; use a port checker on the internet",
        ),
        False,
    ),
    "group_get": (
        _refuse(
            ErrorCode.METHOD_NOT_FOUND, "bandwidth groups (group-get) are not supported by bitswarm"
        ),
        False,
    ),
    "group_set": (
        _refuse(
            ErrorCode.METHOD_NOT_FOUND, "bandwidth groups (group-set) are not supported by bitswarm"
        ),
        True,
    ),
}
