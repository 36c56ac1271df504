"""Offline rendering and policy checks of the deployment files (Dockerfile, compose, k8s/).

Tools: the pinned `kubectl` (kustomize built in) and `checkov` of `.venv-tools`
(`make tools`, requirements-tools.lock); `kubectl` on PATH is the fallback for rendering.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.settings.doc import variable_names

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
OVERLAYS = ("eks", "local")
TOOLS_BIN = ROOT / ".venv-tools" / "bin"
STRIMZI_CRDS = ROOT.parent / "shared" / "reference" / "strimzi-crds"
KUBERNETES_VERSION = "1.33.0"

Manifest = dict[str, Any]
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job")


def tool(name: str) -> str:
    """The pinned tool from `.venv-tools`; skip (with how to get it) when it is absent."""
    pinned = TOOLS_BIN / name
    if pinned.exists():
        return str(pinned)
    if name == "kubectl" and shutil.which("kubectl"):
        return "kubectl"
    pytest.skip(f"{pinned} is missing: run `make tools` (make test does)")


@functools.cache
def _render(overlay: str) -> tuple[Manifest, ...]:
    out = subprocess.run(
        [tool("kubectl"), "kustomize", str(K8S / "overlays" / overlay)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return tuple(doc for doc in yaml.safe_load_all(out) if doc)


def render(overlay: str) -> list[Manifest]:
    return [dict(doc) for doc in _render(overlay)]


def pod_spec(obj: Manifest) -> Manifest | None:
    if obj["kind"] in WORKLOAD_KINDS:
        spec: Manifest = obj["spec"]["template"]["spec"]
        return spec
    return None


def containers(obj: Manifest) -> Iterator[Manifest]:
    spec = pod_spec(obj)
    if spec is not None:
        yield from spec.get("initContainers", [])
        yield from spec["containers"]


def policy_violations(objects: list[Manifest]) -> list[str]:
    """Our policies: non-root, read-only root filesystem, no privilege escalation, pinned image
    tags, requests and limits, probes on long-running containers, a PDB per long-running
    workload, and no literal secret values in the environment."""
    problems: list[str] = []
    pdb_selectors = [
        o["spec"]["selector"]["matchLabels"] for o in objects if o["kind"] == "PodDisruptionBudget"
    ]
    for obj in objects:
        spec = pod_spec(obj)
        if spec is None:
            continue
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        pod_ctx = spec.get("securityContext", {})
        long_running = obj["kind"] != "Job"
        for c in containers(obj):
            where = f"{name}[{c['name']}]"
            ctx = c.get("securityContext", {})
            if not (ctx.get("runAsNonRoot") or pod_ctx.get("runAsNonRoot")):
                problems.append(f"{where}: not runAsNonRoot")
            if ctx.get("runAsUser", pod_ctx.get("runAsUser")) in (None, 0):
                problems.append(f"{where}: no non-zero runAsUser")
            if ctx.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}: root filesystem not read-only")
            if ctx.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: privilege escalation allowed")
            if "ALL" not in ctx.get("capabilities", {}).get("drop", []):
                problems.append(f"{where}: capabilities not dropped")
            image = c["image"]
            tag = image.rsplit("/", 1)[-1].partition(":")[2]
            if "@sha256:" not in image and tag in ("", "latest"):
                problems.append(f"{where}: image {image!r} has no pinned tag")
            resources = c.get("resources", {})
            for kind in ("requests", "limits"):
                for res in ("cpu", "memory"):
                    if res not in resources.get(kind, {}):
                        problems.append(f"{where}: no {kind}.{res}")
            if long_running:
                for probe in ("readinessProbe", "livenessProbe"):
                    if probe not in c:
                        problems.append(f"{where}: no {probe}")
            for env in c.get("env", []):
                if any(w in env["name"] for w in ("PASSWORD", "SECRET", "DSN", "TOKEN")) and (
                    "value" in env
                ):
                    problems.append(f"{where}: {env['name']} is a literal, not a Secret reference")
        labels = obj["spec"]["template"]["metadata"]["labels"]
        covered = any(
            all(labels.get(k) == v for k, v in selector.items()) for selector in pdb_selectors
        )
        if long_running and not covered:
            problems.append(f"{name}: no PodDisruptionBudget")
    return problems


# Read by libraries, not by our settings classes: the AWS SDK's credential chain (DynamoDB
# Local takes any credentials).
THIRD_PARTY_ENV = frozenset({"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"})


def settings_env_names() -> frozenset[str]:
    """Every environment name the settings tree reads (pipeline/settings)."""
    return variable_names()


def env_names_of_container(container: Mapping[str, Any]) -> set[str]:
    return {e["name"] for e in container.get("env", [])}


def is_ours(obj: Manifest) -> bool:
    return bool(obj.get("metadata", {}).get("labels", {}).get("app.kubernetes.io/name"))


def environ_for_tools() -> dict[str, str]:
    # checkov: no calls home for guideline mappings (offline machine).
    return {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_NO_OUTPUT_PROGRESS": "1"}
