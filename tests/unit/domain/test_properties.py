"""Properties of the decider over generated command sequences (hypothesis)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline import domain
from pipeline.domain import Accepted, Command, NewMessage, Rejected, decide, replay
from tests.support.builders import T0, THREAD, Aggregate, ulid

pytestmark = pytest.mark.unit

ACCOUNTS = [ulid(30_000 + i) for i in range(5)]
MESSAGE_IDS = [ulid(40_000 + i) for i in range(12)]
COMMAND_IDS = [ulid(50_000 + i) for i in range(40)]

accounts = st.sampled_from(ACCOUNTS)
account_lists = st.lists(accounts, min_size=1, max_size=4).map(tuple)
message_ids = st.sampled_from(MESSAGE_IDS)
texts = st.text(max_size=6)

new_messages = st.builds(
    NewMessage,
    message_id=message_ids,
    text=texts,
    reply_message_id=st.none() | message_ids,
    to_account_ids=st.lists(accounts, max_size=3).map(tuple),
)

bodies = st.one_of(
    st.builds(
        domain.CreateThread,
        title=texts,
        administrator_ids=st.lists(accounts, max_size=3).map(tuple),
        member_ids=st.lists(accounts, max_size=3).map(tuple),
        parent_thread_id=st.none() | st.just(ulid(60_000)),
        remarks=st.none() | texts,
    ),
    st.just(domain.DestroyThread()),
    st.builds(domain.JoinAdministratorIds, account_lists),
    st.builds(domain.LeaveAdministratorIds, account_lists),
    st.builds(domain.JoinMemberIds, account_lists),
    st.builds(domain.LeaveMemberIds, account_lists),
    st.builds(domain.AddMessages, st.lists(new_messages, min_size=1, max_size=3).map(tuple)),
    st.builds(domain.RemoveMessages, st.lists(message_ids, min_size=1, max_size=3).map(tuple)),
)

commands = st.builds(
    Command,
    command_id=st.sampled_from(COMMAND_IDS),
    thread_id=st.just(THREAD),
    sender_id=accounts,
    requested_at=st.just(T0),
    body=bodies,
)
# Creation first so most sequences exercise a live thread.
sequences = st.tuples(
    st.builds(
        Command,
        command_id=st.just(ulid(70_000)),
        thread_id=st.just(THREAD),
        sender_id=accounts,
        requested_at=st.just(T0),
        body=st.builds(
            domain.CreateThread,
            title=st.just("t"),
            administrator_ids=st.lists(accounts, max_size=2).map(tuple),
            member_ids=st.lists(accounts, max_size=3).map(tuple),
        ),
    ),
    st.lists(commands, max_size=30),
).map(lambda pair: [pair[0], *pair[1]])

PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def run(cmds: list[Command]) -> tuple[Aggregate, list[object]]:
    agg = Aggregate()
    decisions = [agg.handle(cmd) for cmd in cmds]
    return agg, decisions


@PROPERTY_SETTINGS
@given(sequences)
def test_every_command_yields_exactly_one_decision(cmds: list[Command]) -> None:
    _, decisions = run(cmds)
    assert len(decisions) == len(cmds)
    assert all(isinstance(d, Accepted | Rejected) for d in decisions)


@PROPERTY_SETTINGS
@given(sequences)
def test_replay_of_accepted_events_equals_the_state(cmds: list[Command]) -> None:
    agg, _ = run(cmds)
    assert replay(agg.events) == agg.state


@PROPERTY_SETTINGS
@given(sequences)
def test_seq_nr_is_gapless_and_version_counts_events(cmds: list[Command]) -> None:
    agg, decisions = run(cmds)
    assert [e.seq_nr for e in agg.events] == list(range(1, len(agg.events) + 1))
    for decision in decisions:
        if isinstance(decision, Accepted) and decision.events:
            assert decision.version == decision.events[-1].seq_nr
    if agg.state is not None:
        assert agg.state.version == len(agg.events)


@PROPERTY_SETTINGS
@given(sequences, commands)
def test_decide_is_deterministic(cmds: list[Command], last: Command) -> None:
    agg, _ = run(cmds)
    context = agg.context()
    assert decide(agg.state, last, context) == decide(agg.state, last, context)


@PROPERTY_SETTINGS
@given(sequences)
def test_a_repeated_command_id_changes_nothing(cmds: list[Command]) -> None:
    agg, decisions = run(cmds)
    for cmd, decision in zip(cmds, decisions, strict=True):
        if not (isinstance(decision, Accepted) and decision.events):
            continue
        before = agg.state
        again = agg.handle(cmd)
        assert isinstance(again, Accepted)
        assert again.events == ()
        assert again.duplicate
        assert again.event_ids == decision.event_ids
        assert agg.state == before


@PROPERTY_SETTINGS
@given(sequences, account_lists, st.randoms())
def test_ids_behave_as_sets(cmds: list[Command], ids: tuple[str, ...], rnd: object) -> None:
    agg, _ = run(cmds)
    state = agg.state
    if state is None or state.destroyed:
        return
    admin = next(iter(state.administrator_ids))
    join = Command(ulid(), THREAD, admin, T0, domain.JoinMemberIds(ids))
    first = agg.handle(join)
    assert isinstance(first, Accepted)
    assert agg.state is not None
    assert agg.state.member_ids == state.member_ids | set(ids)
    shuffled = list(ids) * 2
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    second = agg.handle(
        replace(join, command_id=ulid(), body=domain.JoinMemberIds(tuple(shuffled)))
    )
    assert isinstance(second, Accepted)
    assert second.events == ()


@settings(max_examples=300, deadline=None)
@given(
    st.builds(
        Command,
        command_id=st.text(max_size=30),
        thread_id=st.text(max_size=30),
        sender_id=st.text(max_size=30),
        requested_at=st.just(T0),
        body=bodies,
    )
)
def test_garbage_commands_are_rejected_not_raised(cmd: Command) -> None:
    decision = decide(None, cmd, Aggregate().context())
    assert isinstance(decision, Accepted | Rejected)
