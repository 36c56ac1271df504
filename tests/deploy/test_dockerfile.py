"""The Dockerfile's own rules (checkov covers the generic ones in test_checkov.py)."""

from __future__ import annotations

import re

import pytest

from tests.deploy.support import ROOT

pytestmark = pytest.mark.deploy


def stages(text: str) -> list[tuple[str, list[str]]]:
    result: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("FROM "):
            result.append((line, []))
        elif result and line.strip() and not line.lstrip().startswith("#"):
            result[-1][1].append(line)
    return result


def problems(text: str) -> list[str]:
    found = []
    parts = stages(text)
    if len(parts) < 2:
        found.append("not multi-stage")
    for line, _ in parts:
        if not re.match(r"FROM python:3\.11\.\d+-slim(-\w+)?(@sha256:[0-9a-f]{64})? AS \w+$", line):
            found.append(f"base not a pinned slim Python 3.11: {line}")
    final = "\n".join(parts[-1][1]) if parts else ""
    if not re.search(r"^USER (?!0\b|root\b)\S+", final, re.MULTILINE):
        found.append("final stage runs as root")
    if re.search(r"apt-get install|gcc|build-essential", final):
        found.append("build tools in the final stage")
    if "HEALTHCHECK" not in final:
        found.append("no HEALTHCHECK")
    if 'ENTRYPOINT ["threadweaver"]' not in final:
        found.append("entrypoint is not threadweaver")
    return found


def test_dockerfile_follows_the_rules() -> None:
    assert problems((ROOT / "Dockerfile").read_text()) == []


def test_a_bad_dockerfile_is_caught() -> None:
    bad = 'FROM python:latest\nRUN apt-get install -y gcc\nENTRYPOINT ["python"]\n'
    assert set(problems(bad)) == {
        "not multi-stage",
        "base not a pinned slim Python 3.11: FROM python:latest",
        "final stage runs as root",
        "build tools in the final stage",
        "no HEALTHCHECK",
        "entrypoint is not threadweaver",
    }


def test_dockerignore_keeps_the_context_small() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", ".venv-tools", ".data", "tests"} <= set(ignored)
