"""The system's components as child processes: one runner for `threadweaver run`, the tests,
the chaos suite and the bench (`Component`, `Launcher`, `System`)."""

from pipeline.system.component import (
    Component,
    ComponentError,
    Probe,
    http_ok,
    threadweaver_command,
)
from pipeline.system.system import Launcher, System

__all__ = [
    "Component",
    "ComponentError",
    "Launcher",
    "Probe",
    "System",
    "http_ok",
    "threadweaver_command",
]
