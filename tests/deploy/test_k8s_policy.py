"""Policies over the rendered overlays, each with a deliberately bad snippet that must fail."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest

from tests.deploy.support import (
    OVERLAYS,
    THIRD_PARTY_ENV,
    Manifest,
    containers,
    env_names_of_container,
    policy_violations,
    render,
    settings_env_names,
)

pytestmark = pytest.mark.deploy


def by_kind(objects: list[Manifest], kind: str) -> list[Manifest]:
    return [o for o in objects if o["kind"] == kind]


def one(objects: list[Manifest], kind: str, name: str) -> Manifest:
    (obj,) = [o for o in by_kind(objects, kind) if o["metadata"]["name"] == name]
    return obj


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_workloads_follow_the_policies(overlay: str) -> None:
    assert policy_violations(render(overlay)) == []


def good_deployment() -> Manifest:
    return copy.deepcopy(one(render("eks"), "Deployment", "threadweaver-api"))


def api_pdb() -> Manifest:
    return one(render("eks"), "PodDisruptionBudget", "threadweaver-api")


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (lambda c, p: c["securityContext"].update(readOnlyRootFilesystem=False), "read-only"),
        (
            lambda c, p: (c["securityContext"].pop("runAsNonRoot"), p.pop("securityContext")),
            "runAsNonRoot",
        ),
        (lambda c, p: c["securityContext"].update(allowPrivilegeEscalation=True), "escalation"),
        (lambda c, p: c.update(image="threadweaver:latest"), "pinned tag"),
        (lambda c, p: c.update(image="threadweaver"), "pinned tag"),
        (lambda c, p: c["resources"].pop("limits"), "limits.cpu"),
        (lambda c, p: c.pop("readinessProbe"), "readinessProbe"),
        (lambda c, p: c["env"].append({"name": "THREADWEAVER_PG_DSN", "value": "x"}), "literal"),
    ],
)
def test_a_bad_workload_is_caught(
    breakage: Callable[[Manifest, Manifest], object], expected: str
) -> None:
    deployment = good_deployment()
    pod = deployment["spec"]["template"]["spec"]
    assert policy_violations([deployment, api_pdb()]) == []
    breakage(pod["containers"][0], pod)
    assert any(expected in p for p in policy_violations([deployment, api_pdb()]))


def test_a_workload_without_pdb_is_caught() -> None:
    assert any("PodDisruptionBudget" in p for p in policy_violations([good_deployment()]))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_environment_names_are_read_by_settings(overlay: str) -> None:
    objects = render(overlay)
    known = settings_env_names() | THIRD_PARTY_ENV
    (config,) = by_kind(objects, "ConfigMap")
    names = set(config["data"])
    for obj in objects:
        for c in containers(obj):
            names |= env_names_of_container(c)
    assert names - known == set()


def test_recorded_settings_names_are_the_readme_ones() -> None:
    names = settings_env_names()
    for name in ("THREADWEAVER_BOOTSTRAP_SERVERS", "AWS_REGION", "THREADWEAVER_WORKER_DATA_DIR"):
        assert name in names
    assert "THREADWEAVER_NO_SUCH_THING" not in names


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_topics_have_equal_partitions_and_durable_journal(overlay: str) -> None:
    objects = render(overlay)
    (config,) = by_kind(objects, "ConfigMap")
    topics = {t["spec"]["topicName"]: t["spec"] for t in by_kind(objects, "KafkaTopic")}
    assert set(topics) == {
        "threadweaver.thread-commands",
        "threadweaver.thread-events",
        "threadweaver.thread-replies",
        "threadweaver.thread-commands.dlq",
        "threadweaver.thread-events.conflicts",
        "threadweaver.thread-snapshots",
    }
    assert {t["partitions"] for t in topics.values()} == {
        int(config["data"]["THREADWEAVER_PARTITIONS"])
    }
    assert all(
        t["replicas"] == 3 and t["config"]["min.insync.replicas"] == 2 for t in topics.values()
    )
    assert topics["threadweaver.thread-events"]["config"]["retention.ms"] == -1
    assert topics["threadweaver.thread-events"]["config"]["cleanup.policy"] == "delete"
    assert topics["threadweaver.thread-snapshots"]["config"]["cleanup.policy"] == "compact"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kafka_is_kraft_with_three_controllers_and_three_brokers(overlay: str) -> None:
    objects = render(overlay)
    pools = {p["metadata"]["name"]: p["spec"] for p in by_kind(objects, "KafkaNodePool")}
    assert {n: (p["roles"], p["replicas"]) for n, p in pools.items()} == {
        "controller": (["controller"], 3),
        "broker": (["broker"], 3),
    }
    assert pools["broker"]["storage"]["volumes"][0]["type"] == "persistent-claim"
    (kafka,) = by_kind(objects, "Kafka")
    config = kafka["spec"]["kafka"]["config"]
    assert (config["default.replication.factor"], config["min.insync.replicas"]) == (3, 2)
    listeners = kafka["spec"]["kafka"]["listeners"]
    assert any(lst["tls"] and lst["authentication"]["type"] == "tls" for lst in listeners)
    rack = kafka["spec"]["kafka"].get("rack")
    if overlay == "eks":
        assert rack == {"type": "topology-label", "topologyKey": "topology.kubernetes.io/zone"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_kafka_user_has_scoped_acls(overlay: str) -> None:
    users = by_kind(render(overlay), "KafkaUser")
    assert {u["metadata"]["name"] for u in users} == {
        f"threadweaver-{c}" for c in ("worker", "mirror", "projector", "api")
    }
    for user in users:
        acls = user["spec"]["authorization"]["acls"]
        assert acls
        assert all(a["resource"].get("name") != "*" for a in acls)
        assert all("All" not in a["operations"] for a in acls)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_worker_is_a_statefulset_with_static_membership(overlay: str) -> None:
    worker = one(render(overlay), "StatefulSet", "threadweaver-worker")
    pod = worker["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["THREADWEAVER_WORKER_GROUP_INSTANCE_ID"]["valueFrom"]["fieldRef"] == {
        "fieldPath": "metadata.name"
    }
    assert worker["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["data"] == env["THREADWEAVER_WORKER_DATA_DIR"]["value"]
    session_timeout = float(env["THREADWEAVER_KAFKA_SESSION_TIMEOUT_S"]["value"])
    assert pod["terminationGracePeriodSeconds"] > session_timeout


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_deny_by_default(overlay: str) -> None:
    policies = {p["metadata"]["name"]: p["spec"] for p in by_kind(render(overlay), "NetworkPolicy")}
    deny = policies["default-deny"]
    assert deny["podSelector"] == {}
    assert set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny
    assert "egress" not in deny


def test_eks_uses_irsa_for_dynamodb() -> None:
    objects = render("eks")
    account = one(objects, "ServiceAccount", "threadweaver-dynamodb")
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith(
        "arn:aws:iam::"
    )
    mirror = one(objects, "Deployment", "threadweaver-mirror")
    assert mirror["spec"]["template"]["spec"]["serviceAccountName"] == "threadweaver-dynamodb"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_api_has_service_hpa_and_pdb(overlay: str) -> None:
    objects = render(overlay)
    hpa = one(objects, "HorizontalPodAutoscaler", "threadweaver-api")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "threadweaver-api"
    assert one(objects, "Service", "threadweaver-api")["spec"]["ports"][0]["port"] == 8000
    assert one(objects, "PodDisruptionBudget", "threadweaver-api")
    job = one(objects, "Job", "threadweaver-migrate")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["db", "migrate"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_secret_values_in_git(overlay: str) -> None:
    assert by_kind(render(overlay), "Secret") == []
