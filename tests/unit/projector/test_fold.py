"""fold(journal): the expected read model, checked against the domain's own replay."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.domain import AddMessages, Command, MessagesAdded, NewMessage, replay
from pipeline.projector import plan, statements
from pipeline.projector.fold import fold, keyable
from pipeline.projector.plan import ParkReason
from pipeline.projector.statements import pg_text
from pipeline.projector.verify import compare
from tests.support.builders import BOB, THREAD, Aggregate, command, create, ulid
from tests.support.journal import SyntheticJournal, conflicting
from tests.unit.domain.test_properties import PROPERTY_SETTINGS, sequences

pytestmark = pytest.mark.unit


def run(commands: list[Command]) -> Aggregate:
    agg = Aggregate()
    for cmd in commands:
        agg.handle(cmd)
    return agg


@PROPERTY_SETTINGS
@given(sequences)
def test_fold_agrees_with_replay(commands: list[Command]) -> None:
    agg = run(commands)
    state = replay(agg.events)
    folded = fold(agg.events)
    if state is None:
        assert folded.views == {}
        return
    view = folded.views[THREAD]
    row = view.thread
    assert row.version == state.version
    assert row.title == pg_text(state.title)
    assert row.creator_id == state.creator_id
    assert row.parent_thread_id == state.parent_thread_id
    assert row.updated_at == state.updated_at
    assert row.created_at == state.created_at
    assert (row.destroyed_at is not None) == state.destroyed
    assert {a.account_id for a in view.administrators} == state.administrator_ids
    assert {m.account_id for m in view.members} == state.member_ids
    live = {m.id: m for m in view.messages if m.removed_at is None}
    assert set(live) == set(state.messages)
    # The state keeps each live message's sender only; the rest is read from the journal
    # (a message id is never reused in a thread, so its MessagesAdded event is the only one).
    posted = {
        added.message_id: (event, added)
        for event in agg.events
        if isinstance(event.body, MessagesAdded)
        for added in event.body.messages
    }
    for message_id, sender_id in state.messages.items():
        row_message = live[message_id]
        event, added = posted[message_id]
        assert row_message.sender_id == sender_id == event.sender_id
        assert row_message.text == pg_text(added.text)
        assert row_message.reply_message_id == added.reply_message_id
        assert row_message.to_account_ids == added.to_account_ids
        assert row_message.created_at == event.occurred_at
    removed = {m.id for m in view.messages if m.removed_at is not None}
    assert removed <= state.removed_message_ids


def test_re_appends_and_conflicts_change_nothing() -> None:
    journal = SyntheticJournal(seed=11, threads=5, commands=200)
    events = journal.events
    noisy = [*events[:50], *events[10:30], conflicting(events[40]), *events[50:], *events[-5:]]
    assert fold(noisy) == fold(events)
    assert fold(noisy).parked == {}


def test_a_gap_parks_the_thread_at_the_version_before_it() -> None:
    journal = SyntheticJournal(seed=3, threads=2, commands=60)
    first = journal.models[0].thread_id
    ours = [e for e in journal.events if e.thread_id == first]
    assert len(ours) > 4
    without = [e for e in journal.events if not (e.thread_id == first and e.seq_nr == 3)]
    folded = fold(without)
    assert folded.parked == {first: ParkReason.GAP}
    assert folded.views[first].thread.version == 2
    assert (
        folded.views[journal.models[1].thread_id]
        == fold(journal.events).views[journal.models[1].thread_id]
    )


def test_removed_messages_keep_their_rows() -> None:
    journal = SyntheticJournal(seed=8, threads=3, commands=300)
    messages = [m for view in fold(journal.events).views.values() for m in view.messages]
    removed = [m for m in messages if m.removed_at is not None]
    assert removed
    assert all(m.removed_by is not None for m in removed)


def test_fold_imports_nothing_of_the_projector() -> None:
    source = Path(__file__).resolve().parents[3] / "pipeline" / "projector" / "fold.py"
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    ours = {m for m in imported if m.split(".")[0] in {"pipeline", "api"}}
    assert ours, imported
    assert all(m.startswith("pipeline.domain") for m in ours), ours


def nul_journal() -> Aggregate:
    agg = Aggregate()
    agg.handle(create(title="lunch\x00time"))
    agg.handle(command(AddMessages((NewMessage(ulid(), "a\x00b"),)), sender=BOB))
    return agg


def test_a_broken_projector_rule_is_caught_by_fold(monkeypatch: pytest.MonkeyPatch) -> None:
    events = nul_journal().events
    # A foreign record that cannot be keyed: the projector dead-letters it, fold skips it.
    unkeyable = dataclasses.replace(events[-1], seq_nr=3, sender_id="not-a-ulid")
    expected = fold([*events, unkeyable])
    assert expected == fold(events)
    assert expected.views[THREAD].thread.title == "lunch\ufffdtime"

    # The projector's own rules, broken: NUL dropped, every envelope taken.
    monkeypatch.setattr(statements, "pg_text", lambda value: value.replace("\x00", ""))
    monkeypatch.setattr(plan, "invalid_envelope", lambda _event: None)
    assert fold([*events, unkeyable]) == expected
    written_title = statements.event_statements(events[0])[3].args[3]
    assert written_title == "lunchtime"
    view = expected.views[THREAD]
    broken = dataclasses.replace(view, thread=dataclasses.replace(view.thread, title=written_title))
    report = compare(expected, {THREAD: broken}, {}, [THREAD])
    assert list(report.different) == [THREAD]
    assert not report.ok


CROCKFORD = "[0-9A-HJKMNP-TV-Z]"
IDS = st.one_of(
    st.from_regex(rf"[0-7]{CROCKFORD}{{25}}", fullmatch=True),
    st.from_regex(rf"[0-9A-Za-z]{CROCKFORD}{{25}}", fullmatch=True),
    st.from_regex(rf"[0-7]{CROCKFORD}{{10}}[ILOUa-z\x00\n]{CROCKFORD}{{14}}", fullmatch=True),
    st.from_regex(rf"[0-7]{CROCKFORD}{{24,26}}\n?", fullmatch=True),
    st.text(max_size=30),
)


@PROPERTY_SETTINGS
@given(
    st.sampled_from(["thread_id", "event_id", "command_id", "sender_id"]), IDS, st.integers(-2, 3)
)
def test_fold_and_the_projector_key_the_same_events(name: str, value: str, seq_nr: int) -> None:
    event = dataclasses.replace(nul_journal().events[0], **{name: value}, seq_nr=seq_nr)
    assert keyable(event) == (plan.invalid_envelope(event) is None)
