from __future__ import annotations

import pytest

from pipeline.kafka.partitioner import murmur2, partition_for

pytestmark = pytest.mark.unit


# Vectors from Kafka's own UtilsTest.testMurmur2 (Java signed ints, here unsigned).
@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"21", -973932308),
        (b"foobar", -790332482),
        (b"a-little-bit-long-string", -985981536),
        (b"a-little-bit-longer-string", -1486304829),
        (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
        (b"abc", 479470107),
    ],
)
def test_murmur2_matches_java(data: bytes, expected: int) -> None:
    assert murmur2(data) == expected & 0xFFFFFFFF


def test_partition_for_is_stable_and_in_range() -> None:
    keys = [f"key-{i}" for i in range(200)]
    parts = [partition_for(k, 4) for k in keys]
    assert all(0 <= p < 4 for p in parts)
    assert len(set(parts)) == 4
    assert parts == [partition_for(k.encode(), 4) for k in keys]
