"""The domain imports only the standard library and itself, and never reads a clock,
randomness or the outside world."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

DOMAIN = Path(__file__).resolve().parents[3] / "pipeline" / "domain"
# Standard-library modules that would smuggle I/O, time or chance into decisions.
FORBIDDEN_STDLIB = {
    "random",
    "secrets",
    "time",
    "uuid",
    "os",
    "socket",
    "asyncio",
    "io",
    "subprocess",
}
FORBIDDEN_CALLS = {"now", "utcnow", "today", "time_ns"}


def modules() -> list[Path]:
    files = sorted(DOMAIN.glob("*.py"))
    assert files, DOMAIN
    return files


def imported(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "use absolute imports"
            names.add(node.module or "")
    return names


@pytest.mark.parametrize("path", modules(), ids=lambda p: p.name)
def test_domain_imports_only_stdlib_and_itself(path: Path) -> None:
    for name in imported(ast.parse(path.read_text())):
        top = name.split(".")[0]
        if name == "pipeline.domain" or name.startswith("pipeline.domain."):
            continue
        assert top in sys.stdlib_module_names, f"{path.name} imports {name}"
        assert top not in FORBIDDEN_STDLIB, f"{path.name} imports {name}"


@pytest.mark.parametrize("path", modules(), ids=lambda p: p.name)
def test_domain_never_reads_a_clock(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            assert node.func.attr not in FORBIDDEN_CALLS, f"{path.name} calls .{node.func.attr}()"


def test_the_check_catches_a_third_party_import() -> None:
    assert "faust" in imported(ast.parse("import faust\nfrom fastavro import reader"))
    assert "faust" not in sys.stdlib_module_names
