"""The embedded broker's configuration and its setup errors, without starting a JVM."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.stack import broker
from pipeline.stack.errors import StackError

pytestmark = pytest.mark.unit


def test_a_single_node_with_production_topic_rules(tmp_path: Path) -> None:
    layout = broker.BrokerLayout(tmp_path)
    props = broker.BrokerConfig(19092, 19093).properties(layout)
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert props["log.dirs"] == str(tmp_path / "data")
    # Topics come from provisioning with their own retention, never from a typo.
    assert props["auto.create.topics.enable"] == "false"
    assert "log.retention.ms" not in props
    assert "log.retention.hours" not in props
    for internal in ("offsets.topic", "transaction.state.log"):
        assert props[f"{internal}.replication.factor"] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"


def test_overrides_replace_defaults(tmp_path: Path) -> None:
    config = broker.BrokerConfig(1, 2, overrides={"num.io.threads": "8", "x.y": "z"})
    props = config.properties(broker.BrokerLayout(tmp_path))
    assert (props["num.io.threads"], props["x.y"]) == ("8", "z")


def test_cluster_ids_are_kafka_uuids() -> None:
    ids = {broker.new_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    for cluster_id in ids:
        assert len(cluster_id) == 22
        assert not cluster_id.startswith("-")
        assert set(cluster_id) <= set(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        )


def test_the_version_comes_from_the_pinned_pom() -> None:
    assert broker.kafka_version() == "4.4.0"
    assert broker.libs_dir().parent.name == "kafka-4.4.0"


def test_no_java_is_one_line_saying_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", "")
    with pytest.raises(StackError) as caught:
        broker.java_binary()
    message = str(caught.value)
    assert "\n" not in message
    assert "Java 17+" in message
    assert "THREADWEAVER_BOOTSTRAP_SERVERS" in message
