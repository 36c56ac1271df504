"""The embedded broker: Apache Kafka, one KRaft node (broker + controller), from Maven jars.

The jars are the runtime closure of `kafka/pom.xml`, resolved by Maven into the venv (`install`,
which `make` runs); the node's storage is formatted once under DATA_DIR/kafka and survives stops
and crashes (a SIGKILLed node recovers its log on the next start). The configuration is the
production one wherever one node allows it: the journal's retention is the topic's own
(`retention.ms=-1`), internal topics have one replica and one partition (a 2-core laptop), and a
consumer group starts at once instead of waiting 3 s for more members.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.kafka.config import client_config
from pipeline.kafka.security import KafkaConnection
from pipeline.stack.errors import StackError
from pipeline.stack.ports import LOOPBACK, accepts_connections
from pipeline.stack.process import ProcessRecord, ProcessSpec
from pipeline.stack.readiness import wait_until_answers

NAME = "kafka"
CONTROLLER = "kafka-controller"
NODE_ID = 1
POM = Path(__file__).resolve().parent / "kafka" / "pom.xml"
MIN_JAVA = 17
# A readiness round trip goes through a topic of its own, never through the product's.
READINESS_TOPIC = "__threadweaver-readiness"
# -Xmx512m: 264 MB RSS after producing and consuming 500,000 records (ADR 0011). G1 with a
# short pause goal as Kafka's own scripts set it; C1 only (less JIT CPU taken from the two
# cores the whole system shares).
JVM_OPTIONS = (
    "-Xms256m",
    "-Xmx512m",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:TieredStopAtLevel=1",
    "-XX:-UsePerfData",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)

Echo = Callable[[str], None]


def _quiet(_message: str) -> None:
    pass


def kafka_version(pom: Path = POM) -> str:
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", pom.read_text())
    if match is None:
        raise StackError(f"no <kafka.version> in {pom}")
    return match.group(1).strip()


def libs_dir() -> Path:
    """Where `install` puts the jars: inside the venv, named by the pinned Kafka version."""
    return Path(sys.prefix) / "share" / "threadweaver" / f"kafka-{kafka_version()}" / "libs"


def _complete_marker(libs: Path) -> Path:
    return libs.parent / "resolved-from.pom.xml"


def java_binary() -> str:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if found is None:
        raise StackError(
            f"the embedded Kafka broker needs Java {MIN_JAVA}+ (`java` on PATH or JAVA_HOME), "
            "e.g. `apt-get install openjdk-17-jre-headless`; or run a broker yourself "
            "(docker compose up kafka) and set THREADWEAVER_BOOTSTRAP_SERVERS to it"
        )
    return found


def java_major(java: str) -> int:
    result = subprocess.run(
        [java, "-version"], capture_output=True, text=True, timeout=60, check=False
    )
    match = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr + result.stdout)
    if match is None:
        raise StackError(f"cannot tell the version of {java}: {result.stderr.strip()!r}")
    major = int(match.group(1))
    # Java 8 and older call themselves 1.x.
    return int(match.group(2) or 0) if major == 1 else major


def check_java() -> str:
    java = java_binary()
    major = java_major(java)
    if major < MIN_JAVA:
        raise StackError(
            f"{java} is Java {major}; Apache Kafka 4 needs Java {MIN_JAVA}+ "
            "(install openjdk-17-jre-headless or point JAVA_HOME at a newer JDK)"
        )
    return java


def is_installed() -> bool:
    libs = libs_dir()
    marker = _complete_marker(libs)
    return marker.is_file() and marker.read_text() == POM.read_text() and libs.is_dir()


def install(echo: Echo = _quiet) -> Path:
    """Resolve the broker's jars with Maven unless the pinned set is already there."""
    libs = libs_dir()
    if is_installed():
        return libs
    check_java()
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError(
            "resolving the embedded Kafka broker's jars needs Maven (`apt-get install maven`); "
            "or run a broker yourself (docker compose up kafka) and set "
            "THREADWEAVER_BOOTSTRAP_SERVERS to it"
        )
    echo(f"resolving Apache Kafka {kafka_version()} from Maven Central into {libs}")
    # Resolved beside the target and renamed in one step: an interrupted download is never
    # mistaken for a complete classpath.
    staging = libs.parent / f".libs-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    result = subprocess.run(
        [mvn, "-B", "-q", "-ntp", "-f", str(POM), "package", f"-Dbroker.libs={staging}"],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
        cwd=staging.parent,
    )
    if result.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
        shutil.rmtree(staging, ignore_errors=True)
        output = (result.stdout + result.stderr).strip().splitlines()[-15:]
        raise StackError(
            f"Maven could not resolve the broker's jars (exit {result.returncode}):\n"
            + "\n".join(output)
        )
    shutil.rmtree(libs, ignore_errors=True)
    staging.rename(libs)
    _complete_marker(libs).write_text(POM.read_text())
    echo(f"resolved {len(list(libs.glob('*.jar')))} jars in {time.monotonic() - started:.1f} s")
    return libs


