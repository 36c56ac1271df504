"""Policies of the Kafka connection security in the rendered manifests (Strimzi + workloads):
the brokers only take authenticated TLS, every pod that may reach them uses TLS with its own
KafkaUser's certificate, and each KafkaUser's ACLs are exactly what its component does."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from typing import Any

from pipeline.client.client import REPLIES_GROUP
from pipeline.mirror import GROUP_ID as MIRROR_GROUP
from pipeline.projector.verify import VERIFY_GROUP_PREFIX
from pipeline.settings import KafkaSecuritySettings, Settings, WorkerSettings
from pipeline.settings.components import DEFAULT_PROJECTOR_GROUP_ID as PROJECTOR_GROUP
from pipeline.worker.journal import JOURNAL_READER_GROUP
from pipeline.worker.snapshots import SNAPSHOT_READER_GROUP, transactional_id
from tests.deploy.support import Manifest, containers, pod_spec

SASL_PASSWORD = KafkaSecuritySettings.variable("sasl_password")
SASL_PASSWORD_FILE = KafkaSecuritySettings.variable("sasl_password_file")
SASL_USERNAME = KafkaSecuritySettings.variable("sasl_username")
SECURITY_PROTOCOL = KafkaSecuritySettings.variable("security_protocol")
SSL_CA_LOCATION = KafkaSecuritySettings.variable("ssl_ca_location")
SSL_CERTIFICATE_LOCATION = KafkaSecuritySettings.variable("ssl_certificate_location")
SSL_KEY_LOCATION = KafkaSecuritySettings.variable("ssl_key_location")

KAFKA_CLIENT_LABEL = "threadweaver.io/kafka-client"
TLS_PROTOCOLS = ("SSL", "SASL_SSL")
# Kafka ACL semantics: Read, Write (and Delete, Alter) imply Describe.
IMPLIES_DESCRIBE = {"Read", "Write", "Delete", "Alter"}

# (resource type, name, operation); a throw-away group id stands for all its siblings.
Need = tuple[str, str, str]


def _consume(topic: str) -> set[Need]:
    return {("topic", topic, "Read"), ("topic", topic, "Describe")}


def _produce(topic: str) -> set[Need]:
    return {("topic", topic, "Write"), ("topic", topic, "Describe")}


def _member(group: str) -> set[Need]:
    """A group the component joins or commits offsets to."""
    return {("group", group, "Read"), ("group", group, "Describe")}


def _assign_only(group: str) -> set[Need]:
    """librdkafka looks up the coordinator of any group id it is given (FindCoordinator)."""
    return {("group", group, "Describe")}


IDEMPOTENT = {("cluster", "kafka-cluster", "IdempotentWrite")}


def _transactions(transactional_id: str) -> set[Need]:
    """A transactional producer (InitProducerId, AddPartitionsToTxn, EndTxn)."""
    return {
        ("transactionalId", transactional_id, "Write"),
        ("transactionalId", transactional_id, "Describe"),
    }


def component_needs() -> dict[str, set[Need]]:
    """What each component does with Kafka, from the code's own names."""
    t = Settings().topics
    worker_group = WorkerSettings.from_env({}).group_id
    return {
        "worker": _consume(t.commands)
        | _consume(t.events)
        | _produce(t.events)
        | _produce(t.replies)
        | _produce(t.commands_dlq)
        | _member(worker_group)
        | _assign_only(JOURNAL_READER_GROUP)
        # Snapshot rounds: one transactional id per partition; read back committed.
        | _consume(t.snapshots)
        | _produce(t.snapshots)
        | _assign_only(SNAPSHOT_READER_GROUP)
        | _transactions(transactional_id(f"{worker_group}-snapshots", 11))
        | IDEMPOTENT,
        "mirror": _consume(t.events)
        | _produce(t.events_conflicts)
        | _member(MIRROR_GROUP)
        | IDEMPOTENT,
        # The runner, `projector rebuild` (commits the group) and `projector verify`.
        "projector": _consume(t.events)
        | _produce(t.events_conflicts)
        | _member(PROJECTOR_GROUP)
        | _assign_only(f"{VERIFY_GROUP_PREFIX}9c1d")
        | IDEMPOTENT,
        # The readiness probe lists topics: Describe on the commands topic.
        "api": _produce(t.commands)
        | _consume(t.replies)
        | _assign_only(REPLIES_GROUP)
        | IDEMPOTENT,
    }


