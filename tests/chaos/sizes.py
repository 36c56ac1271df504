"""How big a chaos run is, from the environment (`make chaos` raises the defaults).

The defaults are the `make test` run: at least 20,000 commands over 500 threads with every
component and the broker killed at least 3 times, PostgreSQL and the DynamoDB server once.
The seed fixes the command mix and the fault schedule (which process, after how many
acknowledged commands, how long it stays down);
timing on a shared machine is not reproducible, so a replay re-runs the same schedule, not
the same interleaving.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from dataclasses import dataclass

PREFIX = "THREADWEAVER_CHAOS_"


def _int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(PREFIX + name, "").strip()
    if not raw:
        return default
    value = int(raw)
    if value < minimum:
        raise ValueError(f"{PREFIX}{name} must be >= {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(PREFIX + name, "").strip()
    if not raw:
        return default
    value = float(raw)
    if not low <= value <= high:
        raise ValueError(f"{PREFIX}{name} must be in [{low}, {high}], got {value}")
    return value


@dataclass(frozen=True, slots=True)
class ChaosSizes:
    commands: int
    threads: int
    # SIGKILL + restart per process type (worker, mirror, projector, api, broker).
    kills: int
    # SIGKILL + `stack up` of PostgreSQL and of the DynamoDB server, each.
    server_kills: int
    seed: int
    # Commands in flight at once (each on its own thread).
    concurrency: int
    # Share of commands sent through the HTTP API instead of the Kafka client.
    http_share: float

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ChaosSizes:
        env = os.environ if environ is None else environ
        seed_raw = env.get(PREFIX + "SEED", "").strip()
        commands = _int(env, "COMMANDS", 20_000, 1)
        threads = _int(env, "THREADS", 500, 1)
        if threads > commands:
            raise ValueError(f"{PREFIX}THREADS ({threads}) must be <= COMMANDS ({commands})")
        return cls(
            commands=commands,
            threads=threads,
            kills=_int(env, "KILLS", 3, 0),
            server_kills=_int(env, "SERVER_KILLS", 1, 0),
            seed=int(seed_raw) if seed_raw else random.SystemRandom().randrange(2**32),
            concurrency=_int(env, "CONCURRENCY", 160, 1),
            http_share=_float(env, "HTTP_SHARE", 0.3, 0.0, 1.0),
        )

    def replay_hint(self) -> str:
        return (
            f"{PREFIX}SEED={self.seed} {PREFIX}COMMANDS={self.commands} "
            f"{PREFIX}THREADS={self.threads} {PREFIX}KILLS={self.kills} "
            f"{PREFIX}SERVER_KILLS={self.server_kills} "
            f"{PREFIX}CONCURRENCY={self.concurrency} {PREFIX}HTTP_SHARE={self.http_share}"
        )

    def as_json(self) -> dict[str, object]:
        return {
            "commands": self.commands,
            "threads": self.threads,
            "kills_per_process_type": self.kills,
            "seed": self.seed,
            "concurrency": self.concurrency,
            "http_share": self.http_share,
            "kills_of_postgres_and_dynamodb": self.server_kills,
        }
