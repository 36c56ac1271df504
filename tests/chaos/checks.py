"""The invariants of a chaos run, each a named check over what the system left behind.

`Evidence` is read once the system is quiet (quiesce.py); every check is a pure function of
it, the ledger of acknowledged outcomes and the oracle's final states, and reports its
figures and its first problems.
"""

from __future__ import annotations

import contextlib
from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from pipeline.codec import CodecError, decode_command, decode_reply, decode_snapshot
from pipeline.codec.snapshot import StateOmitted, ThreadSnapshot
from pipeline.domain import (
    Accepted,
    AdministratorIdsJoined,
    AdministratorIdsLeft,
    Event,
    MemberIdsJoined,
    MemberIdsLeft,
    MessagesAdded,
    MessagesRemoved,
    Thread,
    ThreadCreated,
    ThreadDestroyed,
)
from pipeline.domain.limits import RECENT_COMMANDS_MAX
from pipeline.kafka.dead_letters import REASON_HEADER
from pipeline.kafka.records import Record
from pipeline.mirror.verify import VerifyReport as MirrorReport
from pipeline.projector.fold import ThreadView
from pipeline.projector.verify import VerifyReport as ProjectorReport
from tests.chaos.faults import WIPED_RESTART, FaultEvent, FaultScheduler
from tests.chaos.outcomes import Ledger, Outcome
from tests.chaos.scenario import ThreadCase
from tests.chaos.snapshots import CaughtUp

SHOWN = 8  # problems listed per check


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    figures: Mapping[str, object]
    problems: Sequence[str] = ()

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "ok": self.ok,
            "figures": dict(self.figures),
            "problems": list(self.problems[:SHOWN]),
            "problem_count": len(self.problems),
        }


def _check(name: str, figures: Mapping[str, object], problems: list[str]) -> Check:
    return Check(name, not problems, figures, tuple(problems))


@dataclass
class Evidence:
    """What the system holds once quiet, restricted to the run's threads where it can be."""

    # The journal records of the run's threads, decoded, in journal order.
    journal: list[tuple[Record, Event]]
    # command id -> the distinct reply records (bytes) of the run's commands.
    replies: dict[str, set[bytes]]
    reply_records: int
    command_dead_letters: list[Record]
    views: dict[str, ThreadView]
    mirror: MirrorReport
    projector: ProjectorReport
    exit_codes: dict[str, int | None] = field(default_factory=dict)
    # The snapshot topic's committed records of the run's threads, in partition order.
    snapshots: list[Record] = field(default_factory=list)
    # Its records of rounds never committed (a writer killed or fenced mid-round).
    aborted_snapshots: list[Record] = field(default_factory=list)
    # Per worker run started on a wiped store ("worker-1 at 41.3 s"): its catch-up lines.
    wiped_restarts: dict[str, list[CaughtUp]] = field(default_factory=dict)


def outcomes_agree(ledger: Ledger) -> Check:
    """0. Every acknowledged outcome is what the pure domain decides for the thread's
    acknowledged history: a command applied twice, lost, or decided out of order shows
    up as a wrong version, a wrong rejection or a wrong acceptance."""
    return _check(
        "acknowledged outcomes = decide(history)",
        {"commands": len(ledger.entries), "divergences": len(ledger.divergences)},
        list(ledger.divergences),
    )


