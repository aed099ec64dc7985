"""`bitswarm.lab` is an L4 tool: no codec, core, driver or session module may import it.

DESIGN.md ("Layers"): a layer imports only from layers below it. The lab runs subprocesses
and shapes traffic; only the command line (bitswarm.cli) may reach it. This walks the AST of
every other module under src/bitswarm and fails on any import that resolves into it.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "bitswarm"
ALLOWED = ("lab", "cli")  # the lab itself, and the L4 front-end that offers it


def _module_parts(path: Path) -> list[str]:
    parts = ["bitswarm", *path.relative_to(PACKAGE).with_suffix("").parts]
    return parts[:-1] if parts[-1] == "__init__" else parts


def lab_imports(path: Path) -> list[str]:
    """The imports in `path` that name bitswarm.lab or a module inside it."""
    module = _module_parts(path)
    package = module if path.name == "__init__.py" else module[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            names = [target] + [f"{target}.{alias.name}" for alias in node.names]
        found += [
            f"{path.relative_to(PACKAGE)}:{node.lineno}: {name}"
            for name in names
            if name == "bitswarm.lab" or name.startswith("bitswarm.lab.")
        ]
    return found


def test_lab_imports_are_detected() -> None:
    # The checker itself: the CLI command does import the lab, relatively.
    assert lab_imports(PACKAGE / "cli" / "lab_command.py")


def test_nothing_below_the_front_ends_imports_the_lab() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).parts[0] in ALLOWED:
            continue
        offenders += lab_imports(path)
    assert offenders == [], "\n".join(offenders)