@dataclass(frozen=True, slots=True)
class BrokerLayout:
    """The node's files under one directory (DATA_DIR/kafka for the stack)."""

    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def tmp(self) -> Path:
        # zstd-jni and snappy unpack native libraries here; the system /tmp may be noexec.
        return self.root / "tmp"

    @property
    def properties(self) -> Path:
        return self.config / "server.properties"

    @property
    def log4j(self) -> Path:
        return self.config / "log4j2.properties"

    @property
    def cluster_id_file(self) -> Path:
        return self.root / "cluster-id"

    @property
    def meta(self) -> Path:
        return self.data / "meta.properties"


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    port: int
    controller_port: int
    # Extra or replaced server.properties entries (a test's SSL listener, say).
    overrides: Mapping[str, str] = field(default_factory=dict)

    @property
    def bootstrap(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def properties(self, layout: BrokerLayout) -> dict[str, str]:
        props = {
            "process.roles": "broker,controller",
            "node.id": str(NODE_ID),
            # A static quorum of one: the storage is formatted without --standalone.
            "controller.quorum.voters": f"{NODE_ID}@{LOOPBACK}:{self.controller_port}",
            "listeners": f"PLAINTEXT://{self.bootstrap},CONTROLLER://{LOOPBACK}:"
            f"{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{self.bootstrap}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(layout.data),
            # Topics are created by `provision` with the partition count of the stack; one
            # created by accident (a typo in a client) should not look like a real one.
            "auto.create.topics.enable": "false",
            "num.partitions": "1",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "offsets.topic.replication.factor": "1",
            # 50 partitions by default: seconds to create on 2 cores for nothing.
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # Every test and every `make run` starts groups: join at once.
            "group.initial.rebalance.delay.ms": "0",
            # 128 MiB by default, allocated on the heap by the cleaner thread.
            "log.cleaner.dedupe.buffer.size": "16777216",
            "num.network.threads": "2",
            "num.io.threads": "2",
            "background.threads": "2",
            "num.recovery.threads.per.data.dir": "1",
            # After a SIGKILL the node's previous incarnation stays registered with its own
            # controller until this session expires (9 s by default), and the restarted node
            # waits for that before it serves: measured 10.3 s -> 4.3 s from start to served.
            # Heartbeats go over loopback every second; 4 s tolerates a busy 2-core machine.
            "broker.session.timeout.ms": "4000",
            "broker.heartbeat.interval.ms": "1000",
            # Segments small enough that the 7-day and 1-hour retentions actually free disk on
            # a laptop (1 GiB by default); 4.x refuses less than 1 MiB.
            "log.segment.bytes": str(64 * 1024 * 1024),
        }
        props.update(self.overrides)
        return props


def _render(props: Mapping[str, str]) -> str:
    return "".join(f"{key}={value}\n" for key, value in props.items())


LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = STDOUT
# "Kafka Server started" and the log recovery after a crash are worth reading in the log.
logger.raft.name = kafka.server.KafkaRaftServer
logger.raft.level = INFO
logger.recovery.name = kafka.log.LogManager
logger.recovery.level = INFO
"""


def new_cluster_id() -> str:
    """What `kafka-storage random-uuid` prints: 16 random bytes, URL-safe base64, no padding."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):  # Kafka's own rule: it would read as an option
            return cluster_id


def _jvm(java: str, layout: BrokerLayout, libs: Path) -> list[str]:
    return [
        java,
        *JVM_OPTIONS,
        f"-Djava.io.tmpdir={layout.tmp}",
        f"-Dlog4j2.configurationFile={layout.log4j}",
        "-cp",
        # The JVM expands the wildcard itself.
        f"{libs}/*",
    ]


def prepare(layout: BrokerLayout, config: BrokerConfig, echo: Echo = _quiet) -> None:
    """Write the configuration and format the storage unless it already is."""
    for directory in (layout.config, layout.data, layout.tmp):
        directory.mkdir(parents=True, exist_ok=True)
    layout.properties.write_text(_render(config.properties(layout)))
    layout.log4j.write_text(LOG4J2)
    if layout.meta.exists():
        return
    if layout.cluster_id_file.exists():
        cluster_id = layout.cluster_id_file.read_text().strip()
    else:
        cluster_id = new_cluster_id()
        layout.cluster_id_file.write_text(cluster_id + "\n")
    java = check_java()
    libs = install(echo)
    argv = [
        *_jvm(java, layout, libs),
        "kafka.tools.StorageTool",
        "format",
        "-t",
        cluster_id,
        "-c",
        str(layout.properties),
        # Idempotent: a format interrupted after writing meta.properties is not an error.
        "--ignore-formatted",
    ]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    if result.returncode != 0:
        raise StackError(
            f"formatting the Kafka storage in {layout.data} failed (exit {result.returncode}):\n"
            + (result.stdout + result.stderr).strip()[-2000:]
        )
    echo(f"formatted a Kafka KRaft node in {layout.data} (cluster {cluster_id})")


def spec(layout: BrokerLayout, log_path: Path) -> ProcessSpec:
    java = check_java()
    libs = libs_dir()
    if not is_installed():
        raise StackError(f"the broker's jars are not in {libs}: run `threadweaver stack install`")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "JAVA_TOOL"))}
    return ProcessSpec(
        name=NAME,
        argv=(*_jvm(java, layout, libs), "kafka.Kafka", str(layout.properties)),
        log_path=log_path,
        env=env,
        cwd=layout.root,
        # Kafka's shutdown hook: leadership handed over, logs flushed and closed cleanly, so the
        # next start skips log recovery.
        stop_signal=signal.SIGTERM,
        stop_timeout=60.0,
    )


