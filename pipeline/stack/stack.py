"""Start, reuse, describe and stop the embedded stack of one data directory.

`up` leaves three detached servers behind (Apache Kafka, PostgreSQL, the DynamoDB-API server)
and records them, with
the endpoints, in DATA_DIR/stack.json; `down` stops exactly those. A second `up` finds the
stack alive and answering and reuses it; a stack.json whose processes are gone (a reboot, a
kill) is replaced by a fresh start on the same data, preferring the same ports.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import shlex
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.kafka.security import KafkaConnection
from pipeline.settings import KafkaSecuritySettings, Settings
from pipeline.stack import broker, dynamodb_server, postgres
from pipeline.stack.errors import StackError
from pipeline.stack.layout import Layout
from pipeline.stack.ports import pick_ports
from pipeline.stack.process import (
    ProcessRecord,
    is_alive,
    read_pid_files,
    spawn,
    stop,
    write_json_atomic,
)
from pipeline.stack.provision import ProvisionReport, provision
from pipeline.stack.readiness import wait_until_answers

# 2: Apache Kafka and dynalite replaced tansu and moto (a format-1 file names servers of those).
STATE_FORMAT = 2
# The broker first: a clean shutdown lets the next start skip log recovery. No server of the
# stack uses another, so the order only matters for how long the components see errors.
STOP_ORDER = ("kafka", "postgres", "dynamodb")
START_TIMEOUT = 60.0
# Log recovery after a crash reads every unflushed segment: bounded by the data, not by us.
BROKER_RECOVERY_TIMEOUT = 600.0
LOCK_TIMEOUT = 600.0

Echo = Callable[[str], None]


def _quiet(_message: str) -> None:
    pass


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where the stack's servers answer, and what the components need to know about it."""

    bootstrap_servers: str
    pg_dsn: str
    dynamodb_endpoint: str
    partitions: int
    data_dir: Path
    aws_region: str
    dynamodb_table: str
    pg_external: bool = False

    @property
    def kafka(self) -> KafkaConnection:
        # The embedded node listens in plain TCP, whatever THREADWEAVER_KAFKA_* the shell has.
        return KafkaConnection.plaintext(self.bootstrap_servers)

    def settings(self, base: Settings | None = None) -> Settings:
        return (base or Settings.from_env()).replaced(
            bootstrap_servers=self.bootstrap_servers,
            kafka_security=KafkaSecuritySettings(),
            pg_dsn=self.pg_dsn,
            dynamodb_endpoint=self.dynamodb_endpoint,
            aws_region=self.aws_region,
            dynamodb_table=self.dynamodb_table,
            partitions=self.partitions,
        )

    def env(self, base: Settings | None = None) -> dict[str, str]:
        """The variables a component (or a shell) needs to use this stack."""
        return {**self.settings(base).to_env(), **dynamodb_server.DUMMY_CREDENTIALS}

    def to_json(self) -> dict[str, Any]:
        raw = dataclasses.asdict(self)
        raw["data_dir"] = str(self.data_dir)
        return raw

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Endpoints:
        return cls(
            bootstrap_servers=str(raw["bootstrap_servers"]),
            pg_dsn=str(raw["pg_dsn"]),
            dynamodb_endpoint=str(raw["dynamodb_endpoint"]),
            partitions=int(raw["partitions"]),
            data_dir=Path(raw["data_dir"]),
            aws_region=str(raw["aws_region"]),
            dynamodb_table=str(raw["dynamodb_table"]),
            pg_external=bool(raw.get("pg_external", False)),
        )


@dataclass(frozen=True, slots=True)
class StackState:
    endpoints: Endpoints
    processes: tuple[ProcessRecord, ...]
    ports: Mapping[str, int] = field(default_factory=dict)
    started_at: float = 0.0
    postgres_account: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "started_at": self.started_at,
            "endpoints": self.endpoints.to_json(),
            "ports": dict(self.ports),
            "postgres_account": self.postgres_account,
            "processes": [p.to_json() for p in self.processes],
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> StackState:
        if raw.get("format") != STATE_FORMAT:
            raise ValueError(f"unknown stack.json format {raw.get('format')!r}")
        return cls(
            endpoints=Endpoints.from_json(raw["endpoints"]),
            processes=tuple(ProcessRecord.from_json(p) for p in raw["processes"]),
            ports={str(k): int(v) for k, v in raw.get("ports", {}).items()},
            started_at=float(raw.get("started_at", 0.0)),
            postgres_account=raw.get("postgres_account"),
        )

    def alive(self) -> bool:
        return all(is_alive(p) for p in self.processes)


