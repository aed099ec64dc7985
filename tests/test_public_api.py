"""The library's front door: `import bitswarm` exports a curated, documented API.

Every name in `bitswarm.__all__` resolves and has its own docstring, nothing public is
exported beside them, type checkers see the same names, and the import stays light (the
session and asyncio are imported on first use, not by `import bitswarm`).
"""

from __future__ import annotations

import ast
import inspect
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

import bitswarm

INIT = Path(bitswarm.__file__)

# Public methods of exported classes that are session plumbing (the peer and announce
# callbacks, connection bookkeeping), not library API; the session's restructuring gives
# them docstrings or makes them private. Anything else public must be documented.
UNDOCUMENTED_PLUMBING = {
    "Session.connection_count",
    "Session.own_hosts",
    "Session.is_own_address",
    "TorrentRuntime.start",
    "TorrentRuntime.save_resume_now",
    "TorrentRuntime.peer_connected",
    "TorrentRuntime.peer_events",
    "TorrentRuntime.peer_lost",
    "TorrentRuntime.add_peers",
    "TorrentRuntime.banned",
    "TorrentRuntime.connect_more",
    "TorrentRuntime.announce_stats",
}

# The calls docs/library.md teaches: these must never be undocumented.
LIBRARY_CALLS = [
    "Session.start",
    "Session.close",
    "Session.add",
    "Session.fetch_metadata",
    "Session.remove",
    "TorrentRuntime.wait_complete",
    "TorrentRuntime.status",
    "TorrentRuntime.stop",
    "TorrentStatus.to_json",
    "Magnet.from_metainfo",
    "Magnet.to_uri",
]


def _exported() -> list[tuple[str, object]]:
    return [(name, getattr(bitswarm, name)) for name in bitswarm.__all__ if name != "__version__"]


def _own_doc(obj: object) -> str:
    """The object's own docstring: not inherited, not a dataclass's generated signature."""
    doc = vars(obj).get("__doc__") if inspect.isclass(obj) else getattr(obj, "__doc__", None)
    name = getattr(obj, "__name__", "")
    if not isinstance(doc, str) or doc.startswith(f"{name}("):
        return ""
    return doc.strip()


def test_every_exported_name_resolves_from_the_package() -> None:
    assert len(set(bitswarm.__all__)) == len(bitswarm.__all__)
    assert isinstance(bitswarm.__version__, str)
    for name, obj in _exported():
        assert obj is not None, name
        assert getattr(obj, "__module__", "").startswith("bitswarm."), name
        namespace: dict[str, object] = {}
        exec(f"from bitswarm import {name}", namespace)
        assert namespace[name] is obj


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Sesion'"):
        bitswarm.Sesion  # type: ignore[attr-defined]  # noqa: B018  # misspelt on purpose


def test_every_exported_name_has_its_own_docstring() -> None:
    missing = [name for name, obj in _exported() if not _own_doc(obj)]
    assert not missing, f"exported without a docstring: {missing}"


def test_public_methods_of_exported_classes_are_documented() -> None:
    missing = []
    for name, cls in _exported():
        if not inspect.isclass(cls):
            continue
        for attr, value in vars(cls).items():
            if attr.startswith("_") or f"{name}.{attr}" in UNDOCUMENTED_PLUMBING:
                continue
            func = value.fget if isinstance(value, property) else getattr(value, "__func__", value)
            if callable(func) and not inspect.isclass(func) and not (func.__doc__ or "").strip():
                missing.append(f"{name}.{attr}")
    assert not missing, f"public methods without a docstring: {missing}"
    for dotted in LIBRARY_CALLS:
        cls_name, attr = dotted.split(".")
        assert dotted not in UNDOCUMENTED_PLUMBING
        assert (getattr(getattr(bitswarm, cls_name), attr).__doc__ or "").strip(), dotted


def _is_subpackage(value: object) -> bool:
    """`bitswarm.session` and the like: set on the package once they are imported."""
    return isinstance(value, types.ModuleType) and value.__name__.startswith("bitswarm.")


def test_nothing_public_is_exported_by_accident() -> None:
    stray = [
        name
        for name, value in vars(bitswarm).items()
        if not name.startswith("_") and name not in bitswarm.__all__ and not _is_subpackage(value)
    ]
    assert not stray, f"public names of bitswarm not in __all__: {stray}"
    public_dir = [n for n in dir(bitswarm) if not n.startswith("_")]
    subpackages = {n for n, v in vars(bitswarm).items() if _is_subpackage(v)}
    assert set(public_dir) - subpackages == {n for n in bitswarm.__all__ if n[0] != "_"}


def test_type_checkers_see_every_exported_name() -> None:
    """The `if TYPE_CHECKING:` imports name exactly `__all__`, from where `_ORIGINS`
    says the run-time import finds them (otherwise mypy and the run time disagree)."""
    tree = ast.parse(INIT.read_text())
    seen: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom), ast.unparse(stmt)
                for alias in stmt.names:
                    seen[alias.asname or alias.name] = f"bitswarm.{stmt.module}"
    assert seen == bitswarm._ORIGINS
    assert set(seen) == set(bitswarm.__all__) - {"__version__"}


def test_import_bitswarm_stays_light() -> None:
    """`import bitswarm` (and so every `bitswarm.<subpackage>`) imports neither asyncio nor
    the session; touching `bitswarm.Session` does."""
    code = (
        "import sys, bitswarm\n"
        "heavy = [m for m in ('asyncio', 'aiohttp', 'typing', 'bitswarm.session')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "bitswarm.Session\n"
        "assert 'bitswarm.session' in sys.modules and 'asyncio' in sys.modules\n"
    )
    # Without coverage's start-up in the child (it imports typing and more itself).
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30, env=env)