def effects_exactly_once(ledger: Ledger, cases: Collection[ThreadCase], ev: Evidence) -> Check:
    """1. Each accepted command's events are in the journal once, as the domain decided them;
    rejected and refused commands left no event; each accepted message id is in exactly one
    journal event and one read-model row; each thread's read model shows the acknowledged
    state (members, administrators, live and removed messages, destroyed, version)."""
    problems: list[str] = []
    distinct: dict[tuple[str, int], Event] = {}
    for _record, event in ev.journal:
        distinct.setdefault((event.thread_id, event.seq_nr), event)
    by_command: dict[str, list[Event]] = defaultdict(list)
    for event in distinct.values():
        by_command[event.command_id].append(event)
    journal_messages: Counter[str] = Counter()
    for event in distinct.values():
        if isinstance(event.body, MessagesAdded):
            journal_messages.update(m.message_id for m in event.body.messages)

    diverged = {case.thread_id for case in cases if case.diverged is not None}
    accepted_messages: dict[str, str] = {}  # message id -> thread id
    checked = 0
    for entry in ledger.entries:
        planned = entry.planned
        command = planned.command
        got = sorted(by_command.pop(command.command_id, []), key=lambda e: e.seq_nr)
        if command.thread_id in diverged:
            continue  # reported by the outcomes check; the oracle stops there
        checked += 1
        want: tuple[Event, ...] = ()
        if isinstance(planned.expected, Accepted) and planned.reaches_kafka:
            want = planned.expected.events
        if [_essence(e) for e in got] != [_essence(e) for e in want]:
            found = [(e.seq_nr, e.name) for e in got]
            expected = [(e.seq_nr, e.name) for e in want]
            problems.append(
                f"{planned.kind} {command.command_id} ({entry.outcome.status}): journal has "
                f"{found}, expected {expected}"
            )
        told = entry.outcome.event_ids
        if told is not None and got and tuple(e.event_id for e in got) != tuple(told):
            problems.append(f"{command.command_id}: the reply names other events than the journal")
        for event in want:
            if isinstance(event.body, MessagesAdded):
                for message in event.body.messages:
                    accepted_messages[message.message_id] = event.thread_id
    problems.extend(
        f"event(s) of an unknown command {command_id}: {[(e.thread_id, e.seq_nr) for e in events]}"
        for command_id, events in by_command.items()
    )
    for message_id, thread_id in accepted_messages.items():
        if journal_messages[message_id] != 1:
            problems.append(f"message {message_id}: {journal_messages[message_id]} journal events")
        rows = ev.views.get(thread_id)
        in_pg = 0 if rows is None else sum(m.id == message_id for m in rows.messages)
        if in_pg != 1:
            problems.append(f"message {message_id}: {in_pg} read-model rows")

    states_equal = 0
    for case in cases:
        if case.thread_id in diverged:
            continue
        difference = _read_model_difference(case, ev.views.get(case.thread_id))
        if difference:
            problems.append(f"thread {case.thread_id}: {difference}")
        else:
            states_equal += 1
    missing_threads = {
        e.planned.command.thread_id for e in ledger.entries if e.planned.kind == "missing-thread"
    }
    problems.extend(
        f"thread {t} was never created but is in the read model"
        for t in missing_threads & set(ev.views)
    )
    return _check(
        "acknowledged effects present exactly once",
        {
            "commands_checked": checked,
            "journal_events": len(distinct),
            "accepted_message_ids": len(accepted_messages),
            "threads_equal_to_acknowledged_state": states_equal,
            "threads": len(cases),
        },
        problems,
    )


def _essence(event: Event) -> tuple[object, ...]:
    # What the decision fixes; event_id, occurred_at and command_offset come from the record.
    return (event.thread_id, event.seq_nr, event.command_id, event.sender_id, event.body)


def _read_model_difference(case: ThreadCase, view: ThreadView | None) -> str:
    state = case.state
    if state is None:
        return "" if view is None else "in the read model but never created"
    if view is None:
        return "missing from the read model"
    differences = []
    if view.thread.version != state.version:
        differences.append(f"version {view.thread.version} != {state.version}")
    if (view.thread.destroyed_at is not None) != state.destroyed:
        differences.append(f"destroyed {view.thread.destroyed_at} != {state.destroyed}")
    admins = {row.account_id for row in view.administrators}
    if admins != state.administrator_ids:
        differences.append(f"administrators {sorted(admins ^ state.administrator_ids)} differ")
    members = {row.account_id for row in view.members}
    if members != state.member_ids:
        differences.append(f"members {sorted(members ^ state.member_ids)} differ")
    live = {m.id for m in view.messages if m.removed_at is None}
    if live != set(state.messages):
        differences.append(f"live messages {sorted(live ^ set(state.messages))[:5]} differ")
    removed = {m.id for m in view.messages if m.removed_at is not None}
    if removed != state.removed_message_ids:
        differences.append(f"removed messages {sorted(removed ^ state.removed_message_ids)[:5]}")
    return "; ".join(differences)


