"""The RPC envelope: one POST body in, one reply out, in whichever protocol the client spoke.

Rules:
- A JSON object with a "jsonrpc" member is JSON-RPC 2.0 (it must say "2.0"); any other
  object is Transmission's legacy protocol. The protocol is decided per request, so one
  daemon serves transmission-remote 3.00 and a 4.1 client side by side.
- Legacy: {"method", "arguments", "tag"} -> {"result": "success" | a sentence, "arguments",
  "tag"}, always HTTP 200 (as Transmission does), except a body that is not JSON at all:
  HTTP 400 with a legacy-shaped error.
- JSON-RPC 2.0: {"jsonrpc", "method", "params", "id"} -> {"jsonrpc", "result" | "error", "id"}.
  A request without "id" is a notification: it runs, nothing is answered (HTTP 204 when
  nothing at all is). An array is a batch of at most `MAX_BATCH` requests, run in order;
  its reply holds the answers of the non-notifications. Errors carry the spec's codes;
  the sentence for a person is `error.data.error_string`. A body that is not JSON gets
  -32700 when it looks like JSON-RPC (it mentions "jsonrpc").
- A `DaemonError` becomes the error sentence; a bug becomes "Internal error" (logged),
  so one bad request in a batch does not lose the others' answers.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from ..api import DaemonApi
from ..model import DaemonError, UnknownTorrent
from .call import ActivityMemory, Call
from .methods import METHODS
from .names import ERROR_MESSAGES, ErrorCode, RpcError, Style, snake

__all__ = ["MAX_BATCH", "Reply", "execute"]

MAX_BATCH = 100

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Reply:
    status: int  # HTTP status
    body: Any  # the JSON value to send; None: no body (204)


@dataclass(frozen=True, slots=True)
class _Context:
    api: DaemonApi
    memory: ActivityMemory
    session_id: str
    now: float


def _error_object(error: RpcError) -> dict[str, Any]:
    out: dict[str, Any] = {"code": int(error.code), "message": ERROR_MESSAGES[error.code]}
    if error.detail and error.detail != out["message"]:
        out["data"] = {"error_string": error.detail}
    return out


def _jsonrpc_error(request_id: Any, error: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "error": _error_object(error), "id": request_id}


def _legacy_error(detail: str) -> dict[str, Any]:
    return {"result": detail, "arguments": {}}


async def execute(
    api: DaemonApi, memory: ActivityMemory, raw: bytes, *, session_id: str, now: float
) -> Reply:
    """Answer one POST body."""
    ctx = _Context(api, memory, session_id, now)
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        detail = f"the request is not valid JSON: {e}"
        if b'"jsonrpc"' in raw:
            return Reply(200, _jsonrpc_error(None, RpcError(ErrorCode.PARSE_ERROR, detail)))
        return Reply(400, _legacy_error(detail))
    if isinstance(doc, list):
        return await _batch(ctx, doc)
    if isinstance(doc, dict):
        answer = await _one(ctx, doc, in_batch=False)
        return Reply(204, None) if answer is None else Reply(200, answer)
    detail = "a request must be a JSON object (or an array of JSON-RPC 2.0 requests)"
    if b'"jsonrpc"' in raw:
        return Reply(200, _jsonrpc_error(None, RpcError(ErrorCode.INVALID_REQUEST, detail)))
    return Reply(400, _legacy_error(detail))


async def _batch(ctx: _Context, requests: list[Any]) -> Reply:
    if not requests:
        error = RpcError(ErrorCode.INVALID_REQUEST, "an empty batch")
        return Reply(200, _jsonrpc_error(None, error))
    if len(requests) > MAX_BATCH:
        detail = f"a batch holds at most {MAX_BATCH} requests, this one {len(requests)}"
        return Reply(200, _jsonrpc_error(None, RpcError(ErrorCode.INVALID_REQUEST, detail)))
    answers = []
    for request in requests:
        if not isinstance(request, dict):
            error = RpcError(ErrorCode.INVALID_REQUEST, "request must be an Object")
            answers.append(_jsonrpc_error(None, error))
            continue
        answer = await _one(ctx, request, in_batch=True)
        if answer is not None:
            answers.append(answer)
    return Reply(200, answers) if answers else Reply(204, None)


async def _one(ctx: _Context, request: dict[str, Any], *, in_batch: bool) -> dict[str, Any] | None:
    if "jsonrpc" in request or in_batch:
        if request.get("jsonrpc") != "2.0":
            error = RpcError(ErrorCode.INVALID_REQUEST, "JSON-RPC version is not 2.0")
            return _jsonrpc_error(None, error)
        return await _jsonrpc(ctx, request)
    return await _legacy(ctx, request)


def _valid_id(value: Any) -> bool:
    return value is None or (isinstance(value, str | int | float) and not isinstance(value, bool))


async def _jsonrpc(ctx: _Context, request: dict[str, Any]) -> dict[str, Any] | None:
    has_id = "id" in request
    request_id = request.get("id")
    if has_id and not _valid_id(request_id):
        error = RpcError(ErrorCode.INVALID_REQUEST, "id type must be String, Number, or Null")
        return _jsonrpc_error(None, error)
    method = request.get("method")
    if not isinstance(method, str) or not method:
        return _jsonrpc_error(
            request_id, RpcError(ErrorCode.INVALID_REQUEST, "method must be a string")
        )
    params = request.get("params")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        detail = "params must be an object (parameters by position are not supported)"
        result: dict[str, Any] | RpcError = RpcError(ErrorCode.INVALID_PARAMS, detail)
    else:
        result = await _run(ctx, method, params, Style.JSONRPC, notification=not has_id)
    if not has_id:
        return None
    if isinstance(result, RpcError):
        return _jsonrpc_error(request_id, result)
    return {"jsonrpc": "2.0", "result": result, "id": request_id}


async def _legacy(ctx: _Context, request: dict[str, Any]) -> dict[str, Any]:
    method = request.get("method")
    arguments = request.get("arguments")
    if arguments is None:
        arguments = {}
    result: dict[str, Any] | RpcError
    if not isinstance(method, str) or not method:
        result = RpcError(ErrorCode.METHOD_NOT_FOUND, "no method name")
    elif not isinstance(arguments, dict):
        result = RpcError(ErrorCode.INVALID_PARAMS, "arguments must be a JSON object")
    else:
        result = await _run(ctx, method, arguments, Style.LEGACY, notification=False)
    if isinstance(result, RpcError):
        reply = _legacy_error(result.detail)
    else:
        reply = {"result": "success", "arguments": result}
    if "tag" in request:
        reply["tag"] = request["tag"]
    return reply


async def _run(
    ctx: _Context, method: str, params: dict[str, Any], style: Style, *, notification: bool
) -> dict[str, Any] | RpcError:
    entry = METHODS.get(snake(method))
    if entry is None:
        return RpcError(ErrorCode.METHOD_NOT_FOUND, f"method {method} is not supported by bitswarm")
    handler, side_effects = entry
    if notification and not side_effects:
        return {}
    args = {snake(key): value for key, value in params.items()}
    call = Call(ctx.api, args, style, ctx.session_id, ctx.memory, ctx.now)
    try:
        return await handler(call)
    except RpcError as e:
        return e
    except UnknownTorrent as e:
        return RpcError(ErrorCode.INVALID_PARAMS, str(e))
    except DaemonError as e:
        return RpcError(ErrorCode.SYSTEM_ERROR, str(e))
    except Exception:  # a bug: logged whole, answered as JSON, the batch's other answers kept
        log.exception("transmission rpc: %s failed", method)
        return RpcError(
            ErrorCode.INTERNAL_ERROR, f"{method} failed inside bitswarm (see the daemon's log)"
        )
