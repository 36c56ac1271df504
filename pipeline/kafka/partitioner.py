"""Java-compatible murmur2 partitioning (Kafka's DefaultPartitioner for keyed records).

Every producer of Threadweaver uses it (librdkafka's `murmur2_random`), so the worker can
check that a command sits in the partition its thread id maps to: a record in any other
partition would give its thread a second writer.
"""

from __future__ import annotations

from functools import lru_cache

_M = 0x5BD1E995
_SEED = 0x9747B28C
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2) as an unsigned 32-bit int."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    whole = length - (length % 4)
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = (h * _M) & _MASK
        h ^= k
    tail = length % 4
    if tail == 3:
        h ^= data[whole + 2] << 16
    if tail >= 2:
        h ^= data[whole + 1] << 8
    if tail >= 1:
        h ^= data[whole]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h


# Pure Python murmur2 costs ~10 us; the worker checks every command's partition and a
# thread's commands repeat its id, so recent answers are remembered.
@lru_cache(maxsize=65_536)
def partition_for(key: bytes | str, partitions: int) -> int:
    raw = key.encode() if isinstance(key, str) else key
    # Java: toPositive(murmur2(key)) % numPartitions, toPositive = value & 0x7fffffff.
    return (murmur2(raw) & 0x7FFFFFFF) % partitions