def journal_gapless(cases: Collection[ThreadCase], ev: Evidence) -> Check:
    """2. Per thread, seq_nr runs 1..n without a gap, and no two different events share a
    (thread, seq_nr); identical re-appends (a worker redoing a batch) are allowed."""
    problems: list[str] = []
    raws: dict[str, dict[int, set[bytes]]] = defaultdict(lambda: defaultdict(set))
    for record, event in ev.journal:
        raws[event.thread_id][event.seq_nr].add(record.value or b"")
    conflicts = 0
    for thread_id, seqs in sorted(raws.items()):
        for seq_nr, values in sorted(seqs.items()):
            if len(values) > 1:
                conflicts += 1
                problems.append(
                    f"thread {thread_id} seq_nr {seq_nr}: {len(values)} different events"
                )
        if sorted(seqs) != list(range(1, len(seqs) + 1)):
            problems.append(f"thread {thread_id}: seq_nrs {sorted(seqs)[:10]}... have a gap")
    created = {case.thread_id for case in cases if case.state is not None}
    problems.extend(
        f"thread {t}: created but no journal event" for t in sorted(created - set(raws))
    )
    distinct = sum(len(seqs) for seqs in raws.values())
    return _check(
        "journal gapless per thread, one event per seq_nr",
        {
            "threads": len(raws),
            "journal_records": len(ev.journal),
            "distinct_events": distinct,
            "identical_re_appends": len(ev.journal) - distinct,
            "conflicts": conflicts,
        },
        problems,
    )


def mirror_verified(ev: Evidence) -> Check:
    """3. `journal verify`: DynamoDB holds exactly what the journal implies (whole journal)."""
    report = ev.mirror
    return _check(
        "journal verify (DynamoDB = Kafka journal)",
        {
            "differences": len(report.differences),
            "journal_records": report.journal_records,
            "table_items": report.table_items,
            "journal_duplicates": report.duplicates,
            "journal_conflicts": report.conflicts,
            "unmirrorable": report.unmirrorable,
        },
        [d.describe() for d in report.differences],
    )


def read_model_is_fold(ev: Evidence) -> Check:
    """4. `projector verify`: the PostgreSQL read model equals fold(journal), thread by thread."""
    report = ev.projector
    problems = [
        *(f"{t}: {d}" for t, d in report.different.items()),
        *(f"{t}: behind" for t in report.behind),
        *(f"{t}: missing" for t in report.missing),
        *(f"{t}: unexpected" for t in report.unexpected),
        *(f"{t}: parked {d}" for t, d in report.parked_mismatch.items()),
    ]
    return _check(
        "read model = fold(journal)",
        {"threads": report.threads, "equal": report.equal},
        problems,
    )


def one_final_reply(ledger: Ledger, ev: Evidence) -> Check:
    """5. Every command that reached Kafka has replies, all identical, equal to what its
    client was told; a request refused before Kafka has none."""
    problems: list[str] = []
    duplicates = 0
    for entry in ledger.entries:
        planned = entry.planned
        command_id = planned.command.command_id
        values = ev.replies.get(command_id, set())
        if not planned.reaches_kafka:
            if values:
                problems.append(f"{planned.kind} {command_id} was refused but has a reply")
            continue
        if not values:
            problems.append(f"{planned.kind} {command_id}: no reply record")
            continue
        if len(values) > 1:
            problems.append(f"{planned.kind} {command_id}: {len(values)} different replies")
            continue
        told = entry.outcome
        replied = Outcome.of_reply(decode_reply(next(iter(values))))
        if (replied.status, replied.reason, replied.version) != (
            told.status,
            told.reason,
            told.version,
        ):
            problems.append(f"{planned.kind} {command_id}: reply {replied} but client told {told}")
    reached = sum(entry.planned.reaches_kafka for entry in ledger.entries)
    duplicates = ev.reply_records - sum(len(v) for v in ev.replies.values())
    return _check(
        "exactly one final reply per command",
        {
            "commands_reaching_kafka": reached,
            "reply_records": ev.reply_records,
            "identical_repeated_replies": duplicates,
        },
        problems,
    )


