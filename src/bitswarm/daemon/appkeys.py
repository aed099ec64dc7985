"""The keys under which the daemon's aiohttp application keeps what its handlers share."""

from __future__ import annotations

from aiohttp import web

from .api import DaemonApi
from .auth import Authenticator

__all__ = ["API_KEY", "AUTH_KEY", "SESSION_ID_KEY"]

API_KEY = web.AppKey("api", DaemonApi)
AUTH_KEY = web.AppKey("auth", Authenticator)
SESSION_ID_KEY = web.AppKey("session_id", str)  # the CSRF token (X-Transmission-Session-Id)