def _grants(user: Manifest) -> Iterator[tuple[dict[str, Any], str]]:
    for acl in user["spec"]["authorization"]["acls"]:
        for operation in acl["operations"]:
            yield acl["resource"], operation


def _matches(resource: dict[str, Any], kind: str, name: str) -> bool:
    if resource["type"] != kind:
        return False
    if kind == "cluster":
        return True
    if resource.get("patternType", "literal") == "prefix":
        return str(name).startswith(resource["name"])
    return bool(resource["name"] == name)


def _covers(resource: dict[str, Any], operation: str, need: Need) -> bool:
    kind, name, wanted = need
    if not _matches(resource, kind, name):
        return False
    return operation == wanted or (wanted == "Describe" and operation in IMPLIES_DESCRIBE)


def acl_violations(objects: list[Manifest]) -> list[str]:
    users = {o["metadata"]["name"]: o for o in objects if o["kind"] == "KafkaUser"}
    problems: list[str] = []
    for component, needs in sorted(component_needs().items()):
        name = f"threadweaver-{component}"
        user = users.get(name)
        if user is None:
            problems.append(f"no KafkaUser {name}")
            continue
        grants = list(_grants(user))
        for need in sorted(needs):
            if not any(_covers(resource, op, need) for resource, op in grants):
                problems.append(f"{name}: {need[2]} on {need[0]} {need[1]} not granted")
        # Used means needed as such: a Read granted where only Describe is needed is too much.
        for resource, op in grants:
            if not any(_matches(resource, k, n) and op == o for k, n, o in needs):
                label = resource.get("name", "")
                problems.append(f"{name}: {op} on {resource['type']} {label} is never used")
    return problems


def listener_violations(objects: list[Manifest]) -> list[str]:
    problems: list[str] = []
    for kafka in (o for o in objects if o["kind"] == "Kafka"):
        spec = kafka["spec"]["kafka"]
        for listener in spec["listeners"]:
            if listener.get("tls") is not True:
                problems.append(f"listener {listener['name']}: not TLS")
            if not listener.get("authentication", {}).get("type"):
                problems.append(f"listener {listener['name']}: no authentication")
        authorization = spec.get("authorization", {})
        if authorization.get("type") != "simple":
            problems.append("Kafka: no simple (ACL) authorization")
        if authorization.get("superUsers"):
            problems.append(f"Kafka: super users {authorization['superUsers']}")
    return problems


def listener_ports(objects: list[Manifest]) -> set[int]:
    return {
        int(listener["port"])
        for kafka in objects
        if kafka["kind"] == "Kafka"
        for listener in kafka["spec"]["kafka"]["listeners"]
    }


def network_violations(objects: list[Manifest]) -> list[str]:
    """The client pods' egress to the brokers opens the listener ports, and only them."""
    wanted = listener_ports(objects)
    problems: list[str] = []
    for policy in objects:
        if policy["kind"] != "NetworkPolicy":
            continue
        selector = policy["spec"]["podSelector"].get("matchLabels", {})
        if selector.get(KAFKA_CLIENT_LABEL) != "true":
            continue
        for rule in policy["spec"].get("egress", []):
            ports = {int(p["port"]) for p in rule.get("ports", [])}
            if ports != wanted:
                problems.append(
                    f"NetworkPolicy/{policy['metadata']['name']}: Kafka ports {sorted(ports)}, "
                    f"listeners {sorted(wanted)}"
                )
    return problems


