"""`app/*` and `transfer/*`: what the daemon is, its preferences, its global rates.

The daemon says it is qBittorrent v5.0.5 with Web API 2.11.2: the release whose names
(`torrents/start|stop`, `stoppedDL`, "Ok."/"Fails." logins) this front-end speaks, and a
pair that the `qbittorrent-api` library and Sonarr know. `app/buildInfo` names bitswarm.

`app/shutdown` is refused (403): a remote client stopping the service would leave it
down until someone logs in to the machine; stop it locally (systemctl stop, SIGTERM).

The global limits of `transfer/*` follow qBittorrent: the "current" limit is the
alternative one while alternative speeds are on, else the normal one; 0 is no limit.
"""

from __future__ import annotations

import json
import platform
import sys

from aiohttp import web

from ...version import __version__
from .gate import password_required
from .preferences import preferences, settings_changes
from .protocol import Call, QbtError, RouteTable, bad_params, empty, json_reply, text_reply

__all__ = ["API_VERSION", "APP_VERSION", "ROUTES", "server_state"]

APP_VERSION = "v5.0.5"
API_VERSION = "2.11.2"

_routes = RouteTable()


@_routes.get("app/version")
async def _version(call: Call) -> web.StreamResponse:
    return text_reply(APP_VERSION)


@_routes.get("app/webapiVersion")
async def _webapi_version(call: Call) -> web.StreamResponse:
    return text_reply(API_VERSION)


@_routes.get("app/buildInfo")
async def _build_info(call: Call) -> web.StreamResponse:
    return json_reply(
        {
            "qt": "",
            "libtorrent": f"bitswarm {__version__}",
            "boost": "",
            "openssl": "",
            "zlib": "",
            "bitness": 64 if sys.maxsize > 2**32 else 32,
            "platform": platform.system().lower() or "unknown",
        }
    )


@_routes.get("app/preferences")
async def _preferences(call: Call) -> web.StreamResponse:
    return json_reply(preferences(call.api.settings, password_set=password_required(call.request)))


@_routes.post("app/setPreferences")
async def _set_preferences(call: Call) -> web.StreamResponse:
    call.params.require("json")
    try:
        wanted = json.loads(call.params.get("json"))
    except ValueError as e:
        raise bad_params("'json' is not valid JSON") from e
    if not isinstance(wanted, dict):
        raise bad_params("'json' must be a JSON object")
    changes = settings_changes(wanted, call.api.settings)
    if changes:
        await call.api.set_settings(changes, remote=True)
    return empty()


@_routes.get("app/defaultSavePath")
async def _default_save_path(call: Call) -> web.StreamResponse:
    return text_reply(call.api.settings.download_dir)


@_routes.post("app/shutdown")
async def _shutdown(call: Call) -> web.StreamResponse:
    raise QbtError(403, "the daemon is not shut down over the network: stop the service locally")


# ------------------------------------------------------------------ transfer
def _current_limits(call: Call) -> tuple[int, int]:
    s = call.api.settings
    if s.alt_speed_enabled:
        return s.alt_speed_down, s.alt_speed_up
    return (
        s.speed_limit_down if s.speed_limit_down_enabled else 0,
        s.speed_limit_up if s.speed_limit_up_enabled else 0,
    )


def server_state(call: Call) -> dict[str, object]:
    """qBittorrent's transfer info (the `transfer/info` object, and the core of
    `sync/maindata`'s `server_state`)."""
    stats = call.api.stats()
    dl_limit, up_limit = _current_limits(call)
    return {
        "dl_info_speed": int(stats.download_rate),
        "dl_info_data": stats.downloaded_session,
        "up_info_speed": int(stats.upload_rate),
        "up_info_data": stats.uploaded_session,
        "dl_rate_limit": dl_limit,
        "up_rate_limit": up_limit,
        "dht_nodes": 0,
        "connection_status": "connected",
    }


@_routes.get("transfer/info")
async def _transfer_info(call: Call) -> web.StreamResponse:
    return json_reply(server_state(call))


@_routes.get("transfer/speedLimitsMode")
async def _speed_limits_mode(call: Call) -> web.StreamResponse:
    return text_reply("1" if call.api.settings.alt_speed_enabled else "0")


@_routes.post("transfer/toggleSpeedLimitsMode")
async def _toggle_speed_limits_mode(call: Call) -> web.StreamResponse:
    await call.api.set_settings({"alt_speed_enabled": not call.api.settings.alt_speed_enabled})
    return empty()


@_routes.post("transfer/setSpeedLimitsMode")
async def _set_speed_limits_mode(call: Call) -> web.StreamResponse:
    call.params.require("mode")
    mode = call.params.int("mode")
    if mode is None:
        raise bad_params("'mode': invalid argument")
    await call.api.set_settings({"alt_speed_enabled": mode != 0})
    return empty()


@_routes.get("transfer/downloadLimit")
async def _download_limit(call: Call) -> web.StreamResponse:
    return text_reply(str(_current_limits(call)[0]))


@_routes.get("transfer/uploadLimit")
async def _upload_limit(call: Call) -> web.StreamResponse:
    return text_reply(str(_current_limits(call)[1]))


async def _set_limit(call: Call, direction: str) -> web.StreamResponse:
    call.params.require("limit")
    limit = call.params.int("limit")
    if limit is None:
        raise bad_params("'limit' must be a whole number")
    limit = max(limit, 0)
    if call.api.settings.alt_speed_enabled:
        await call.api.set_settings({f"alt_speed_{direction}": limit})
    else:
        await call.api.set_settings(
            {f"speed_limit_{direction}": limit, f"speed_limit_{direction}_enabled": limit > 0}
        )
    return empty()


@_routes.post("transfer/setDownloadLimit")
async def _set_download_limit(call: Call) -> web.StreamResponse:
    return await _set_limit(call, "down")


@_routes.post("transfer/setUploadLimit")
async def _set_upload_limit(call: Call) -> web.StreamResponse:
    return await _set_limit(call, "up")


ROUTES = _routes.routes
