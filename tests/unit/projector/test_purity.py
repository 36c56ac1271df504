"""The projector's planning half is pure: it imports the domain and itself, no I/O library."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PROJECTOR = Path(__file__).resolve().parents[3] / "pipeline" / "projector"
PURE = ("plan.py", "statements.py", "fold.py", "records.py")
ALLOWED = (
    "pipeline.domain",
    "pipeline.projector.plan",
    "pipeline.projector.statements",
    "pipeline.projector.records",
    # The shared record type: a dataclass and the dead-letter header rule, stdlib only.
    "pipeline.kafka.records",
    "pipeline.kafka.dead_letters",
)


@pytest.mark.parametrize("name", PURE)
def test_pure_modules_import_only_stdlib_the_domain_and_each_other(name: str) -> None:
    tree = ast.parse((PROJECTOR / name).read_text())
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        for module in names:
            if module.split(".")[0] in sys.stdlib_module_names:
                assert module.split(".")[0] not in {"asyncio", "socket", "time", "os"}, module
                continue
            assert module.startswith(ALLOWED), f"{name} imports {module}"
