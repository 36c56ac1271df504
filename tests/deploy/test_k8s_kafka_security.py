"""Kafka connection security of the rendered overlays; each policy also meets a deliberately
broken copy that it must catch."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest

from tests.deploy.kafka_security import (
    acl_violations,
    client_pod_violations,
    listener_violations,
    network_violations,
)
from tests.deploy.support import OVERLAYS, Manifest, render

pytestmark = pytest.mark.deploy

Check = Callable[[list[Manifest]], list[str]]
CHECKS: list[Check] = [
    listener_violations,
    network_violations,
    client_pod_violations,
    acl_violations,
]


def one(objects: list[Manifest], kind: str, name: str) -> Manifest:
    (obj,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return obj


def container(objects: list[Manifest], kind: str, name: str) -> Manifest:
    spec: Manifest = one(objects, kind, name)["spec"]["template"]["spec"]["containers"][0]
    return spec


def acls(objects: list[Manifest], user: str) -> list[Manifest]:
    rules: list[Manifest] = one(objects, "KafkaUser", user)["spec"]["authorization"]["acls"]
    return rules


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_overlay_passes(overlay: str, check: Check) -> None:
    assert check(render(overlay)) == []


def _kafka(o: list[Manifest]) -> Manifest:
    spec: Manifest = one(o, "Kafka", "threadweaver")["spec"]["kafka"]
    return spec


def _plain_listener(o: list[Manifest]) -> None:
    _kafka(o)["listeners"].append({"name": "plain", "port": 9092, "type": "internal", "tls": False})


def _listener_without_authentication(o: list[Manifest]) -> None:
    _kafka(o)["listeners"][0].pop("authentication")


def _anonymous_super_user(o: list[Manifest]) -> None:
    _kafka(o)["authorization"]["superUsers"] = ["ANONYMOUS"]


def _plain_egress_port(o: list[Manifest]) -> None:
    policy = one(o, "NetworkPolicy", "allow-kafka-clients-to-kafka")
    policy["spec"]["egress"][0]["ports"].append({"protocol": "TCP", "port": 9092})


def _plaintext_worker(o: list[Manifest]) -> None:
    container(o, "StatefulSet", "threadweaver-worker")["env"].append(
        {"name": "THREADWEAVER_KAFKA_SECURITY_PROTOCOL", "value": "PLAINTEXT"}
    )


def _no_protocol_anywhere(o: list[Manifest]) -> None:
    one(o, "ConfigMap", "threadweaver-settings")["data"].pop("THREADWEAVER_KAFKA_SECURITY_PROTOCOL")


def _plain_port(o: list[Manifest]) -> None:
    data = one(o, "ConfigMap", "threadweaver-settings")["data"]
    data["THREADWEAVER_BOOTSTRAP_SERVERS"] = "threadweaver-kafka-bootstrap:9092"


def _ca_not_mounted(o: list[Manifest]) -> None:
    c = container(o, "Deployment", "threadweaver-mirror")
    c["volumeMounts"] = [m for m in c["volumeMounts"] if m["name"] != "kafka-ca"]


def _ca_mount_writable(o: list[Manifest]) -> None:
    c = container(o, "Deployment", "threadweaver-projector")
    for mount in c["volumeMounts"]:
        if mount["name"] == "kafka-ca":
            mount["readOnly"] = False


def _another_components_certificate(o: list[Manifest]) -> None:
    pod = one(o, "Deployment", "threadweaver-api")["spec"]["template"]["spec"]
    for volume in pod["volumes"]:
        if volume["name"] == "kafka-user":
            volume["secret"]["secretName"] = "threadweaver-worker"


def _key_path_elsewhere(o: list[Manifest]) -> None:
    container(o, "StatefulSet", "threadweaver-worker")["env"].append(
        {"name": "THREADWEAVER_KAFKA_SSL_KEY_LOCATION", "value": "/tmp/user.key"}
    )


def _scram_password_literal(o: list[Manifest]) -> None:
    container(o, "Deployment", "threadweaver-api")["env"] += [
        {"name": "THREADWEAVER_KAFKA_SECURITY_PROTOCOL", "value": "SASL_SSL"},
        {"name": "THREADWEAVER_KAFKA_SASL_USERNAME", "value": "threadweaver-api"},
        {"name": "THREADWEAVER_KAFKA_SASL_PASSWORD", "value": "hunter2"},
    ]


def _worker_group_missing(o: list[Manifest]) -> None:
    rules = acls(o, "threadweaver-worker")
    rules[:] = [r for r in rules if r["resource"].get("name") != "threadweaver-worker"]


def _replies_group_missing(o: list[Manifest]) -> None:
    rules = acls(o, "threadweaver-api")
    rules[:] = [r for r in rules if r["resource"].get("name") != "threadweaver-client"]


def _stale_group_grant(o: list[Manifest]) -> None:
    acls(o, "threadweaver-worker").append(
        {
            "resource": {
                "type": "group",
                "name": "threadweaver-end-offsets-",
                "patternType": "prefix",
            },
            "operations": ["Describe"],
        }
    )


def _idempotence_missing(o: list[Manifest]) -> None:
    rules = acls(o, "threadweaver-mirror")
    rules[:] = [r for r in rules if r["resource"]["type"] != "cluster"]


def _replies_readable_by_worker(o: list[Manifest]) -> None:
    for rule in acls(o, "threadweaver-worker"):
        if rule["resource"].get("name") == "threadweaver.thread-replies":
            rule["operations"].append("Read")


def _api_reads_the_journal(o: list[Manifest]) -> None:
    acls(o, "threadweaver-api").append(
        {
            "resource": {"type": "topic", "name": "threadweaver.thread-events"},
            "operations": ["Read"],
        }
    )


def _projector_user_gone(o: list[Manifest]) -> None:
    o[:] = [x for x in o if not (x["kind"] == "KafkaUser" and "projector" in x["metadata"]["name"])]


@pytest.mark.parametrize(
    ("check", "breakage", "expected"),
    [
        (listener_violations, _plain_listener, "listener plain: not TLS"),
        (listener_violations, _listener_without_authentication, "no authentication"),
        (listener_violations, _anonymous_super_user, "super users ['ANONYMOUS']"),
        (network_violations, _plain_egress_port, "Kafka ports [9092, 9093]"),
        (client_pod_violations, _plaintext_worker, "is PLAINTEXT, not SSL or SASL_SSL"),
        (client_pod_violations, _no_protocol_anywhere, "threadweaver-api[api]: THREADWEAVER_KAFKA"),
        (client_pod_violations, _plain_port, "is not a listener port"),
        (client_pod_violations, _ca_not_mounted, "mirror[mirror]: THREADWEAVER_KAFKA_SSL_CA"),
        (client_pod_violations, _ca_mount_writable, "is not the mounted cluster CA"),
        (client_pod_violations, _another_components_certificate, "KafkaUser threadweaver-api"),
        (client_pod_violations, _key_path_elsewhere, "KEY_LOCATION is not user.key"),
        (client_pod_violations, _scram_password_literal, "password is not the KafkaUser"),
        (client_pod_violations, _projector_user_gone, "no KafkaUser threadweaver-projector"),
        (acl_violations, _worker_group_missing, "Read on group threadweaver-worker not granted"),
        (acl_violations, _replies_group_missing, "api: Describe on group threadweaver-client not"),
        (acl_violations, _stale_group_grant, "group threadweaver-end-offsets- is never"),
        (acl_violations, _idempotence_missing, "IdempotentWrite on cluster kafka-cluster not"),
        (acl_violations, _replies_readable_by_worker, "Read on topic threadweaver.thread-replies"),
        (acl_violations, _api_reads_the_journal, "api: Read on topic threadweaver.thread-events"),
        (acl_violations, _projector_user_gone, "no KafkaUser threadweaver-projector"),
    ],
)
def test_a_broken_copy_is_caught(
    check: Check, breakage: Callable[[list[Manifest]], None], expected: str
) -> None:
    objects = copy.deepcopy(render("eks"))
    assert check(objects) == []
    breakage(objects)
    problems = check(objects)
    assert any(expected in p for p in problems), problems
