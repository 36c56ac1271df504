"""docker-compose.yml: parsed and cross-checked against the settings classes (no engine here)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from tests.deploy.support import ROOT, THIRD_PARTY_ENV, settings_env_names

pytestmark = pytest.mark.deploy

COMPONENTS = ("worker", "mirror", "projector", "api")


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def env_problems(doc: dict[str, Any]) -> list[str]:
    """Services built from our image may only set names that a settings class reads."""
    known = settings_env_names() | THIRD_PARTY_ENV
    return [
        f"{name}: {key} is read by no settings class"
        for name, service in doc["services"].items()
        if service.get("image", "").startswith("threadweaver:")
        for key in service.get("environment", {})
        if key not in known
    ]


def dependency_problems(doc: dict[str, Any]) -> list[str]:
    """`service_healthy` needs a healthcheck; a one-shot is awaited to completion."""
    services = doc["services"]
    problems = []
    for name, service in services.items():
        depends = service.get("depends_on", {})
        if not isinstance(depends, dict):
            problems.append(f"{name}: depends_on without conditions")
            continue
        for target, spec in depends.items():
            condition = spec.get("condition")
            if target not in services:
                problems.append(f"{name}: depends on unknown {target}")
            elif condition == "service_healthy" and "healthcheck" not in services[target]:
                problems.append(f"{name}: {target} has no healthcheck")
            elif condition not in ("service_healthy", "service_completed_successfully"):
                problems.append(f"{name}: {target} awaited with {condition!r}")
    return problems


def test_components_and_servers_are_there() -> None:
    services = compose()["services"]
    assert set(services) == {"kafka", "postgres", "dynamodb", "init", *COMPONENTS}
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert all(":" in s["image"] and not s["image"].endswith(":latest") for s in services.values())


def test_kafka_is_a_single_kraft_node() -> None:
    env = compose()["services"]["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "1"


def test_every_environment_name_is_read_by_settings() -> None:
    assert env_problems(compose()) == []


def test_an_unknown_environment_name_is_caught() -> None:
    doc = copy.deepcopy(compose())
    doc["services"]["api"]["environment"]["THREADWEAVER_API_PROT"] = "8000"
    assert env_problems(doc) == ["api: THREADWEAVER_API_PROT is read by no settings class"]


def test_every_dependency_is_awaited_healthy_or_completed() -> None:
    assert dependency_problems(compose()) == []


def test_a_dependency_without_healthcheck_is_caught() -> None:
    doc = copy.deepcopy(compose())
    del doc["services"]["postgres"]["healthcheck"]
    assert "projector: postgres has no healthcheck" in dependency_problems(doc)


def test_components_have_healthchecks_and_the_api_one_port() -> None:
    services = compose()["services"]
    assert all("healthcheck" in services[c] for c in COMPONENTS)
    assert [s for s in services if services[s].get("ports")] == ["api"]
    assert len(services["api"]["ports"]) == 1


def test_data_lives_in_named_volumes() -> None:
    doc = compose()
    for name in ("kafka", "postgres", "dynamodb", "worker"):
        (volume,) = doc["services"][name]["volumes"]
        assert volume.split(":")[0] in doc["volumes"]
