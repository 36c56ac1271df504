"""checkov over the rendered overlays and the Dockerfile; every skip carries its reason."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.support import OVERLAYS, ROOT, environ_for_tools, render, tool

pytestmark = pytest.mark.deploy


def checkov(*args: str) -> dict[str, Any]:
    run = subprocess.run(
        [tool("checkov"), "--compact", "-o", "json", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env=environ_for_tools(),
    )
    assert run.returncode in (0, 1), run.stderr[-2000:]
    report = json.loads(run.stdout)
    reports = report if isinstance(report, list) else [report]
    merged: dict[str, Any] = {"failed": [], "skipped": [], "passed": 0, "unparsed": []}
    for r in reports:
        results = r.get("results", {})
        merged["failed"] += results.get("failed_checks", [])
        merged["skipped"] += results.get("skipped_checks", [])
        merged["unparsed"] += results.get("parsing_errors", [])
        merged["passed"] += r.get("summary", {}).get("passed", 0)
    return merged


def failures(report: dict[str, Any]) -> list[str]:
    return report["unparsed"] + [f"{c['check_id']} {c['resource']}" for c in report["failed"]]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("rendered")
    for overlay in OVERLAYS:
        (folder / f"{overlay}.yaml").write_text(yaml.safe_dump_all(render(overlay)))
    return folder


def test_rendered_manifests_pass_checkov(rendered: Path) -> None:
    report = checkov("-d", str(rendered), "--framework", "kubernetes")
    assert report["passed"] > 100
    assert failures(report) == []
    assert report["skipped"], "the justified skips (k8s/base annotations) should show"
    for skip in report["skipped"]:
        assert len(skip["check_result"].get("suppress_comment", "").strip()) > 20, skip["check_id"]


def test_dockerfile_passes_checkov() -> None:
    report = checkov("-f", str(ROOT / "Dockerfile"), "--framework", "dockerfile")
    assert report["passed"] > 10
    assert failures(report) == []


def test_skips_in_the_sources_are_justified() -> None:
    sources = [*(ROOT / "k8s").rglob("*.yaml"), ROOT / "Dockerfile"]
    pattern = re.compile(r"(?:checkov\.io/skip\d+:\s*|checkov:skip=)(CKV\w+)[=:]?\s*(.*)")
    for path in sources:
        for match in pattern.finditer(path.read_text()):
            assert len(match.group(2).strip()) > 20, f"{path}: {match.group(1)} has no reason"


def test_a_bad_manifest_fails_checkov(tmp_path: Path) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bad", "namespace": "threadweaver"},
        "spec": {"containers": [{"name": "c", "image": "threadweaver:latest"}]},
    }
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(pod))
    report = checkov("-d", str(tmp_path), "--framework", "kubernetes")
    assert {"CKV_K8S_14", "CKV_K8S_22"} <= {c["check_id"] for c in report["failed"]}
