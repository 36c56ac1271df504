"""The worst-case Thread decision state: its stored size and the cost of one more command.

    .venv/bin/python -m bench.state_size [--label after] [--repeats 1000]

Builds two threads with the real decider (`decide`, then `evolve` of its events, as the
worker does) and measures them:

- `live`: 5,000 live messages (the limit), each of maximal text (4,096 four-byte characters,
  as many per command as the 256 KB text bound allows), each a reply to the previous one and
  addressed to as many members as the 1,000-recipient bound allows (1,000 members);
- `removed`: 100,000 messages added 1,000 at a time and removed 1,000 at a time, none live.

For each it prints the state's stored size (`state_codec.dumps`, what the worker's store
holds, without the store's one format byte), its snapshot record (`encode_snapshot`, what the
snapshot topic holds; whether it fits one record at Kafka's default limits, and the time to
encode and decode it), what each part costs alone (live
messages, removed ids, recent command outcomes; see `_sizes`), and the median time of
`decide` and of `evolve` (its events) for one more AddMessages (one message of maximal text;
on the `live` thread, the one that reaches 5,000) and one more RemoveMessages (one message,
by its sender). Identifiers are fresh strings, as decoded from
the journal. Merges its figures under `--label` into `bench/results/state_size.json` (runs of
the same commit under one label: each timing the median over the runs, see `_merged`), so the
same script run at an older commit (`PYTHONPATH=<worktree>`) gives comparable figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.codec import decode_snapshot, encode_snapshot
from pipeline.codec.snapshot import ThreadSnapshot
from pipeline.domain import (
    Accepted,
    AddMessages,
    Command,
    CommandBody,
    CreateThread,
    DecisionContext,
    NewMessage,
    RemoveMessages,
    Thread,
    ThreadState,
    decide,
    evolve,
    limits,
)
from pipeline.domain.ids import ulid_from_parts
from pipeline.worker import state_codec
from pipeline.worker.snapshots import RECORD_MAX_BYTES, RECORD_OVERHEAD_BYTES

RECORD_MAX = 1_000_000  # Kafka's default max.message.bytes (about 1 MB)
T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
REMOVED = 100_000
OUTPUT = Path(__file__).parent / "results" / "state_size.json"
MAX_TEXT = "\U0001f600" * limits.TEXT_MAX  # 4,096 characters, 16,384 bytes of UTF-8


class _Ids:
    """Fresh, distinct ULIDs (new string objects, as the journal decoder makes them)."""

    def __init__(self) -> None:
        self._next = 0

    def __call__(self) -> str:
        self._next += 1
        return ulid_from_parts(1_764_000_000_000 + self._next, self._next * 7919)


def _fresh(value: str) -> str:
    """An equal string that is another object: pickle shares what is one object, and what the
    worker decodes from the journal is never one object across events."""
    return value.encode().decode()


class _Driver:
    """Decides and evolves one thread's commands, like the worker, with a ticking clock."""

    def __init__(self) -> None:
        self.ids = _Ids()
        self.thread_id = self.ids()
        self.state: ThreadState = None
        self.offset = 0

    def command(self, sender: str, body: CommandBody) -> tuple[Command, DecisionContext]:
        self.offset += 1
        now = T0 + timedelta(milliseconds=self.offset)
        cmd = Command(self.ids(), _fresh(self.thread_id), _fresh(sender), now, body)
        return cmd, DecisionContext(now=now, command_offset=self.offset)

    def handle(self, sender: str, body: CommandBody) -> Accepted:
        cmd, context = self.command(sender, body)
        decision = decide(self.state, cmd, context)
        assert isinstance(decision, Accepted), decision
        for event in decision.events:
            self.state = evolve(self.state, event)
        return decision


def _live_thread() -> tuple[_Driver, list[str], list[NewMessage]]:
    """The thread at 4,999 live messages, its members, and the 5,000th message."""
    driver = _Driver()
    members = [driver.ids() for _ in range(limits.ACCOUNT_IDS_PER_COMMAND_MAX)]
    creator = driver.ids()
    driver.handle(creator, CreateThread("worst case", (), tuple(members)))
    per_command = limits.MESSAGES_TEXT_BYTES_MAX // len(MAX_TEXT.encode())
    recipients = limits.RECIPIENTS_PER_COMMAND_MAX // per_command
    previous: str | None = None
    pending: list[NewMessage] = []
    for index in range(limits.LIVE_MESSAGES_MAX):
        to = tuple(_fresh(members[(index + k) % len(members)]) for k in range(recipients))
        reply = None if previous is None else _fresh(previous)
        message = NewMessage(driver.ids(), _fresh(MAX_TEXT), reply, to)
        if index == limits.LIVE_MESSAGES_MAX - 1:
            break
        previous = message.message_id
        pending.append(message)
        if len(pending) == per_command or index == limits.LIVE_MESSAGES_MAX - 2:
            driver.handle(members[index % len(members)], AddMessages(tuple(pending)))
            pending = []
    last = message
    return driver, members, [last]


