"""Generated inputs in bulk: Hypothesis draws them, the test sends them in batches.

A fuzz test against running servers cannot re-run one example per server round trip, so
Hypothesis is used as a generator only: `generate` collects `count` examples of a strategy
(generation phase only, no shrinking), deterministically for a given seed. The seed is
`THREADWEAVER_FUZZ_SEED` (default 0) and every failure message names it.
"""

from __future__ import annotations

import os
from typing import Final, TypeVar

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

EXAMPLES_ENV: Final = "THREADWEAVER_FUZZ_EXAMPLES"
SEED_ENV: Final = "THREADWEAVER_FUZZ_SEED"
# `make test`: about 500 inputs per fuzz test; the long run sets THREADWEAVER_FUZZ_EXAMPLES.
DEFAULT_EXAMPLES: Final = 500

T = TypeVar("T")


def examples() -> int:
    return int(os.environ.get(EXAMPLES_ENV, str(DEFAULT_EXAMPLES)))


def fuzz_seed() -> int:
    return int(os.environ.get(SEED_ENV, "0"))


def reproduce_with() -> str:
    return f"{SEED_ENV}={fuzz_seed()} {EXAMPLES_ENV}={examples()}"


def generate(strategy: st.SearchStrategy[T], count: int, seed_value: int) -> list[T]:
    drawn: list[T] = []

    @settings(
        max_examples=count,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @seed(seed_value)
    @given(strategy)
    def collect(example: T) -> None:
        drawn.append(example)

    collect()
    return drawn
