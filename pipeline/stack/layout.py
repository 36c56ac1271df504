"""Where the embedded stack keeps things under its data directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.settings import StackSettings

DATA_DIR_ENV = StackSettings.variable("data_dir")


def default_data_dir() -> Path:
    return StackSettings.from_env().data_dir


@dataclass(frozen=True, slots=True)
class Layout:
    root: Path

    @classmethod
    def of(cls, data_dir: Path | str) -> Layout:
        # Absolute, because the paths end up in stack.json and in other processes' arguments.
        return cls(Path(data_dir).expanduser().resolve())

    @property
    def state_file(self) -> Path:
        return self.root / "stack.json"

    @property
    def last_start_file(self) -> Path:
        """Ports and partition count of the last start, kept after `down` for the next `up`."""
        return self.root / "last-start.json"

    @property
    def lock_file(self) -> Path:
        return self.root / "stack.lock"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def postgres(self) -> Path:
        """Owned by the account PostgreSQL runs as; the cluster is in its `data` child."""
        return self.root / "postgres"

    @property
    def pgdata(self) -> Path:
        return self.postgres / "data"

    @property
    def kafka(self) -> Path:
        """The broker's configuration, formatted storage (its `data` child) and scratch."""
        return self.root / "kafka"

    @property
    def dynamodb(self) -> Path:
        """The DynamoDB-API server's on-disk store."""
        return self.root / "dynamodb"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"
