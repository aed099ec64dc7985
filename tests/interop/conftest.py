"""Fixtures of the interop suite: the real tools, and content to make torrents of
(see `tools.make_content`). Shared once per session; nothing here writes outside tmp."""

from __future__ import annotations

from types import ModuleType

import pytest

from .tools import Content, make_content, require_module, require_program


@pytest.fixture(scope="session")
def content(tmp_path_factory: pytest.TempPathFactory) -> Content:
    return make_content(tmp_path_factory.mktemp("interop-content"))


@pytest.fixture(scope="session")
def lt() -> ModuleType:
    """The libtorrent Python module (the engine of qBittorrent and Deluge)."""
    return require_module("libtorrent")


@pytest.fixture(scope="session")
def transmission_show() -> str:
    return require_program("transmission-show")


@pytest.fixture(scope="session")
def mktorrent() -> str:
    return require_program("mktorrent")
