"""pytest plugin: a socket left open names the test that created it.

The garbage collector finalizes a leaked socket whenever it next runs, often during some
later, unrelated test of the same xdist worker: Python's `ResourceWarning: unclosed
<socket.socket ...>` then fails that innocent test and says nothing of where the socket came
from (two CI runs failed so). Here every `socket.socket` records the test running when it
was made, and one still open when finalized gives the same warning with that test's id
added (and is closed). Loaded by `addopts` (pyproject.toml); costs a dict entry per socket.
"""

from __future__ import annotations

import socket
import warnings
from collections.abc import Generator
from typing import Any

import pytest

_current = ["(no test)"]
_made_in: dict[int, str] = {}  # id(socket) -> the test that created it
_original_init = socket.socket.__init__


def _init(self: socket.socket, *args: Any, **kwargs: Any) -> None:
    _original_init(self, *args, **kwargs)
    _made_in[id(self)] = _current[0]


def _finalize(self: socket.socket) -> None:
    made_in = _made_in.pop(id(self), "(unknown)")
    if self.fileno() == -1:
        return
    try:
        warnings.warn(
            f"unclosed {self!r}, created during {made_in}",
            ResourceWarning,
            stacklevel=1,  # raised by the finalizer: no caller to point at
            source=self,
        )
    finally:
        self.close()


def pytest_configure(config: pytest.Config) -> None:
    socket.socket.__init__ = _init  # type: ignore[method-assign]
    socket.socket.__del__ = _finalize  # type: ignore[attr-defined]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    _current[0] = item.nodeid
    try:
        return (yield)
    finally:
        _current[0] = f"(after {item.nodeid})"
