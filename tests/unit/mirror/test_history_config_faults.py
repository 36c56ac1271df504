"""The read side's paging and JSON, the settings, and the test fault specification."""

from __future__ import annotations

import pytest

from pipeline.codec import encode_event
from pipeline.mirror.history import entry_json, history
from pipeline.mirror.items import to_item
from pipeline.settings import Settings, WriteMethod
from tests.support.builders import THREAD, ulid
from tests.support.mirror_faults import FaultSpec, parse_faults
from tests.unit.mirror.support import FakeDynamoDB, event

pytestmark = pytest.mark.unit


def test_history_pages_through_a_thread_from_a_seq_nr() -> None:
    fake = FakeDynamoDB()
    for thread in (THREAD, ulid(20_002)):
        for seq in range(1, 8):
            e = event(thread, seq)
            fake.items[(thread, seq)] = to_item(e, encode_event(e), 1, 100 + seq)
    entries = list(history(fake, fake.table, THREAD, 3, page_size=2))
    assert [e.event.seq_nr for e in entries] == [3, 4, 5, 6, 7]
    assert all(e.event.thread_id == THREAD for e in entries)
    assert fake.calls.count("Query") == 3
    as_json = entry_json(entries[0])
    assert as_json["event_type"] == "MessagesAdded"
    assert as_json["occurred_at"] == "2026-11-22T12:00:03.000Z"
    assert as_json["journal_offset"] == 103
    assert as_json["body"]["messages"][0]["text"] == "hello"


def test_settings_defaults_and_overrides() -> None:
    defaults = Settings.from_env({})
    assert defaults.mirror.metrics_port == 9465
    assert defaults.mirror.write_method is WriteMethod.BATCH
    assert defaults.dynamodb_table == "threadweaver-journal"
    custom = Settings.from_env(
        {
            "THREADWEAVER_MIRROR_METRICS_PORT": "0",
            "THREADWEAVER_MIRROR_WRITE_METHOD": "conditional",
            "THREADWEAVER_MIRROR_BATCH_MAX": "10",
            "THREADWEAVER_KAFKA_SESSION_TIMEOUT_S": "6",
            "THREADWEAVER_DYNAMODB_ENDPOINT": "http://127.0.0.1:1",
        }
    )
    mirror = custom.mirror
    assert (mirror.metrics_port, mirror.batch_max, custom.kafka_tuning.session_timeout_s) == (
        0,
        10,
        6.0,
    )
    assert mirror.write_method is WriteMethod.CONDITIONAL
    assert custom.dynamodb_endpoint == "http://127.0.0.1:1"


@pytest.mark.parametrize(
    ("name", "value"),
    [("WRITE_METHOD", "transactions"), ("BATCH_MAX", "many"), ("MAX_ATTEMPTS", "-1")],
)
def test_bad_settings_are_named(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=f"THREADWEAVER_MIRROR_{name}"):
        Settings.from_env({f"THREADWEAVER_MIRROR_{name}": value})


def test_fault_spec() -> None:
    assert parse_faults(
        "throttle=3, unprocessed=2,unprocessed_keys=1,reject=ABC,delay=0.5"
    ) == FaultSpec(3, 2, 1, "ABC", 0.5)
    assert parse_faults("") == FaultSpec()
    with pytest.raises(ValueError, match="unknown"):
        parse_faults("explode=1")
