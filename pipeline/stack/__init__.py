"""The embedded local stack: Apache Kafka (Maven jars), PostgreSQL (a PyPI wheel) and dynalite
(npm), real servers on loopback, no containers.

`up`/`down` manage the servers of one data directory (see `pipeline.stack.stack`); importing
this package starts nothing and connects nowhere.
"""

from __future__ import annotations

from pipeline.stack.errors import StackError
from pipeline.stack.layout import default_data_dir
from pipeline.stack.stack import (
    DownResult,
    Endpoints,
    StackState,
    UpResult,
    describe,
    down,
    env_of,
    export_lines,
    read_state,
    running_state,
    up,
)

__all__ = [
    "DownResult",
    "Endpoints",
    "StackError",
    "StackState",
    "UpResult",
    "default_data_dir",
    "describe",
    "down",
    "env_of",
    "export_lines",
    "read_state",
    "running_state",
    "up",
]
