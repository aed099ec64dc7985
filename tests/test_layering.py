"""The import rules of docs/ARCHITECTURE.md ("Layers"), enforced.

The rules are import-linter contracts in pyproject.toml (``[tool.importlinter]``): the
layers (L4 front-ends > L3 > L2 drivers > L1 cores > L0 codecs, and the order inside the
session, the tracker client, the tracker server and storage), the independence of the
protocol packages, no import cycles, and no I/O modules in L0/L1 ("pure"). scripts/test.sh
runs ``lint-imports``; this file runs it too, shows that each contract does break when
its rule is broken, and checks the three rules import-linter cannot say:

* no import cycle between *modules* anywhere in the package (a whole-graph walk with
  grimp, import-linter's graph library), TYPE_CHECKING-only and function-level imports
  included;
* L0/L1 import ``random`` only for types (under ``if TYPE_CHECKING:``): randomness is an
  injected ``rng`` (DESIGN.md), but a core may name its type;
* L0/L1 never call ``open()`` or ``__import__()``.

The lab (``bitswarm.lab``, which is leaving the package) is left out of all of them.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_ROOT = ROOT / "src" / "bitswarm"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
LEFT_OUT = "bitswarm.lab"


def _contracts(pyproject: Path = ROOT / "pyproject.toml") -> dict[str, dict[str, Any]]:
    config = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    return {c["id"]: c for c in config["tool"]["importlinter"]["contracts"]}


def _graph(*, exclude_type_checking_imports: bool = False) -> grimp.ImportGraph:
    return grimp.build_graph(
        "bitswarm",
        include_external_packages=True,
        exclude_type_checking_imports=exclude_type_checking_imports,
        cache_dir=None,
    )


def _ours(module: str) -> bool:
    return module.split(".")[0] == "bitswarm" and not (
        module == LEFT_OUT or module.startswith(LEFT_OUT + ".")
    )


def _pure_modules(graph: grimp.ImportGraph) -> list[str]:
    """Every module the "pure" contract covers (its source packages, expanded)."""
    found: set[str] = set()
    for name in _contracts()["pure"]["source_modules"]:
        found |= {name, *graph.find_descendants(name)}
    return sorted(found)


def _lint(cwd: Path, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    assert LINT_IMPORTS.exists(), f"{LINT_IMPORTS} missing: pip install -e '.[test]'"
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# --- the contracts ----------------------------------------------------------------------


def test_import_contracts_hold() -> None:
    run = _lint(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def test_the_contracts_say_what_the_architecture_says() -> None:
    contracts = _contracts()
    assert {"layers", "protocols", "acyclic", "pure"} <= contracts.keys()
    assert contracts["layers"]["exhaustive"] is True  # a new top-level module needs a layer
    assert contracts["acyclic"]["ancestors"] == ["bitswarm"]
    assert {"asyncio", "socket", "time", "os", "threading"} <= set(
        contracts["pure"]["forbidden_modules"]
    )
    assert set(contracts["pure"]["forbidden_modules"]) - {"aiohttp", "redis"} <= set(
        sys.stdlib_module_names
    )  # a typo ("asynico") would silently forbid nothing


def _copy_package(tmp_path: Path) -> Path:
    shutil.copytree(
        PACKAGE_ROOT, tmp_path / "src" / "bitswarm", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path / "src" / "bitswarm"


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def test_each_contract_breaks_when_its_rule_is_broken(tmp_path: Path) -> None:
    """Break every rule once in a copy of the package; lint-imports must name each one."""
    pkg = _copy_package(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "src")}
    assert _lint(tmp_path, env).returncode == 0  # the copy holds, like the original

    _append(pkg / "bencode.py", "\nimport socket\n")  # pure: I/O in L0
    _append(pkg / "wire" / "handshake.py", "\nfrom ..aio import peer\n")  # layers: L1 -> L2
    _append(pkg / "dht" / "krpc.py", "\nfrom ..tracker import announce\n")  # independence
    # a cycle made of a TYPE_CHECKING-only import: dht.node imports dht.transactions
    _append(
        pkg / "dht" / "transactions.py",
        "\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import node\n",
    )
    _append(pkg / "session" / "dialer.py", "\ndef f() -> None:\n    from . import torrent\n")
    run = _lint(tmp_path, env)
    out = run.stdout
    assert run.returncode != 0
    contracts = _contracts()
    for cid in ("pure", "layers", "protocols", "acyclic", "session"):
        assert f"{contracts[cid]['name']} BROKEN" in " ".join(out.split()), (cid, out)
    assert "bitswarm.bencode -> socket" in out
    assert "bitswarm.wire.handshake -> bitswarm.aio.peer" in out
    assert "bitswarm.dht.krpc -> bitswarm.tracker.announce" in out
    assert ".transactions -> .node" in out or ".node -> .transactions" in out


# --- module cycles ----------------------------------------------------------------------


def import_cycles(graph: grimp.ImportGraph, modules: Iterable[str]) -> list[list[str]]:
    """The strongly connected components of more than one module among `modules` (Tarjan,
    iterative), or modules importing themselves: every import cycle, each as a sorted list."""
    nodes = sorted(modules)
    inside = set(nodes)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m) & inside) for m in nodes}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in nodes:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            if i < len(edges[node]):
                work.append((node, i + 1))
                nxt = edges[node][i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges[node]:
                    found.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return sorted(found)


def test_no_import_cycles_between_modules() -> None:
    graph = _graph()
    ours = [m for m in graph.modules if _ours(m)]
    assert len(ours) > 100  # the walk really saw the package
    cycles = import_cycles(graph, ours)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_cycle_walk_finds_cycles() -> None:
    graph = grimp.ImportGraph()
    for importer, imported in [("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d"),
                               ("p.d", "p.e"), ("p.f", "p.f"), ("p.g", "p.d")]:  # fmt: skip
        graph.add_import(importer=importer, imported=imported)
    assert import_cycles(graph, graph.modules) == [["p.a", "p.b", "p.c"], ["p.f"]]
    graph.remove_import(importer="p.c", imported="p.a")
    graph.remove_import(importer="p.f", imported="p.f")
    assert import_cycles(graph, graph.modules) == []


# --- what import-linter cannot say ------------------------------------------------------


def test_pure_modules_import_random_only_for_types() -> None:
    graph = _graph(exclude_type_checking_imports=True)
    pure = _pure_modules(graph)
    assert {"bitswarm.bencode", "bitswarm.wire", "bitswarm.swarm.picker"} <= set(pure)
    offenders = [
        " -> ".join(chain)
        for module in pure
        if (chain := graph.find_shortest_chain(importer=module, imported="random")) is not None
    ]
    assert not offenders, "random imported at run time (inject an rng):\n" + "\n".join(offenders)


def test_type_checking_imports_are_told_apart() -> None:
    """The graph the rule above walks does leave out TYPE_CHECKING imports (and only them):
    bitswarm.swarm.picker imports random for its types alone."""
    assert "random" in _graph().find_modules_directly_imported_by("bitswarm.swarm.picker")
    runtime = _graph(exclude_type_checking_imports=True)
    assert "random" not in runtime.find_modules_directly_imported_by("bitswarm.swarm.picker")
    assert "hashlib" in runtime.find_modules_directly_imported_by("bitswarm.merkle")


BANNED_CALLS = frozenset({"open", "__import__"})


def banned_calls(source: str) -> list[tuple[int, str]]:
    """(line, name) of every call of a builtin in `BANNED_CALLS` (a method named so is fine)."""
    return [
        (node.lineno, node.func.id)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in BANNED_CALLS
    ]


def _module_path(module: str) -> Path:
    rel = Path(*module.split(".")[1:])
    package = PACKAGE_ROOT / rel / "__init__.py"
    return package if package.exists() else (PACKAGE_ROOT / rel).with_suffix(".py")


def test_pure_modules_open_no_files() -> None:
    found = [
        f"{module}:{line}: calls {name}()"
        for module in _pure_modules(_graph())
        for line, name in banned_calls(_module_path(module).read_text(encoding="utf-8"))
    ]
    assert not found, "L0/L1 modules do no file I/O:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("source", "calls"),
    [
        ("data = open('x', 'rb').read()\n", [(1, "open")]),
        ("def f(p):\n    with open(p) as fh:\n        return fh.read()\n", [(2, "open")]),
        ("m = __import__('socket')\n", [(1, "__import__")]),
        ("def f(storage):\n    return storage.open('x')\n", []),  # a method called open
        ("import hashlib\nhashlib.sha1(b'')\n", []),
    ],
)
def test_banned_calls_are_found(source: str, calls: list[tuple[int, str]]) -> None:
    assert banned_calls(source) == calls
