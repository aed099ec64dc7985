"""The keys under which the daemon's aiohttp application keeps what its handlers share."""

from __future__ import annotations

from aiohttp import web

from .api import DaemonApi

__all__ = ["API_KEY"]

API_KEY = web.AppKey("api", DaemonApi)
