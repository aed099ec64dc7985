"""bitswarm never imports `bitswarm_lab`: the lab is its own distribution, on top of bitswarm.

DESIGN.md ("Layers"): a layer imports only from layers below it. The lab runs subprocesses,
shapes traffic and plots with matplotlib, and is installed apart (`pip install ./lab`); the
`bitswarm` command reaches `bitswarm lab` only through the entry-point group
``bitswarm.commands``. This walks the AST of every module under src/bitswarm and fails on
any import of the lab, so bitswarm keeps working where the lab is not installed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import bitswarm

PACKAGE = Path(bitswarm.__file__).resolve().parent


def lab_imports(source: str, where: str) -> list[str]:
    """The imports in `source` that name bitswarm_lab or a module inside it."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names = [node.module]
        else:
            continue
        found += [
            f"{where}:{node.lineno}: {name}"
            for name in names
            if name == "bitswarm_lab" or name.startswith("bitswarm_lab.")
        ]
    return found


def test_lab_imports_are_detected() -> None:
    source = "import os\nfrom bitswarm_lab.command import register\nimport bitswarm_lab\n"
    assert lab_imports(source, "x.py") == [
        "x.py:2: bitswarm_lab.command",
        "x.py:3: bitswarm_lab",
    ]
    assert lab_imports("from bitswarm.lab_thing import x\n", "x.py") == []


def test_nothing_in_bitswarm_imports_the_lab() -> None:
    offenders = []
    paths = sorted(PACKAGE.rglob("*.py"))
    assert len(paths) > 50  # the installed bitswarm package, not an empty folder
    for path in paths:
        offenders += lab_imports(path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE)))
    assert offenders == [], "\n".join(offenders)