def bad_input_contained(ledger: Ledger, ev: Evidence) -> Check:
    """6. Bad input never stops a partition: undecodable records and invalid commands sent to
    Kafka are dead-lettered (and every later command of their partitions was answered);
    invalid HTTP requests get a 422 and forged or missing credentials a 401/403, and
    produce nothing (check 5)."""
    problems: list[str] = []
    reasons_by_value: dict[bytes, set[str]] = defaultdict(set)
    reasons_by_command: dict[str, set[str]] = defaultdict(set)
    for letter in ev.command_dead_letters:
        reason = dict(letter.headers).get(REASON_HEADER, b"").decode()
        value = letter.value or b""
        reasons_by_value[value].add(reason)
        with contextlib.suppress(CodecError):
            reasons_by_command[decode_command(value).command_id].add(reason)
    for garbage in ledger.garbage:
        if "UNDECODABLE" not in reasons_by_value.get(garbage.value, set()):
            problems.append(f"garbage on thread {garbage.thread_id} not dead-lettered")
    kafka_invalid = [
        e for e in ledger.entries if e.planned.kind == "invalid" and e.planned.transport == "kafka"
    ]
    for entry in kafka_invalid:
        command_id = entry.planned.command.command_id
        if "INVALID_COMMAND" not in reasons_by_command.get(command_id, set()):
            problems.append(f"invalid command {command_id} not dead-lettered")
    http_invalid = [e for e in ledger.entries if e.planned.refused_at_edge]
    problems.extend(
        f"invalid HTTP request {e.planned.command.command_id} answered {e.outcome}"
        for e in http_invalid
        if e.outcome.reason != "INVALID_COMMAND"
    )
    intruders = [e for e in ledger.entries if e.planned.intrusion is not None]
    problems.extend(
        f"intruder ({e.planned.intrusion}) answered {e.outcome}"
        for e in intruders
        if e.outcome.status != "refused"
    )
    return _check(
        "bad input dead-lettered or refused; nobody let in",
        {
            "garbage_records": len(ledger.garbage),
            "invalid_via_kafka": len(kafka_invalid),
            "invalid_via_http_422": len(http_invalid),
            "intruders_refused": sum(e.outcome.status == "refused" for e in intruders),
            "intruders": len(intruders),
        },
        problems,
    )


def read_your_writes(ledger: Ledger) -> Check:
    """7. A query with min_version = the version a command reply returned answers that
    version (or newer), or says the view is stale (409): never an older state as current."""
    results = Counter(probe.result for probe in ledger.probes)
    problems = [
        f"thread {p.thread_id} min_version {p.version}: {p.detail}"
        for p in ledger.probes
        if p.result == "violation"
    ]
    return _check(
        "read your writes (min_version)",
        {
            "probes": len(ledger.probes),
            **{k: results.get(k, 0) for k in ("fresh", "stale", "unavailable", "violation")},
        },
        problems,
    )


def faults_survived(scheduler: FaultScheduler, kills: Mapping[str, int], ev: Evidence) -> Check:
    """8. The faults happened as planned, during the load; no process died on its own; every
    process stopped cleanly at the end. `kills`: the SIGKILLs wanted per process type."""
    problems: list[str] = []
    by_type = scheduler.kills_by_type()
    types = list(kills)
    problems.extend(
        f"{t}: {by_type.get(t, 0)} kills under load, wanted >= {wanted}"
        for t, wanted in kills.items()
        if by_type.get(t, 0) < wanted
    )
    problems.extend(f"died on its own: {crash}" for crash in scheduler.crashes)
    problems.extend(
        f"{name} stopped with exit code {code}" for name, code in ev.exit_codes.items() if code != 0
    )
    return _check(
        "faults injected under load; no other deaths; clean stops",
        {
            **{f"kills_{t}": by_type.get(t, 0) for t in types},
            "unexpected_exits": len(scheduler.crashes),
        },
        problems,
    )


