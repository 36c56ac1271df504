"""One grep of a command id follows it through the JSON logs of the API, the worker and the
projector (THREADWEAVER_LOG_LEVEL=DEBUG, THREADWEAVER_LOG_FORMAT=json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline.client.commands import new_id
from pipeline.settings import Settings
from tests.support.api import api_processes
from tests.support.auth import bearer
from tests.support.projector import create_read_model, drop_read_model

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

WAIT_S = 30.0


def json_lines(path: Path) -> list[dict[str, Any]]:
    """The log's JSON records; the runner's `=== start` lines and librdkafka's own lines
    (which bypass Python's logging) are not JSON and are left out."""
    records = []
    for line in path.read_text().splitlines():
        if line.startswith("{"):
            records.append(json.loads(line))
    return records


def test_a_command_is_followed_by_its_id_across_the_components(
    stack: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings: Settings = stack.settings()
    monkeypatch.setenv("THREADWEAVER_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("THREADWEAVER_LOG_FORMAT", "json")
    model = create_read_model(settings, "follow")
    account = new_id()
    try:
        with api_processes(settings, model, tmp_path) as (base_url, processes):
            with httpx.Client(base_url=base_url, timeout=WAIT_S + 30) as http:
                created = http.post(
                    "/v1/threads/create",
                    json={
                        "account_id": account,
                        "title": "Followed",
                        "administrator_ids": [],
                        "member_ids": [],
                    },
                    headers=bearer(account),
                )
                assert created.status_code == 200, created.text
                answer = created.json()
                seen = http.get(
                    f"/v1/threads/{answer['thread_id']}",
                    params={"account_id": account, "min_version": 1},
                    headers=bearer(account),
                )
                assert seen.status_code == 200, seen.text
            logs = {c.name: c.log_path for c in processes}
    finally:
        drop_read_model(model, settings.pg_dsn or "")
    command_id, thread_id = answer["command_id"], answer["thread_id"]
    followed = {
        name: [r for r in json_lines(path) if r.get("command_id") == command_id]
        for name, path in logs.items()
    }
    assert set(followed) == {"api", "worker", "projector"}
    for name, records in followed.items():
        assert records, f"{name} logged nothing with command_id {command_id}"
        assert all(r["thread_id"] == thread_id for r in records), records
    (worker,) = followed["worker"]
    assert worker["message"] == "command CreateThread: accepted at version 1"
    (projected,) = followed["projector"]
    assert (projected["seq_nr"], projected["message"]) == (
        1,
        "event ThreadCreated seq_nr 1: applied",
    )
