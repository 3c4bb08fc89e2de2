"""DESIGN.md's layering, enforced: imports point down the table, never up or in a circle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = ("sandbox", "envs", "agent", "selection", "quorum")
# package -> the packages of ours it may import (besides itself)
ALLOWED: dict[str, tuple[str, ...]] = {
    "sandbox": (),
    "envs": ("sandbox",),
    "agent": ("sandbox", "envs"),
    "selection": ("sandbox", "envs", "agent.llm"),
    "quorum": OURS,
}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return [name for name in found if name.split(".")[0] in OURS]


def _allowed(package: str, module: str) -> bool:
    if module.split(".")[0] == package:
        return True
    return any(module == a or module.startswith(a + ".") for a in ALLOWED[package])


@pytest.mark.parametrize("package", OURS)
def test_imports_point_down(package: str) -> None:
    wrong = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for module in _imports(path)
        if not _allowed(package, module)
    ]
    assert not wrong, "\n".join(wrong)