@dataclass
class _JournalPrefix:
    """A thread as its journal events give it, folded here from the event bodies alone (no
    code shared with the worker's evolve): the oracle of check 9."""

    version: int = 0
    destroyed: bool = False
    administrators: set[str] = field(default_factory=set)
    members: set[str] = field(default_factory=set)
    live: dict[str, str] = field(default_factory=dict)  # message id -> sender, order added
    removed: set[str] = field(default_factory=set)
    last_command_offset: int = -1
    # command id -> (seq_nr of its last event, its event ids), least recently accepted first
    recent: dict[str, tuple[int, tuple[str, ...]]] = field(default_factory=dict)

    def add(self, event: Event) -> None:
        if event.seq_nr <= self.version:
            return  # an identical re-append (a different one is check 2's)
        self.version = event.seq_nr
        self.last_command_offset = max(self.last_command_offset, event.command_offset)
        _, event_ids = self.recent.pop(event.command_id, (0, ()))
        self.recent[event.command_id] = (event.seq_nr, (*event_ids, event.event_id))
        while len(self.recent) > RECENT_COMMANDS_MAX:
            del self.recent[next(iter(self.recent))]
        body = event.body
        if isinstance(body, ThreadCreated):
            self.administrators = set(body.administrator_ids)
            self.members = set(body.member_ids)
        elif isinstance(body, ThreadDestroyed):
            self.destroyed = True
        elif isinstance(body, AdministratorIdsJoined):
            self.administrators.update(body.account_ids)
        elif isinstance(body, AdministratorIdsLeft):
            self.administrators.difference_update(body.account_ids)
        elif isinstance(body, MemberIdsJoined):
            self.members.update(body.account_ids)
        elif isinstance(body, MemberIdsLeft):
            self.members.difference_update(body.account_ids)
        elif isinstance(body, MessagesAdded):
            self.live.update((m.message_id, event.sender_id) for m in body.messages)
        elif isinstance(body, MessagesRemoved):
            for message_id in body.message_ids:
                self.live.pop(message_id, None)
            self.removed.update(body.message_ids)

    def difference(self, state: Thread) -> str:
        differences = []
        if state.version != self.version:
            differences.append(f"version {state.version} != {self.version}")
        if state.destroyed != self.destroyed:
            differences.append(f"destroyed {state.destroyed} != {self.destroyed}")
        if state.administrator_ids != self.administrators:
            differences.append(
                f"administrators {sorted(state.administrator_ids ^ self.administrators)} differ"
            )
        if state.member_ids != self.members:
            differences.append(f"members {sorted(state.member_ids ^ self.members)} differ")
        if list(state.messages.items()) != list(self.live.items()):
            odd = sorted(set(state.messages.items()) ^ set(self.live.items()))[:3]
            differences.append(f"live messages (id, sender) differ: {odd or 'in order'}")
        if state.removed_message_ids != self.removed:
            differences.append(
                f"removed messages {sorted(state.removed_message_ids ^ self.removed)[:3]} differ"
            )
        if state.last_command_offset != self.last_command_offset:
            differences.append(
                f"last command offset {state.last_command_offset} != {self.last_command_offset}"
            )
        recent = {c: (o.version, tuple(o.event_ids)) for c, o in state.recent_commands.items()}
        if list(recent.items()) != list(self.recent.items()):
            differences.append("recent accepted commands differ")
        return "; ".join(differences)


def snapshots_match_journal(ev: Evidence) -> Check:
    """9. Every committed snapshot is the journal folded up to its position: its state equals
    what the thread's events below `journal_offset` of its journal partition give (version =
    their highest seq_nr; administrators, members, live messages and their senders, removed
    messages, destroyed, last command offset, recent accepted commands), it sits in its
    thread's journal partition, and a thread's snapshots never go back in the journal."""
    problems: list[str] = []
    history: dict[tuple[int, str], list[tuple[int, Event]]] = defaultdict(list)
    home: dict[str, int] = {}
    last_offset: dict[str, int] = {}
    for record, event in ev.journal:
        history[(record.partition, event.thread_id)].append((record.offset, event))
        home.setdefault(event.thread_id, record.partition)
        last_offset[event.thread_id] = max(last_offset.get(event.thread_id, -1), record.offset)
    written: dict[tuple[int, str], list[ThreadSnapshot]] = defaultdict(list)
    rounds: set[tuple[int, int]] = set()
    for record in ev.snapshots:
        key = (record.key or b"").decode(errors="replace")
        try:
            snapshot = decode_snapshot(record.value or b"")
        except CodecError as exc:
            problems.append(f"snapshot {record.position}: unreadable ({exc})")
            continue
        where = f"snapshot of {key} at {snapshot.journal_offset} ({record.position})"
        if snapshot.thread_id != key or snapshot.journal_partition != record.partition:
            problems.append(
                f"{where}: names thread {snapshot.thread_id}, partition "
                f"{snapshot.journal_partition}"
            )
            continue
        if home.get(key, record.partition) != record.partition:
            problems.append(f"{where}: the thread's journal partition is {home[key]}")
            continue
        earlier = written[(record.partition, key)]
        if earlier and snapshot.journal_offset < earlier[-1].journal_offset:
            problems.append(f"{where}: after one at {earlier[-1].journal_offset} (goes back)")
        earlier.append(snapshot)
        rounds.add((record.partition, snapshot.journal_offset))

    checked = omitted = current = 0
    for (partition, thread_id), snapshots in written.items():
        events = sorted(history.get((partition, thread_id), []), key=lambda pair: pair[0])
        oracle, folded = _JournalPrefix(), 0
        for snapshot in sorted(snapshots, key=lambda s: s.journal_offset):
            while folded < len(events) and events[folded][0] < snapshot.journal_offset:
                oracle.add(events[folded][1])
                folded += 1
            checked += 1
            where = f"snapshot of {thread_id} at {partition}:{snapshot.journal_offset}"
            if oracle.version == 0:
                problems.append(f"{where}: no event of the thread below it")
                continue
            if isinstance(snapshot.state, StateOmitted):
                omitted += 1
                continue
            difference = oracle.difference(snapshot.state)
            if difference:
                problems.append(f"{where}: {difference}")
        if snapshots[-1].journal_offset > last_offset.get(thread_id, -1):
            current += 1
    return _check(
        "every snapshot = fold(journal) below its offset",
        {
            "snapshot_records": len(ev.snapshots),
            "rounds": len(rounds),
            "snapshots_checked": checked,
            "states_omitted": omitted,
            "threads_with_snapshots": len(written),
            "threads_whose_last_snapshot_holds_their_last_event": current,
            "threads_in_journal": len(home),
        },
        problems,
    )


