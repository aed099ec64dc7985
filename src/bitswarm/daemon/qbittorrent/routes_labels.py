"""Categories and tags (qBittorrent 5.0, src/webui/api/torrentscontroller.cpp).

A category is a name and a save path ("" = the default download folder), kept by the
daemon. A tag is one of a torrent's labels; tags created before any torrent carries them
are kept by this front-end (state.py). Tags arrive ","-joined and are trimmed;
categories to remove arrive "\\n"-joined. A category name is qBittorrent's valid name: not
empty, no "\\", no leading or trailing "/", no "//".
"""

from __future__ import annotations

from aiohttp import web

from .protocol import Call, RouteTable, bad_params, conflict, empty
from .routes_torrents import refs

__all__ = ["ROUTES", "split_tags", "valid_category"]

_routes = RouteTable()


def valid_category(name: str) -> bool:
    return not (
        not name or "\\" in name or name.startswith("/") or name.endswith("/") or "//" in name
    )


def split_tags(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


@_routes.post("torrents/createCategory")
async def _create_category(call: Call) -> web.StreamResponse:
    call.params.require("category")
    name = call.params.get("category")
    if not name:
        raise bad_params("Category cannot be empty")
    if not valid_category(name):
        raise conflict("Incorrect category name")
    if name in call.api.categories():
        raise conflict("Unable to create category")
    await call.api.set_category(name, call.params.get("savePath").strip())
    return empty()


@_routes.post("torrents/editCategory")
async def _edit_category(call: Call) -> web.StreamResponse:
    call.params.require("category", "savePath")
    name = call.params.get("category")
    if not name:
        raise bad_params("Category cannot be empty")
    if name not in call.api.categories():
        raise conflict("Unable to edit category")
    await call.api.set_category(name, call.params.get("savePath").strip())
    return empty()


@_routes.post("torrents/removeCategories")
async def _remove_categories(call: Call) -> web.StreamResponse:
    call.params.require("categories")
    known = call.api.categories()
    for name in call.params.get("categories").split("\n"):
        if name in known:
            await call.api.set_category(name, None)
    return empty()


@_routes.post("torrents/setCategory")
async def _set_category(call: Call) -> web.StreamResponse:
    call.params.require("hashes", "category")
    name = call.params.get("category")
    if name and name not in call.api.categories():
        raise conflict("Incorrect category name")
    ids = refs(call)
    targets = ids if ids is not None else call.api.resolve(None)
    if targets:
        await call.api.set_options(targets, {"category": name})
    return empty()


async def _relabel(
    call: Call, ids: list[int] | None, add: list[str], remove: set[str] | None
) -> None:
    """Add `add` to, and take `remove` (None: every tag) from, each torrent's labels."""
    for i in ids if ids is not None else call.api.resolve(None):
        labels = call.api.view(i).options.labels
        call.state.created_tags.update(labels)  # a tag taken off stays a tag, as in qB
        kept = [t for t in labels if remove is not None and t not in remove]
        new = kept + [t for t in add if t not in kept]
        if new != labels:
            await call.api.set_options([i], {"labels": new})


@_routes.post("torrents/addTags")
async def _add_tags(call: Call) -> web.StreamResponse:
    call.params.require("hashes", "tags")
    tags = split_tags(call.params.get("tags"))
    call.state.created_tags.update(tags)
    await _relabel(call, refs(call), tags, set())
    return empty()


@_routes.post("torrents/removeTags")
async def _remove_tags(call: Call) -> web.StreamResponse:
    call.params.require("hashes")
    tags = split_tags(call.params.get("tags"))
    await _relabel(call, refs(call), [], set(tags) if tags else None)
    return empty()


@_routes.post("torrents/createTags")
async def _create_tags(call: Call) -> web.StreamResponse:
    call.params.require("tags")
    call.state.created_tags.update(split_tags(call.params.get("tags")))
    return empty()


@_routes.post("torrents/deleteTags")
async def _delete_tags(call: Call) -> web.StreamResponse:
    call.params.require("tags")
    tags = set(split_tags(call.params.get("tags")))
    call.state.created_tags.difference_update(tags)
    for v in call.api.torrents():
        if tags & set(v.options.labels):
            await call.api.set_options(
                [v.id], {"labels": [t for t in v.options.labels if t not in tags]}
            )
    return empty()


ROUTES = _routes.routes