def _removed_thread() -> tuple[_Driver, str]:
    driver = _Driver()
    creator = driver.ids()
    member = driver.ids()
    driver.handle(creator, CreateThread("worst case", (), (member,)))
    batch = limits.MESSAGE_IDS_PER_COMMAND_MAX
    for _ in range(REMOVED // batch):
        ids: list[str] = []
        for _ in range(batch // limits.MESSAGES_PER_COMMAND_MAX):
            added = tuple(
                NewMessage(driver.ids(), "x") for _ in range(limits.MESSAGES_PER_COMMAND_MAX)
            )
            driver.handle(member, AddMessages(added))
            ids.extend(m.message_id for m in added)
        driver.handle(member, RemoveMessages(tuple(_fresh(i) for i in ids)))
    return driver, member


def _median_us(action: Callable[[], object], repeats: int, inner: int = 5) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for _ in range(inner):
            action()
        samples.append((time.perf_counter_ns() - start) / inner / 1000)
    return round(statistics.median(samples), 1)


def _timings(
    driver: _Driver, sender: str, message: NewMessage, repeats: int
) -> tuple[dict[str, float], Thread]:
    """decide/evolve of one AddMessages, then of one RemoveMessages of that message."""
    state = driver.state
    add, add_context = driver.command(sender, AddMessages((message,)))
    decided = decide(state, add, add_context)
    assert isinstance(decided, Accepted), decided
    (added,) = decided.events
    after_add = evolve(state, added)
    assert isinstance(after_add, Thread)
    remove, remove_context = driver.command(sender, RemoveMessages((message.message_id,)))
    removed = decide(after_add, remove, remove_context)
    assert isinstance(removed, Accepted), removed
    (removal,) = removed.events
    figures = {
        "add_decide_us": _median_us(lambda: decide(state, add, add_context), repeats),
        "add_evolve_us": _median_us(lambda: evolve(state, added), repeats),
        "remove_decide_us": _median_us(lambda: decide(after_add, remove, remove_context), repeats),
        "remove_evolve_us": _median_us(lambda: evolve(after_add, removal), repeats),
    }
    return figures, after_add


def _sizes(state: Thread) -> dict[str, int | bool]:
    """The stored size, and what each part costs alone: the state with only that part, less
    the state without any (the header, administrators and members). Parts share strings (a
    recent outcome names the messages it added or removed; pickle writes a shared string
    once), so the parts may add up to more than the whole."""
    total = len(state_codec.dumps(state))
    parts: dict[str, Any] = {
        "messages": {},
        "removed_message_ids": frozenset(),
        "recent_commands": {},
    }
    base = len(state_codec.dumps(replace(state, **parts)))

    def alone(name: str) -> int:
        others = {key: value for key, value in parts.items() if key != name}
        return len(state_codec.dumps(replace(state, **others))) - base

    return {
        "state_bytes": total,
        "header_and_participants_bytes": base,
        "live_messages_bytes": alone("messages"),
        "removed_ids_bytes": alone("removed_message_ids"),
        "recent_commands_bytes": alone("recent_commands"),
        "fits_one_record": total + 1 < RECORD_MAX,
    }


def _snapshot(state: Thread) -> dict[str, Any]:
    """The state's snapshot record (schemas/avro/thread_snapshot) and the time to write and
    read it back, as a restoring worker does."""
    snapshot = ThreadSnapshot(state.thread_id, 0, 1_000_000, state)
    value = encode_snapshot(snapshot)
    assert decode_snapshot(value) == snapshot
    return {
        "snapshot_record_bytes": len(value),
        "snapshot_fits_one_record": len(value) <= RECORD_MAX_BYTES - RECORD_OVERHEAD_BYTES,
        "snapshot_encode_us": _median_us(lambda: encode_snapshot(snapshot), 21, inner=1),
        "snapshot_decode_us": _median_us(lambda: decode_snapshot(value), 21, inner=1),
    }


def measure(repeats: int) -> dict[str, Any]:
    live, members, last = _live_thread()
    live_figures, at_limit = _timings(live, members[0], last[0], repeats)
    assert len(at_limit.messages) == limits.LIVE_MESSAGES_MAX
    removed, member = _removed_thread()
    assert isinstance(removed.state, Thread)
    assert len(removed.state.removed_message_ids) == REMOVED
    assert not removed.state.messages
    removed_figures, _ = _timings(removed, member, NewMessage(removed.ids(), MAX_TEXT), repeats)
    return {
        "live_5000": {
            "live_messages": len(at_limit.messages),
            **_sizes(at_limit),
            **_snapshot(at_limit),
            **live_figures,
        },
        "removed_100000": {
            "removed_messages": len(removed.state.removed_message_ids),
            **_sizes(removed.state),
            **_snapshot(removed.state),
            **removed_figures,
        },
    }


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=10", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(state_codec.__file__).parent,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def _merged(previous: dict[str, Any] | None, run: dict[str, Any]) -> dict[str, Any]:
    """`run`, or, after runs of the same commit under the same label, every run's timings
    kept in `runs` and each timing the median over them (sizes do not vary): on a shared
    machine one run's timings move by tens of percent, so before and after are best run
    alternately, a few times each."""
    if previous is None or previous.get("commit") != run["commit"]:
        return {**run, "runs": [_timings_of(run)]}
    runs = [*previous["runs"], _timings_of(run)]
    merged = {**run, "runs": runs}
    for case in ("live_5000", "removed_100000"):
        for key in runs[0][case]:
            merged[case][key] = round(statistics.median(r[case][key] for r in runs), 1)
    return merged


def _timings_of(run: dict[str, Any]) -> dict[str, Any]:
    return {
        "load_average_1m": run["load_average_1m"],
        **{
            case: {k: v for k, v in run[case].items() if k.endswith("_us")}
            for case in ("live_5000", "removed_100000")
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="after")
    parser.add_argument("--repeats", type=int, default=1000)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    figures = measure(args.repeats)
    run = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "record_max_bytes": RECORD_MAX,
        "repeats": args.repeats,
        "load_average_1m": round(os.getloadavg()[0], 2),
        **figures,
    }
    print(json.dumps(run, indent=2))
    results = json.loads(args.output.read_text()) if args.output.exists() else {}
    results[args.label] = _merged(results.get(args.label), run)
    args.output.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
