"""Running a schemathesis state machine (calls chained along the document's links) against
the live, eventually consistent system.

Hypothesis replays the choice sequences it has recorded: while generating, to extend or
mutate earlier scenarios, and to shrink and then report a failure. Replayed against running
servers, a scenario does not get the same answers: a replayed command carries the same
generated Idempotency-Key, so it is answered as the command of the first run was (a thread
that run destroyed: 409 THREAD_DESTROYED instead of 200); the read model's lag decides
between 200 and 409 STALE_VIEW; a listing grows with every scenario. The bundles filled
from the answers, and with them the rules Hypothesis may pick next, then differ from the
recorded run, and Hypothesis stops with FlakyStrategyDefinition ("a bundle that was
unexpectedly empty"): in a run where no check failed, or in place of the failure it was
replaying.

Hence: the generate phase only (nothing to shrink against a moving system, no example
database to replay old answers from), every failure kept when it happens and reported as
itself, and a run Hypothesis abandons as flaky without one followed by a fresh run (a new
choice tree) for the scenarios left, as schemathesis' own runner treats a flaky replay
(`schemathesis.engine.run.stateful`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import hypothesis
from hypothesis import HealthCheck, Phase
from hypothesis.errors import FlakyStrategyDefinition
from schemathesis.core.failures import FailureGroup
from schemathesis.engine.errors import is_inconsistent_replay

# Runs at most, every one after the first following one abandoned as flaky; each runs only
# the scenarios left, so more runs cost no more scenarios. On a loaded 2-core machine a run
# was abandoned about once in 150 scenarios: ten in a row would mean the answers are not
# merely eventually consistent.
RUNS_MAX = 10


@dataclass
class Chaining:
    """What the scenarios of a state machine did, kept outside Hypothesis' runs."""

    failures: list[BaseException] = field(default_factory=list)
    scenarios: int = 0
    # Runs Hypothesis gave up as flaky, no check having failed: when, and how.
    abandoned: list[str] = field(default_factory=list)
    # Steps whose request took a value from an earlier answer, and those answered 2xx.
    linked_steps: int = 0
    linked_successes: int = 0

    def scenario_ended(self) -> None:
        self.scenarios += 1

    def step_answered(self, linked: bool, status: int) -> None:
        if linked:
            self.linked_steps += 1
            self.linked_successes += 200 <= status < 300

    def failed(self, failure: BaseException) -> None:
        self.failures.append(failure)


class Runs(Protocol):
    """`APIStateMachine.run` of a machine that reports to a `Chaining`."""

    def __call__(self, *, settings: hypothesis.settings | None = None) -> None: ...


def live_settings(scenarios: int, steps: int) -> hypothesis.settings:
    return hypothesis.settings(
        max_examples=scenarios,
        stateful_step_count=steps,
        phases=[Phase.generate],
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )


def _abandoned_as_flaky(error: BaseException) -> bool:
    if isinstance(error, BaseExceptionGroup):  # FlakyFailure: what its first run raised
        return all(_abandoned_as_flaky(inner) for inner in error.exceptions)
    # Hypothesis asserts instead of raising when a replay draws past a value it had rejected.
    return isinstance(error, FlakyStrategyDefinition) or is_inconsistent_replay(error)


def run_live(run: Runs, chaining: Chaining, *, scenarios: int, steps: int) -> None:
    """Run a state machine until `scenarios` scenarios ran or one failed; the machine
    reports to `chaining` (failures when they happen, each scenario's end)."""
    abandoned = chaining.abandoned
    while True:
        try:
            run(settings=live_settings(scenarios - chaining.scenarios, steps))
        except (Exception, FailureGroup) as error:  # a check's failures are no Exception
            if chaining.failures:
                break
            if not _abandoned_as_flaky(error):
                raise
            abandoned.append(f"after scenario {chaining.scenarios}: {type(error).__name__}")
            if chaining.scenarios >= scenarios:
                break
            if len(abandoned) >= RUNS_MAX:
                raise AssertionError(
                    f"{len(abandoned)} runs abandoned as flaky, no check failed: "
                    f"{'; '.join(abandoned)}"
                ) from error
            continue
        break
    if chaining.failures:
        first = chaining.failures[0]
        # Whatever Hypothesis made of its replay, the first failure as it happened.
        raise AssertionError(
            f"{len(chaining.failures)} failing step(s) in {chaining.scenarios} scenarios; "
            f"the first:\n{first}"
        ) from first