@dataclass(frozen=True, slots=True)
class UpResult:
    state: StackState
    reused: bool
    provisioned: ProvisionReport


@dataclass(frozen=True, slots=True)
class DownResult:
    stopped: tuple[str, ...]
    killed: tuple[str, ...]


def read_state(data_dir: Path | str) -> StackState | None:
    """What stack.json says, alive or not; None without a readable stack.json."""
    path = Layout.of(data_dir).state_file
    try:
        return StackState.from_json(json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StackError(f"{path} is unreadable ({exc}); `stack down` clears it") from exc


def running_state(data_dir: Path | str) -> StackState | None:
    """stack.json if every process it names is alive (no request is made to the servers)."""
    try:
        state = read_state(data_dir)
    except StackError:
        return None
    return state if state is not None and state.alive() else None


@contextlib.contextmanager
def _locked(layout: Layout) -> Iterator[None]:
    """One `up`/`down` at a time per data dir (two at once would start two stacks)."""
    layout.root.mkdir(parents=True, exist_ok=True)
    with layout.lock_file.open("a+") as handle:
        deadline = time.monotonic() + LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StackError(
                        f"another threadweaver command holds {layout.lock_file}"
                    ) from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _probe(name: str, endpoints: Endpoints) -> None:
    """Raise unless the server `name` of the stack answers a real request."""
    if name == broker.NAME:
        broker.metadata_probe(endpoints.bootstrap_servers)
    elif name == dynamodb_server.NAME:
        dynamodb_server.client(
            "dynamodb", endpoints.dynamodb_endpoint, endpoints.aws_region, timeout=2.0
        ).list_tables(Limit=1)
    elif name == postgres.NAME:
        postgres.select_one(endpoints.pg_dsn)
    else:
        raise StackError(f"unknown server {name!r} in stack.json")


def _healthy(state: StackState, timeout: float) -> dict[str, ProcessRecord]:
    """The servers of `state` that run and answer (each given up to `timeout` seconds)."""
    healthy: dict[str, ProcessRecord] = {}
    for record in state.processes:
        if not is_alive(record):
            continue
        try:
            wait_until_answers(
                record.name,
                lambda name=record.name: _probe(name, state.endpoints),  # type: ignore[misc]
                timeout=timeout,
                record=record,
                interval=0.25,
            )
        except StackError:
            continue
        healthy[record.name] = record
    return healthy


def _ordered_for_stop(records: list[ProcessRecord]) -> list[ProcessRecord]:
    """Deduplicated, in STOP_ORDER; processes of unknown names (none today) first."""
    unique: dict[tuple[int, int | None], ProcessRecord] = {}
    for record in records:
        unique.setdefault((record.pid, record.start_ticks), record)

    def rank(record: ProcessRecord) -> int:
        return STOP_ORDER.index(record.name) + 1 if record.name in STOP_ORDER else 0

    return sorted(unique.values(), key=rank)


def _stop_records(layout: Layout, records: list[ProcessRecord]) -> DownResult:
    stopped: list[str] = []
    killed: list[str] = []
    for record in _ordered_for_stop(records):
        if is_alive(record):
            stopped.append(record.name)
        if stop(record, layout.run):
            killed.append(record.name)
            if record.name == postgres.NAME:
                # Its backends are in sessions of their own: a killed postmaster leaves them.
                postgres.clear_leftovers(layout)
    return DownResult(tuple(stopped), tuple(killed))


@dataclass(frozen=True, slots=True)
class _LastStart:
    """What a start after a clean `down` (no stack.json) must keep: same ports, same topics."""

    ports: Mapping[str, int]
    partitions: int | None

    @classmethod
    def read(cls, layout: Layout, previous: StackState | None) -> _LastStart:
        if previous is not None:
            return cls(dict(previous.ports), previous.endpoints.partitions)
        try:
            raw = json.loads(layout.last_start_file.read_text())
            ports = {str(name): int(port) for name, port in raw["ports"].items()}
            return cls(ports, int(raw["partitions"]))
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return cls({}, None)

    @staticmethod
    def write(layout: Layout, ports: Mapping[str, int], partitions: int) -> None:
        write_json_atomic(layout.last_start_file, {"ports": dict(ports), "partitions": partitions})


def _leftovers(layout: Layout, state: StackState | None) -> list[ProcessRecord]:
    return [*(state.processes if state else ()), *read_pid_files(layout.run)]


def up(
    data_dir: Path | str,
    *,
    partitions: int | None = None,
    timeout: float = START_TIMEOUT,
    echo: Echo = _quiet,
) -> UpResult:
    """Make the stack of `data_dir` run and answer, provisioned; reuse it if it already does."""
    layout = Layout.of(data_dir)
    with _locked(layout):
        try:
            previous = read_state(layout.root)
        except StackError as exc:
            echo(f"ignoring {exc}")
            previous = None
        healthy = _healthy(previous, timeout=5.0) if previous is not None else {}
        if previous is not None and len(healthy) == len(previous.processes):
            wanted = partitions or previous.endpoints.partitions
            if wanted != previous.endpoints.partitions:
                raise StackError(
                    f"the running stack in {layout.root} has "
                    f"{previous.endpoints.partitions} partitions per topic, not {wanted}"
                )
            echo(f"the stack in {layout.root} is already running: reusing it")
            report = provision(previous.endpoints.settings())
            return UpResult(previous, reused=True, provisioned=report)

        # What died (a crash, the OOM killer, a reboot) or hangs is started again on its own
        # data; what still answers keeps running, so its clients keep their connections.
        keep = healthy
        kept = {(r.name, r.pid) for r in keep.values()}
        lost = [r for r in _leftovers(layout, previous) if (r.name, r.pid) not in kept]
        alive = sorted({r.name for r in lost if is_alive(r)})
        if alive:
            echo(f"stopping what does not answer of a previous stack ({', '.join(alive)})")
        if previous is not None and len(keep) < len(previous.processes):
            gone = sorted({r.name for r in previous.processes} - set(keep))
            echo(f"restarting {', '.join(gone)} on its data in {layout.root}")
        _stop_records(layout, lost)
        layout.state_file.unlink(missing_ok=True)
        return _start(
            layout,
            previous,
            keep,
            partitions=partitions,
            timeout=timeout,
            echo=echo,
        )


def _start(
    layout: Layout,
    previous: StackState | None,
    keep: Mapping[str, ProcessRecord],
    *,
    partitions: int | None,
    timeout: float,
    echo: Echo,
) -> UpResult:
    """Start every server of the stack that is not in `keep` (those run and answer)."""
    base = Settings.from_env()
    last = _LastStart.read(layout, previous)
    partitions = partitions or last.partitions or base.partitions
    if partitions < 1:
        raise StackError(f"partitions must be >= 1, got {partitions}")
    external_dsn = base.pg_dsn
    names = [dynamodb_server.NAME, broker.NAME, broker.CONTROLLER]
    if not external_dsn:
        names.append(postgres.NAME)
    kept_ports = {
        name: port
        for name, port in last.ports.items()
        if name in keep or (name == broker.CONTROLLER and broker.NAME in keep)
    }
    ports = {
        **kept_ports,
        **pick_ports(
            [n for n in names if n not in kept_ports],
            {n: p for n, p in last.ports.items() if n not in kept_ports},
            taken=kept_ports.values(),
        ),
    }
    region = base.aws_region
    dynamodb_endpoint = dynamodb_server.endpoint_url(ports[dynamodb_server.NAME])
    kafka_layout = broker.BrokerLayout(layout.kafka)
    kafka_config = broker.BrokerConfig(ports[broker.NAME], ports[broker.CONTROLLER])
    started: list[ProcessRecord] = []
    records: dict[str, ProcessRecord] = dict(keep)
    for directory in (layout.logs, layout.run):
        directory.mkdir(parents=True, exist_ok=True)
    account = previous.postgres_account if previous is not None else None
    try:
        if broker.NAME not in keep:
            # Installed by `make`; done here too so that `stack up` works from a bare venv.
            broker.install(echo)
            broker.prepare(kafka_layout, kafka_config, echo)
            records[broker.NAME] = spawn(
                broker.spec(kafka_layout, layout.log(broker.NAME)), layout.run
            )
            started.append(records[broker.NAME])
        if dynamodb_server.NAME not in keep:
            dynamodb_server.ensure_installed(echo)
            records[dynamodb_server.NAME] = spawn(
                dynamodb_server.spec(layout, ports[dynamodb_server.NAME], region), layout.run
            )
            started.append(records[dynamodb_server.NAME])
        if external_dsn is None and postgres.NAME not in keep:
            who = postgres.run_as()
            account = who.user if who else None
            postgres.prepare(layout, who)
            postgres.clear_leftovers(layout)
            if postgres.initdb_if_needed(layout, who):
                echo(f"created a PostgreSQL cluster in {layout.pgdata}")
            records[postgres.NAME] = spawn(
                postgres.spec(layout, ports[postgres.NAME], who), layout.run
            )
            started.append(records[postgres.NAME])

        if dynamodb_server.NAME not in keep:
            dynamodb_server.wait_ready(
                dynamodb_endpoint, region, timeout, records[dynamodb_server.NAME]
            )
        if external_dsn is None:
            if postgres.NAME not in keep:
                admin_dsn = postgres.dsn(ports[postgres.NAME], "postgres")
                postgres.wait_ready(admin_dsn, timeout, records[postgres.NAME])
                postgres.ensure_database(ports[postgres.NAME])
            pg_dsn = postgres.dsn(ports[postgres.NAME])
        else:
            pg_dsn = external_dsn
            postgres.wait_ready(pg_dsn, timeout, log_path=None)
        if broker.NAME not in keep:
            # After a crash the node first recovers its log: that takes as long as it takes,
            # and a node that gives up exits (which ends the wait at once).
            broker.wait_ready(
                kafka_config.bootstrap,
                max(timeout, BROKER_RECOVERY_TIMEOUT),
                records[broker.NAME],
            )

        endpoints = Endpoints(
            bootstrap_servers=kafka_config.bootstrap,
            pg_dsn=pg_dsn,
            dynamodb_endpoint=dynamodb_endpoint,
            partitions=partitions,
            data_dir=layout.root,
            aws_region=region,
            dynamodb_table=base.dynamodb_table,
            pg_external=external_dsn is not None,
        )
        state = StackState(
            endpoints=endpoints,
            processes=tuple(records[name] for name in STOP_ORDER if name in records),
            ports=ports,
            started_at=time.time(),
            postgres_account=account,
        )
        # Written before provisioning so that `down` finds the servers even if it fails.
        write_json_atomic(layout.state_file, state.to_json())
        _LastStart.write(layout, ports, partitions)
        report = provision(endpoints.settings(base))
    except BaseException:
        # Including Ctrl-C: a failed start leaves nothing running that it started.
        _stop_records(layout, started)
        layout.state_file.unlink(missing_ok=True)
        raise
    return UpResult(state, reused=False, provisioned=report)


def down(data_dir: Path | str) -> DownResult:
    """Stop the processes `up` started for `data_dir` (also after a failed or partial up)."""
    layout = Layout.of(data_dir)
    if not layout.root.exists():
        return DownResult((), ())
    with _locked(layout):
        try:
            state = read_state(layout.root)
        except StackError:
            state = None  # unreadable: the pid files still name what to stop
        result = _stop_records(layout, _leftovers(layout, state))
        layout.state_file.unlink(missing_ok=True)
        return result


def export_lines(env: Mapping[str, str]) -> list[str]:
    return [f"export {name}={shlex.quote(value)}" for name, value in sorted(env.items())]


def describe(result: UpResult) -> list[str]:
    """Human-readable lines about a started (or reused) stack."""
    e = result.state.endpoints
    by_name = {p.name: p for p in result.state.processes}

    def pid(name: str) -> str:
        record = by_name.get(name)
        return f"pid {record.pid}, log {record.log_path}" if record else "not started by us"

    lines = [
        f"data dir:  {e.data_dir}",
        f"kafka:     {e.bootstrap_servers}  (Apache Kafka {broker.kafka_version()}, one KRaft "
        f"node; {pid(broker.NAME)})",
        f"postgres:  {e.pg_dsn}  ("
        + ("external server" if e.pg_external else pid("postgres"))
        + (f", runs as {result.state.postgres_account}" if result.state.postgres_account else "")
        + ")",
        f"dynamodb:  {e.dynamodb_endpoint}  (dynalite, table {e.dynamodb_table} in "
        f"{e.aws_region}; {pid(dynamodb_server.NAME)})",
        f"topics:    {e.partitions} partitions each",
    ]
    return lines


def env_of(data_dir: Path | str) -> dict[str, str]:
    state = running_state(data_dir)
    if state is None:
        raise StackError(
            f"no running stack in {Layout.of(data_dir).root}: start it with "
            f"`threadweaver stack up --data-dir {data_dir}`"
        )
    return state.endpoints.env()