# A kill counts as landing among rounds if one was committed this shortly before it, and as
# cutting one if records of a round never committed were produced this shortly before it.
AMONG_ROUNDS_S = 2.0
CUT_ROUND_S = 1.0


def snapshots_exercised(events: Sequence[FaultEvent], ev: Evidence) -> Check:
    """10. The snapshot paths ran under the faults: rounds were committed, a worker SIGKILL
    landed among them (a round committed in the AMONG_ROUNDS_S before it; reported too: the
    kills after which records of a round were never committed, which misses a round cut
    before its records left the worker), and a worker restarted on a wiped store restored
    threads from snapshots."""
    problems: list[str] = []
    committed_at = sorted(r.timestamp_ms / 1000 for r in ev.snapshots)
    aborted_at = sorted(r.timestamp_ms / 1000 for r in ev.aborted_snapshots)
    rounds: set[tuple[int, int]] = set()
    for record in ev.snapshots:
        with contextlib.suppress(CodecError):
            rounds.add((record.partition, decode_snapshot(record.value or b"").journal_offset))
    kills = [
        e
        for e in events
        if e.action == "SIGKILL" and e.under_load and e.process.startswith("worker")
    ]
    among = [
        k for k in kills if any(k.wall_s - AMONG_ROUNDS_S <= t <= k.wall_s for t in committed_at)
    ]
    cut = [k for k in kills if any(k.wall_s - CUT_ROUND_S <= t <= k.wall_s for t in aborted_at)]
    # Per worker kill: how long before it the last round was committed (None: none was).
    gaps = [
        round(k.wall_s - max(before), 3)
        if (before := [t for t in committed_at if t <= k.wall_s])
        else None
        for k in kills
    ]
    if not rounds:
        problems.append("no snapshot round was committed")
    if kills and not among:
        problems.append(
            f"none of the {len(kills)} worker kills came within {AMONG_ROUNDS_S:g} s after a "
            "committed round"
        )
    wiped = [e for e in events if e.action == WIPED_RESTART]
    restored = 0
    for run, lines in ev.wiped_restarts.items():
        threads = sum(line.restored for line in lines)
        restored += threads
        if not threads:
            problems.append(
                f"{run} restarted on a wiped store and restored no thread from snapshots "
                f"({len(lines)} partitions caught up: "
                f"{[(c.partition, c.start, c.end) for c in lines][:4]})"
            )
    if len(ev.wiped_restarts) != len(wiped):
        problems.append(
            f"{len(wiped)} restarts on a wiped store, {len(ev.wiped_restarts)} of them read"
        )
    return _check(
        "snapshots written under the faults; a wiped worker restores from them",
        {
            "rounds_committed": len(rounds),
            "snapshot_records_committed": len(ev.snapshots),
            "snapshot_records_never_committed": len(ev.aborted_snapshots),
            "worker_kills_under_load": len(kills),
            f"worker_kills_within_{AMONG_ROUNDS_S:g}s_of_a_committed_round": len(among),
            "worker_kills_leaving_a_round_uncommitted": len(cut),
            "seconds_from_the_last_committed_round_to_each_worker_kill": gaps,
            "restarts_on_a_wiped_store": len(wiped),
            "threads_restored_after_the_wipe": restored,
            "partitions_restored_after_the_wipe": sum(
                line.restored_from is not None
                for lines in ev.wiped_restarts.values()
                for line in lines
            ),
            "events_folded_after_the_wipe": sum(
                line.folded for lines in ev.wiped_restarts.values() for line in lines
            ),
        },
        problems,
    )
