"""The fault scheduler: SIGKILL and restart each process type (the components and the stack's
servers) at random moments of the load, and restart (and report) any process that dies on
its own.

The schedule is drawn up front from the seeded RNG: which process type, after what share of
the commands has been acknowledged (so every fault lands during the load whatever the
machine's speed), which instance, how long it stays down, whether a worker's local store is
wiped with it (a lost volume: it must rebuild from the journal).
"""

from __future__ import annotations

import asyncio
import random
import shutil
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from pipeline.system import Component
from tests.chaos.system import SERVER_TYPES, WORKER, StackServers, System

SUPERVISE_EVERY_S = 0.2
MAX_DOWN_S = 2.0
WIPED_RESTART = "restart (store wiped)"


@dataclass(frozen=True, slots=True)
class PlannedFault:
    process_type: str
    # Kill once this share of the commands has been acknowledged.
    at_share: float
    victim: int  # index among the instances of the type
    down_s: float
    wipe_store: bool = False


def plan_faults(rng: random.Random, kills: Mapping[str, int]) -> list[PlannedFault]:
    """`kills`: how many SIGKILLs of each process type."""
    faults: list[PlannedFault] = []
    for process_type, count in kills.items():
        wiped = process_type != WORKER  # one worker kill loses the worker's store
        for _ in range(count):
            faults.append(
                PlannedFault(
                    process_type,
                    at_share=rng.uniform(0.05, 0.85),
                    victim=rng.randrange(2 if process_type == WORKER else 1),
                    down_s=rng.uniform(0.0, MAX_DOWN_S),
                    wipe_store=not wiped,
                )
            )
            wiped = True
    return sorted(faults, key=lambda fault: fault.at_share)


@dataclass(frozen=True, slots=True)
class FaultEvent:
    at_s: float  # since the load started
    process: str
    action: str
    pid: int | None
    acknowledged: int  # commands acknowledged at that moment
    under_load: bool
    detail: str = ""
    wall_s: float = 0.0  # time.time(), to line faults up with Kafka record timestamps
    # A (re)start: the size of the component's log before it, where this run's lines begin.
    log_offset: int | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "t_s": round(self.at_s, 2),
            "process": self.process,
            "action": self.action,
            "pid": self.pid,
            "acknowledged": self.acknowledged,
            "under_load": self.under_load,
            "detail": self.detail,
            "log_offset": self.log_offset,
        }


@dataclass
class FaultScheduler:
    system: System
    plan: list[PlannedFault]
    progress: Callable[[], int]
    total: int
    servers: StackServers
    events: list[FaultEvent] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)
    _t0: float = field(default_factory=time.monotonic)
    _done: asyncio.Event = field(default_factory=asyncio.Event)
    _busy: set[str] = field(default_factory=set)

    def _record(
        self,
        process: str,
        action: str,
        pid: int | None,
        detail: str = "",
        log_offset: int | None = None,
    ) -> None:
        self.events.append(
            FaultEvent(
                time.monotonic() - self._t0,
                process,
                action,
                pid,
                self.progress(),
                not self._done.is_set(),
                detail,
                time.time(),
                log_offset,
            )
        )

    def load_finished(self) -> None:
        self._done.set()

    async def run(self) -> None:
        self._t0 = time.monotonic()
        for fault in self.plan:
            while self.progress() < fault.at_share * self.total and not self._done.is_set():
                await self._supervise()
                await asyncio.sleep(SUPERVISE_EVERY_S)
            if self._done.is_set():
                # The load ended first (a stall): a fault now would prove nothing.
                self._record(fault.process_type, "not injected", None, "the load had ended")
                continue
            await self._inject(fault)
        while not self._done.is_set():
            await self._supervise()
            await asyncio.sleep(SUPERVISE_EVERY_S)
        await self._supervise()

    async def _inject(self, fault: PlannedFault) -> None:
        if fault.process_type in SERVER_TYPES:
            await self._bounce_server(fault)
            return
        victim = self.system.by_type()[fault.process_type][fault.victim]
        self._busy.add(victim.name)
        try:
            if not victim.alive():
                await self._supervise()
            pid = victim.pid
            await asyncio.to_thread(victim.kill)
            self._record(victim.name, "SIGKILL", pid)
            await asyncio.sleep(fault.down_s)
            if fault.wipe_store:
                # A lost volume: the worker rebuilds its state from the journal.
                shutil.rmtree(victim.data_dir, ignore_errors=True)
            offset = _log_size(victim)
            victim.start()
            action = WIPED_RESTART if fault.wipe_store else "restart"
            self._record(victim.name, action, victim.pid, f"down {fault.down_s:.2f} s", offset)
        finally:
            self._busy.discard(victim.name)

    async def _bounce_server(self, fault: PlannedFault) -> None:
        name = fault.process_type
        pid = self.servers.pid(name)
        await asyncio.to_thread(self.servers.kill, name)
        self._record(name, "SIGKILL", pid)
        await asyncio.sleep(fault.down_s)
        started = time.monotonic()
        await asyncio.to_thread(self.servers.restart)
        self._record(
            name,
            "restart (stack up)",
            self.servers.pid(name),
            f"down {fault.down_s:.2f} s, up in {time.monotonic() - started:.1f} s",
        )

    async def _supervise(self) -> None:
        """What a process supervisor (k8s) does: restart whatever died; we also report it."""
        for component in self.system.components():
            if component.name in self._busy or component.alive():
                continue
            code, pid = component.exit_code, component.pid
            self.crashes.append(f"{component.name} (pid {pid}) exited with {code}")
            self._record(component.name, f"exited by itself ({code})", pid, component.log_tail(5))
            offset = _log_size(component)
            component.start()
            self._record(component.name, "restart", component.pid, "after exiting", offset)

    def kills_by_type(self, *, under_load: bool = True) -> Counter[str]:
        names = {c.name: t for t, group in self.system.by_type().items() for c in group}
        names.update({t: t for t in SERVER_TYPES})
        return Counter(
            names[e.process]
            for e in self.events
            if e.action == "SIGKILL" and (e.under_load or not under_load)
        )


def _log_size(component: Component) -> int:
    try:
        return component.log_path.stat().st_size
    except FileNotFoundError:
        return 0
