"""Stateful fuzz runs against the live system (`tests.fuzz.live_chains`): a failure is
reported as itself, whatever Hypothesis made of replaying it; a run abandoned as flaky with
no failure is followed by a fresh one for the scenarios left."""

from __future__ import annotations

from collections.abc import Callable

import hypothesis
import pytest
from hypothesis.errors import FlakyFailure, FlakyStrategyDefinition

from tests.fuzz.live_chains import RUNS_MAX, Chaining, run_live

pytestmark = pytest.mark.unit

SCENARIOS = 25


class Runs:
    """Stands for a state machine's `run`: each call plays one of `plays`."""

    def __init__(self, chaining: Chaining, *plays: Callable[[Chaining], None]) -> None:
        self.chaining = chaining
        self.plays = list(plays)
        self.settings: list[hypothesis.settings] = []

    def __call__(self, *, settings: hypothesis.settings | None = None) -> None:
        assert settings is not None
        self.settings.append(settings)
        self.plays.pop(0)(self.chaining)

    @property
    def budgets(self) -> list[int]:
        return [settings.max_examples for settings in self.settings]


def scenarios(count: int) -> Callable[[Chaining], None]:
    def play(chaining: Chaining) -> None:
        for _ in range(count):
            chaining.scenario_ended()

    return play


def abandoned_after(count: int, error: BaseException | None = None) -> Callable[[Chaining], None]:
    def play(chaining: Chaining) -> None:
        scenarios(count)(chaining)
        raise error or FlakyStrategyDefinition("a bundle that was unexpectedly empty")

    return play


def failing(failure: BaseException, then: BaseException) -> Callable[[Chaining], None]:
    def play(chaining: Chaining) -> None:
        chaining.scenario_ended()
        chaining.failed(failure)
        raise then

    return play


def test_only_the_generate_phase_without_database() -> None:
    chaining = Chaining()
    runs = Runs(chaining, scenarios(SCENARIOS))
    run_live(runs, chaining, scenarios=SCENARIOS, steps=10)
    [settings] = runs.settings
    assert list(settings.phases) == [hypothesis.Phase.generate]
    assert settings.database is None
    assert (settings.max_examples, settings.stateful_step_count) == (SCENARIOS, 10)


def test_a_failure_is_reported_as_itself_not_as_the_flaky_replay() -> None:
    chaining = Chaining()
    server_error = AssertionError("Server error: 500 on POST /v1/threads/create")
    replay = FlakyStrategyDefinition("The second run stopped drawing earlier")
    runs = Runs(chaining, failing(server_error, then=replay))
    with pytest.raises(AssertionError, match="Server error: 500") as raised:
        run_live(runs, chaining, scenarios=SCENARIOS, steps=10)
    assert raised.value.__cause__ is server_error
    assert len(runs.budgets) == 1, "no run after a failure"


def test_a_failure_that_did_not_happen_again_is_reported() -> None:
    chaining = Chaining()
    timeout = TimeoutError("no answer in 90 s")
    runs = Runs(chaining, failing(timeout, then=FlakyFailure("passed on replay", [timeout])))
    with pytest.raises(AssertionError, match="no answer in 90 s"):
        run_live(runs, chaining, scenarios=SCENARIOS, steps=10)


def test_a_run_abandoned_as_flaky_is_followed_by_one_for_the_scenarios_left() -> None:
    chaining = Chaining()
    runs = Runs(chaining, abandoned_after(7), scenarios(SCENARIOS - 7))
    run_live(runs, chaining, scenarios=SCENARIOS, steps=10)
    assert runs.budgets == [SCENARIOS, SCENARIOS - 7]
    assert chaining.scenarios == SCENARIOS
    assert len(chaining.abandoned) == 1


def test_a_flaky_failure_of_flaky_generation_is_abandoned_too() -> None:
    chaining = Chaining()
    generation = FlakyStrategyDefinition("a flaky precondition")
    flaky = FlakyFailure("did not fail again", [generation])
    runs = Runs(chaining, abandoned_after(3, flaky), scenarios(SCENARIOS - 3))
    run_live(runs, chaining, scenarios=SCENARIOS, steps=10)
    assert runs.budgets == [SCENARIOS, SCENARIOS - 3]


def test_runs_abandoned_again_and_again_fail() -> None:
    chaining = Chaining()
    runs = Runs(chaining, *[abandoned_after(1) for _ in range(RUNS_MAX)])
    with pytest.raises(AssertionError, match=f"{RUNS_MAX} runs abandoned as flaky"):
        run_live(runs, chaining, scenarios=SCENARIOS, steps=10)


def test_an_error_of_the_test_itself_is_not_taken_for_flakiness() -> None:
    chaining = Chaining()
    bug = KeyError("thread_id")
    runs = Runs(chaining, abandoned_after(2, FlakyFailure("did not fail again", [bug])))
    with pytest.raises(FlakyFailure):
        run_live(runs, chaining, scenarios=SCENARIOS, steps=10)
    runs = Runs(chaining, abandoned_after(2, bug))
    with pytest.raises(KeyError):
        run_live(runs, chaining, scenarios=SCENARIOS, steps=10)


def test_linked_steps_are_counted_with_their_successes() -> None:
    chaining = Chaining()
    chaining.step_answered(linked=True, status=200)
    chaining.step_answered(linked=True, status=409)
    chaining.step_answered(linked=False, status=200)
    assert (chaining.linked_steps, chaining.linked_successes) == (2, 1)
