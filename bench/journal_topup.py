"""Writing synthetic journals with two processes in parallel (bench/journal_proc.py)."""

from __future__ import annotations

from typing import Any

from bench.processes import finish_child, flags, start_child
from bench.system import System


def write_journal(
    system: System,
    bootstrap: str,
    topic: str,
    *,
    seed: int,
    threads: int,
    events_per_thread: int,
    processes: int = 2,
) -> dict[str, Any]:
    """Threads 0..threads-1 of `seed`, split between `processes` writers (a thread's events
    all come from one writer, so they stay in order)."""
    share = -(-threads // processes)
    children = []
    for first in range(0, threads, share):
        children.append(
            start_child(
                system.launcher,
                "bench.journal_proc",
                [
                    *flags(
                        bootstrap=bootstrap,
                        topic=topic,
                        seed=seed,
                        first=first,
                        count=min(share, threads - first),
                        events_per_thread=events_per_thread,
                    ),
                ],
                name="journal-writer",
            )
        )
    results = [finish_child(child, timeout=3600) for child in children]
    seconds = max(r["seconds"] for r in results)
    events = sum(r["events"] for r in results)
    return {
        "events": events,
        "threads": threads,
        "bytes": sum(r["bytes"] for r in results),
        "seconds": seconds,
        "events_per_s": events / seconds if seconds else None,
    }
