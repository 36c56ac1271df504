"""Every rendered object is valid: built-in kinds against the Kubernetes JSON schemas
(kubernetes-validate, strict), Strimzi kinds against the CRDs' OpenAPI schemas."""

from __future__ import annotations

import functools
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.deploy.support import KUBERNETES_VERSION, OVERLAYS, STRIMZI_CRDS, Manifest, render

pytestmark = pytest.mark.deploy

STRIMZI_GROUP = "kafka.strimzi.io"


@functools.cache
def strimzi_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    if not STRIMZI_CRDS.is_dir():
        pytest.skip(f"no Strimzi CRDs at {STRIMZI_CRDS}")
    schemas: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(STRIMZI_CRDS.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        kind = crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if version.get("served"):
                api_version = f"{crd['spec']['group']}/{version['name']}"
                schemas[(api_version, kind)] = version["schema"]["openAPIV3Schema"]
    return schemas


def strimzi_errors(obj: Manifest) -> list[str]:
    schema = strimzi_schemas().get((obj["apiVersion"], obj["kind"]))
    if schema is None:
        return [f"no served CRD version for {obj['apiVersion']} {obj['kind']}"]
    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj)
    ]


def builtin_errors(obj: Manifest) -> list[str]:
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{'/'.join(map(str, exc.path))}: {exc.message}"]
    return []


def errors_of(obj: Manifest) -> list[str]:
    if obj["apiVersion"].startswith(STRIMZI_GROUP + "/"):
        return strimzi_errors(obj)
    return builtin_errors(obj)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_matches_its_schema(overlay: str) -> None:
    objects = render(overlay)
    assert objects
    problems = {
        f"{o['kind']}/{o['metadata']['name']}": errs for o in objects if (errs := errors_of(o))
    }
    assert problems == {}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_strimzi_resources_use_the_v1_api(overlay: str) -> None:
    kinds = {o["kind"] for o in render(overlay) if o["apiVersion"] == STRIMZI_GROUP + "/v1"}
    assert kinds == {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser"}


def test_a_bad_strimzi_resource_is_refused() -> None:
    topic = {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaTopic",
        "metadata": {"name": "t"},
        "spec": {"partitions": "twelve", "replicas": 3},
    }
    assert any("twelve" in e for e in errors_of(topic))


def test_a_bad_builtin_resource_is_refused() -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"ports": [{"port": "http"}], "selectorr": {}},
    }
    assert errors_of(service)
