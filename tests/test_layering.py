"""The layer rule, enforced: L0 codecs and L1 sans-IO cores do no I/O.

DESIGN.md ("Layers"): L0 and L1 import no asyncio, socket, time, random, os or file I/O;
bytes and ``now`` go in, events and bytes come out; randomness is an injected ``rng``.
This test walks the AST of every L0/L1 module and fails on a banned import, on a call
to ``open(...)``/``__import__(...)``, and on an import of an upper layer (aio, session,
cli, daemon). It runs on whatever of the table below exists today (glob), so new
modules are covered as soon as they land.

To extend: add a row to `PURE_MODULES` (a glob relative to src/bitswarm/).
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parent.parent / "src" / "bitswarm"

# ---------------------------------------------------------------------------------------
# Which modules are pure (L0 codecs, L1 sans-IO cores). Globs relative to src/bitswarm/.
#
#   glob                      layer  what
PURE_MODULES: tuple[tuple[str, str, str], ...] = (
    ("bencode.py",              "L0", "bencoding codec"),
    ("bitfield.py",             "L0", "piece bitfield"),
    ("errors.py",               "L0", "error types"),
    ("magnet.py",               "L0", "BEP 9 magnet URIs"),
    ("merkle.py",               "L0", "BEP 52 merkle trees"),
    ("peer_id.py",              "L0", "peer-id generation/parsing (rng injected)"),
    ("metainfo.py",             "L0", "torrent files (if a single module)"),
    ("metainfo/**/*.py",        "L0", "torrent files (if a package)"),
    ("wire/**/*.py",            "L1", "peer wire codecs and connection core"),
    ("tracker/**/*.py",         "L1", "tracker client codecs and cores (driver is aio/)"),
    ("swarm/**/*.py",           "L1", "picker, choker, rates, torrent core"),
    ("dht/**/*.py",             "L1", "KRPC codec, routing table, lookups, node core"),
    ("storage/layout.py",       "L1", "pieces to file spans"),
    ("storage/verify.py",       "L1", "piece verification logic"),
    ("storage/resume.py",       "L1", "fast-resume codec"),
    ("storage/base.py",         "L1", "storage protocol"),
    ("core/**/*.py",            "L1", "TorrentCore, actions, extension hub"),
    ("ext/**/*.py",             "L1", "BEP 9 metadata, BEP 11 PEX, BEP 14 LSD (driver is aio/)"),
    ("tracker_server/store.py", "L1", "tracker swarm store protocol"),
    ("tracker_server/memory_store.py", "L1", "tracker swarm store (pure, in memory)"),
    ("tracker_server/config.py", "L1", "tracker settings"),
    ("tracker_server/conn_ids.py", "L1", "BEP 15 connection ids (keyed MAC)"),
    ("tracker_server/http_codec.py", "L0", "tracker HTTP request/response codec"),
    ("tracker_server/udp_codec.py", "L0", "tracker BEP 15 packet codec"),
    ("tracker_server/whitelist.py", "L1", "info-hash whitelist"),
    ("tracker_server/rate_limit.py", "L1", "per-address announce limits"),
    ("tracker_server/metrics.py", "L1", "Prometheus counters and histograms"),
)  # fmt: skip

# Top-level modules a pure module may not import (``import x``, ``import x.y``,
# ``from x import y``, ``from x.y import z`` all count).
BANNED_MODULES: frozenset[str] = frozenset(
    {
        "asyncio", "socket", "time", "random", "os", "threading", "subprocess",
        "selectors", "concurrent", "aiohttp", "pathlib",
    }
)  # fmt: skip

# Banned modules that may still be imported under ``if TYPE_CHECKING:`` (types only):
# a core types its injected rng as ``random.Random`` without ever calling the module.
TYPE_CHECKING_ALLOWED: frozenset[str] = frozenset({"random"})

# Builtins a pure module may not call.
BANNED_CALLS: frozenset[str] = frozenset({"open", "__import__"})

# Packages of upper layers (L2-L4) that L0/L1 may not depend on.
UPPER_LAYERS: tuple[str, ...] = (
    "bitswarm.aio", "bitswarm.session", "bitswarm.cli", "bitswarm.daemon", "bitswarm.lab",
)  # fmt: skip
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Violation:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def pure_module_paths(root: Path = PACKAGE_ROOT) -> list[Path]:
    """Every existing file matched by `PURE_MODULES`, sorted, without duplicates."""
    found: set[Path] = set()
    for pattern, _layer, _what in PURE_MODULES:
        found.update(p for p in root.glob(pattern) if p.is_file())
    return sorted(found)


def _is_type_checking(test: ast.expr) -> bool:
    match test:
        case ast.Name(id="TYPE_CHECKING"):
            return True
        case ast.Attribute(value=ast.Name(id="typing"), attr="TYPE_CHECKING"):
            return True
    return False


def _module_name(path: Path, root: Path) -> str | None:
    """Dotted name of `path` if it lies under `root` (the bitswarm package folder)."""
    try:
        rel = path.resolve().relative_to(root.resolve())
    except ValueError:
        return None
    parts = ["bitswarm", *rel.with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


class _Checker(ast.NodeVisitor):
    def __init__(self, path: str, package: str | None) -> None:
        self.path = path
        self.package = package  # the package a relative import is relative to
        self.type_checking = 0
        self.found: list[Violation] = []

    def _flag(self, node: ast.stmt | ast.expr, what: str) -> None:
        self.found.append(Violation(self.path, node.lineno, what))

    def _check_name(self, node: ast.stmt, name: str) -> None:
        top = name.split(".", 1)[0]
        if top in BANNED_MODULES and not (self.type_checking and top in TYPE_CHECKING_ALLOWED):
            where = " (only allowed under TYPE_CHECKING)" if top in TYPE_CHECKING_ALLOWED else ""
            self._flag(node, f"imports {name!r}{where}")
        for upper in UPPER_LAYERS:
            if name == upper or name.startswith(upper + "."):
                self._flag(node, f"imports upper layer {name!r}")

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            self.type_checking += 1
            for stmt in node.body:
                self.visit(stmt)
            self.type_checking -= 1
            for stmt in node.orelse:
                self.visit(stmt)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._check_name(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level == 0:
            if node.module:
                self._check_name(node, node.module)
            return
        if self.package is None:
            return
        base = self.package.split(".")
        if node.level > 1:
            base = base[: -(node.level - 1)]
        target = ".".join([*base, node.module] if node.module else base)
        self._check_name(node, target)
        if not node.module:  # ``from .. import aio``
            for alias in node.names:
                self._check_name(node, f"{target}.{alias.name}")

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id in BANNED_CALLS:
            self._flag(node, f"calls {node.func.id}()")
        self.generic_visit(node)


def check_source(source: str, path: str = "<string>", module: str | None = None) -> list[Violation]:
    """Violations of the layer rule in `source`. `module` is its dotted name, used to
    resolve relative imports (``from ..aio import x`` inside ``bitswarm.wire.peer``)."""
    tree = ast.parse(source, filename=path)
    package = None
    if module is not None:
        package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    checker = _Checker(path, package)
    checker.visit(tree)
    return checker.found


def check_file(path: Path, root: Path = PACKAGE_ROOT) -> list[Violation]:
    rel = str(path.relative_to(root.parent.parent)) if path.is_relative_to(root) else str(path)
    return check_source(path.read_text(encoding="utf-8"), rel, _module_name(path, root))


# --- the rule, on the real tree ---------------------------------------------------------


def test_table_covers_the_modules_that_exist() -> None:
    paths = pure_module_paths()
    names = {p.name for p in paths}
    # These exist since the skeleton; if the glob finds none, the test would pass vacuously.
    assert {"bencode.py", "bitfield.py", "errors.py"} <= names


def test_pure_modules_do_no_io() -> None:
    violations = [v for path in pure_module_paths() for v in check_file(path)]
    assert not violations, "L0/L1 layer rule broken:\n" + "\n".join(map(str, violations))


# --- the checker itself -----------------------------------------------------------------

BAD_SOURCES = [
    ("import socket\n", "imports 'socket'"),
    ("import os.path\n", "imports 'os.path'"),
    ("from os import path\n", "imports 'os'"),
    ("import asyncio as aio\n", "imports 'asyncio'"),
    ("from asyncio import Queue\n", "imports 'asyncio'"),
    ("import time\n", "imports 'time'"),
    ("from time import monotonic\n", "imports 'time'"),
    ("import random\n", "imports 'random' (only allowed under TYPE_CHECKING)"),
    ("import threading\n", "imports 'threading'"),
    ("import subprocess\n", "imports 'subprocess'"),
    ("import selectors\n", "imports 'selectors'"),
    ("import concurrent.futures\n", "imports 'concurrent.futures'"),
    ("from concurrent.futures import ThreadPoolExecutor\n", "imports 'concurrent.futures'"),
    ("import aiohttp\n", "imports 'aiohttp'"),
    ("from pathlib import Path\n", "imports 'pathlib'"),
    ("def f():\n    import socket\n", "imports 'socket'"),
    ("try:\n    import os\nexcept ImportError:\n    pass\n", "imports 'os'"),
    ("data = open('x', 'rb').read()\n", "calls open()"),
    ("def f(p):\n    with open(p) as fh:\n        return fh.read()\n", "calls open()"),
    ("m = __import__('socket')\n", "calls __import__()"),
    (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    pass\nelse:\n    import random\n",
        "imports 'random' (only allowed under TYPE_CHECKING)",
    ),
    (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import socket\n",
        "imports 'socket'",
    ),
    ("import bitswarm.aio.peer\n", "imports upper layer 'bitswarm.aio.peer'"),
    ("from bitswarm.session import Session\n", "imports upper layer 'bitswarm.session'"),
]


@pytest.mark.parametrize(("source", "what"), BAD_SOURCES)
def test_checker_flags_banned_source(source: str, what: str) -> None:
    found = check_source(source, "x.py")
    assert [v.what for v in found] == [what]


GOOD_SOURCES = [
    "from __future__ import annotations\nimport hashlib\nimport struct\n",
    "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import random\n",
    "import typing\nif typing.TYPE_CHECKING:\n    from random import Random\n",
    "from .bencode import bdecode\nfrom ..errors import BencodeError\n",
    "import ossaudiodev_like_name_is_not_os\nimport timeit_like\n",
    "def f(storage):\n    return storage.open('x')\n",  # a method called open is fine
    "from collections.abc import Iterator\nfrom dataclasses import dataclass\n",
]


@pytest.mark.parametrize("source", GOOD_SOURCES)
def test_checker_accepts_pure_source(source: str) -> None:
    assert check_source(source, "x.py", "bitswarm.wire.connection") == []


def test_relative_imports_of_upper_layers_are_resolved() -> None:
    found = check_source("from ..aio import peer\n", "wire/x.py", "bitswarm.wire.x")
    assert [v.what for v in found] == ["imports upper layer 'bitswarm.aio'"]
    found = check_source("from .. import session\n", "wire/x.py", "bitswarm.wire.x")
    assert [v.what for v in found] == ["imports upper layer 'bitswarm.session'"]
    found = check_source("from .aio import clock\n", "x.py", "bitswarm.magnet")
    assert [v.what for v in found] == ["imports upper layer 'bitswarm.aio'"]
    assert check_source("from .errors import BencodeError\n", "x.py", "bitswarm.magnet") == []


def test_adding_import_socket_to_a_real_pure_module_is_caught(tmp_path: Path) -> None:
    """Copy the real tree's bencode.py into a temp package, add ``import socket``, and
    run the same glob + checker the real test uses."""
    fake_root = tmp_path / "src" / "bitswarm"
    (fake_root / "wire").mkdir(parents=True)
    original = (PACKAGE_ROOT / "bencode.py").read_text(encoding="utf-8")
    (fake_root / "bencode.py").write_text(original, encoding="utf-8")
    (fake_root / "wire" / "messages.py").write_text(
        "from __future__ import annotations\nimport struct\n", encoding="utf-8"
    )
    paths = pure_module_paths(fake_root)
    assert [p.name for p in paths] == ["bencode.py", "messages.py"]
    assert [v for p in paths for v in check_file(p, fake_root)] == []

    (fake_root / "bencode.py").write_text(original + "\nimport socket\n", encoding="utf-8")
    (fake_root / "wire" / "messages.py").write_text(
        "from __future__ import annotations\nfrom ..aio import peer\n", encoding="utf-8"
    )
    found = [v for p in pure_module_paths(fake_root) for v in check_file(p, fake_root)]
    assert [(Path(v.path).name, v.what) for v in found] == [
        ("bencode.py", "imports 'socket'"),
        ("messages.py", "imports upper layer 'bitswarm.aio'"),
    ]
    assert found[0].line == original.count("\n") + 2


def test_banned_names_are_real_module_names() -> None:
    # A typo ("asynico") would silently ban nothing.
    stdlib = sys.stdlib_module_names
    assert BANNED_MODULES - {"aiohttp"} <= stdlib