def _environment(container: Manifest, config_maps: dict[str, dict[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef")
        if ref is not None:
            env.update(config_maps.get(ref["name"], {}))
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = str(entry["value"])
    return env


def _secret_file(pod: Manifest, container: Manifest, path: str) -> tuple[str, str] | None:
    """(Secret name, key) of the file at `path`, if a read-only Secret mount provides it."""
    directory, filename = posixpath.split(path)
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        if mount["mountPath"].rstrip("/") != directory or mount.get("readOnly") is not True:
            continue
        secret = volumes.get(mount["name"], {}).get("secret")
        if secret is None:
            continue
        items = secret.get("items")
        if items is None:
            return secret["secretName"], filename
        for item in items:
            if item["path"] == filename:
                return secret["secretName"], item["key"]
    return None


def client_pod_violations(objects: list[Manifest]) -> list[str]:
    """Every pod that may reach the brokers (the label the NetworkPolicies select) talks TLS to
    the listener port, trusts the cluster CA and presents its own component's KafkaUser."""
    config_maps = {o["metadata"]["name"]: o["data"] for o in objects if o["kind"] == "ConfigMap"}
    clusters = {o["metadata"]["name"] for o in objects if o["kind"] == "Kafka"}
    users = {o["metadata"]["name"] for o in objects if o["kind"] == "KafkaUser"}
    ports = listener_ports(objects)
    problems: list[str] = []
    for obj in objects:
        pod = pod_spec(obj)
        if pod is None:
            continue
        labels = obj["spec"]["template"]["metadata"]["labels"]
        if labels.get(KAFKA_CLIENT_LABEL) != "true":
            continue
        component = labels.get("app.kubernetes.io/component", "")
        for c in containers(obj):
            where = f"{obj['kind']}/{obj['metadata']['name']}[{c['name']}]"
            env = _environment(c, config_maps)
            protocol = env.get(SECURITY_PROTOCOL, "PLAINTEXT").upper()
            if protocol not in TLS_PROTOCOLS:
                problems.append(f"{where}: {SECURITY_PROTOCOL} is {protocol}, not SSL or SASL_SSL")
                continue
            bootstrap = env.get("THREADWEAVER_BOOTSTRAP_SERVERS", "")
            used = {int(server.rpartition(":")[2] or 0) for server in bootstrap.split(",")}
            if not used <= ports:
                problems.append(f"{where}: bootstrap {bootstrap!r} is not a listener port")
            ca = _secret_file(pod, c, env.get(SSL_CA_LOCATION, ""))
            if ca not in {(f"{k}-cluster-ca-cert", "ca.crt") for k in clusters}:
                problems.append(f"{where}: {SSL_CA_LOCATION} is not the mounted cluster CA")
            user = f"threadweaver-{component}"
            if user not in users:
                problems.append(f"{where}: no KafkaUser {user} of its own")
            if protocol == "SSL":
                for name, key in (
                    (SSL_CERTIFICATE_LOCATION, "user.crt"),
                    (SSL_KEY_LOCATION, "user.key"),
                ):
                    found = _secret_file(pod, c, env.get(name, ""))
                    if found != (user, key):
                        problems.append(
                            f"{where}: {name} is not {key} of the mounted KafkaUser {user} "
                            f"(found {found})"
                        )
            else:
                problems.extend(_sasl_violations(where, pod, c, env, user))
    return problems


def _sasl_violations(
    where: str, pod: Manifest, container: Manifest, env: dict[str, str], user: str
) -> list[str]:
    """SCRAM: the user's name, and the password Strimzi wrote to the user's Secret."""
    problems = []
    if env.get(SASL_USERNAME) != user:
        problems.append(f"{where}: {SASL_USERNAME} is not {user}")
    from_file = _secret_file(pod, container, env.get(SASL_PASSWORD_FILE, "")) == (
        user,
        "password",
    )
    from_ref = any(
        e["name"] == SASL_PASSWORD
        and e.get("valueFrom", {}).get("secretKeyRef") == {"name": user, "key": "password"}
        for e in container.get("env", [])
    )
    if not (from_file or from_ref):
        problems.append(f"{where}: the SASL password is not the KafkaUser {user}'s Secret")
    return problems