def metadata_probe(bootstrap_servers: str, timeout: float = 2.0) -> None:
    """Raise unless the broker answers a metadata request naming itself."""
    from confluent_kafka.admin import AdminClient  # noqa: PLC0415

    host, _, port = bootstrap_servers.rpartition(":")
    # A TCP check first: librdkafka would otherwise log a connection error per attempt.
    if not accepts_connections(int(port), host or LOOPBACK):
        raise ConnectionRefusedError(f"nothing listens on {bootstrap_servers}")
    connection = KafkaConnection.plaintext(bootstrap_servers)
    admin = AdminClient(client_config(connection, log_level=3))
    metadata = admin.list_topics(timeout=timeout)
    if not metadata.brokers:
        raise RuntimeError("metadata lists no broker")


def round_trip(connection: KafkaConnection, timeout: float = 10.0) -> None:
    """Create the readiness topic if needed, produce one record and read it back.

    An open port and a metadata answer come before the node can lead partitions and serve
    fetches; a produce acknowledged by all replicas and fetched back is what clients need.
    """
    from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: PLC0415
    from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]  # noqa: PLC0415

    admin = AdminClient(client_config(connection, log_level=3))
    if READINESS_TOPIC not in admin.list_topics(timeout=timeout).topics:
        futures = admin.create_topics(
            [NewTopic(READINESS_TOPIC, 1, 1, config={"retention.ms": "3600000"})],
            request_timeout=timeout,
        )
        for future in futures.values():
            try:
                future.result(timeout=timeout)
            except Exception as exc:
                if "TOPIC_ALREADY_EXISTS" not in str(exc):
                    raise
    token = uuid.uuid4().bytes
    producer = Producer(client_config(connection, acks="all", log_level=3))
    delivered: list[int] = []

    def on_delivery(err: object, msg: object) -> None:
        if err is not None:
            raise RuntimeError(f"readiness produce failed: {err}")
        delivered.append(msg.offset())  # type: ignore[attr-defined]

    producer.produce(READINESS_TOPIC, token, on_delivery=on_delivery)
    if producer.flush(timeout) != 0 or not delivered:
        raise TimeoutError("readiness produce not acknowledged")
    consumer = Consumer(
        client_config(
            connection,
            **{"group.id": "threadweaver-readiness", "enable.auto.commit": False},
            log_level=3,
        )
    )
    try:
        consumer.assign([TopicPartition(READINESS_TOPIC, 0, delivered[0])])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None and msg.value() == token:
                return
        raise TimeoutError("readiness record not fetched back")
    finally:
        consumer.close()


def wait_ready(bootstrap_servers: str, timeout: float, record: ProcessRecord | None = None) -> None:
    what = f"Kafka (metadata request on {bootstrap_servers})"
    wait_until_answers(
        what, lambda: metadata_probe(bootstrap_servers), timeout=timeout, record=record
    )
    connection = KafkaConnection.plaintext(bootstrap_servers)
    wait_until_answers(
        f"Kafka (produce and fetch on {bootstrap_servers})",
        lambda: round_trip(connection),
        timeout=timeout,
        record=record,
        interval=0.5,
    )
