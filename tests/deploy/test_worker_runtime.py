"""One worker runtime is the default everywhere (ADR 0002): the settings, compose, both k8s
overlays, and what the bench measures and sizes the capacity plan for."""

from __future__ import annotations

import pytest
import yaml

from bench import capacity
from bench.config import BenchConfig
from pipeline.settings import WorkerSettings
from tests.deploy.support import OVERLAYS, ROOT, render

pytestmark = pytest.mark.deploy

RUNTIME = "THREADWEAVER_WORKER_RUNTIME"


def test_the_settings_default_to_faust() -> None:
    assert WorkerSettings.from_env({}).runtime == "faust"


def test_compose_runs_faust() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    environment = services["worker"]["environment"]
    assert environment.get(RUNTIME, WorkerSettings.from_env({}).runtime) == "faust"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_statefulset_runs_faust(overlay: str) -> None:
    (worker,) = [
        o
        for o in render(overlay)
        if o["kind"] == "StatefulSet" and o["metadata"]["name"] == "threadweaver-worker"
    ]
    (container,) = worker["spec"]["template"]["spec"]["containers"]
    # Set explicitly: what a pod runs shows in its manifest.
    assert [e.get("value") for e in container["env"] if e["name"] == RUNTIME] == ["faust"]


def test_the_bench_measures_and_plans_for_faust() -> None:
    config = BenchConfig.from_env({})
    # The end-to-end phase runs the first listed runtime.
    assert config.runtimes[0] == "faust"
    assert config.recovery_runtimes == ("faust",)
    assert capacity.RUNTIME == "faust"
