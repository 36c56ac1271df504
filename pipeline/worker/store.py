"""The worker's local RocksDB store: a cache of fold(journal) per thread, per partition.

Each partition keeps, in the same atomic write batch as its thread states, the journal
offset up to which those states are folded. A crash can only lose a suffix of batches, so
the store is always a consistent prefix of the journal and catch-up resumes from the marker.
Anything unreadable (an older format, a torn file) is treated as missing: the
partition is rebuilt from the journal, never trusted and never fatal. States restored from
snapshots are kept as their snapshot records (already encoded, and checked when they were
decoded for the restore), so a value is either FORMAT and a pickled state, or an Avro
snapshot frame. A store written in
another format is emptied when opened, so every partition is rebuilt from the journal at its
first catch-up (an old state of a thread that catch-up does not touch would otherwise be met
in a batch, where it cannot be rebuilt).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from rocksdict import Options, Rdict, WriteBatch

from pipeline.codec import decode_snapshot
from pipeline.codec.wire import MAGIC
from pipeline.domain import Thread
from pipeline.worker import state_codec

# Bump when the stored layout (state_codec.py) changes: old entries then read as unreadable.
FORMAT = b"\x03"
_FORMAT_KEY = b"format"


class UnreadableStateError(Exception):
    """A stored state could not be read; the partition must be rebuilt from the journal."""


def _state_key(partition: int, thread_id: str) -> bytes:
    return b"s/%d/%s" % (partition, thread_id.encode())


def _marker_key(partition: int) -> bytes:
    return b"m/%d" % partition


def _encode(state: Thread) -> bytes:
    return FORMAT + state_codec.dumps(state)


def _decode(raw: bytes) -> Thread:
    try:
        if raw[:1] == FORMAT:
            return state_codec.loads(raw[1:])
        if raw[:2] == MAGIC:
            state = decode_snapshot(raw).state
            if isinstance(state, Thread):
                return state
    except Exception as exc:
        raise UnreadableStateError(f"{type(exc).__name__}: {exc}") from exc
    raise UnreadableStateError(f"unknown state format {raw[:2]!r}")


class ThreadStore:
    def __init__(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        options = Options(raw_mode=True)
        options.create_if_missing(True)
        self._db = Rdict(str(path), options)
        if self._db.get(_FORMAT_KEY) != FORMAT:
            # An older layout (or a store from before this key): start empty, fold the journal.
            self._db.delete_range(b"", b"\xff")
            self._db.put(_FORMAT_KEY, FORMAT)

    def get(self, partition: int, thread_id: str) -> Thread | None:
        raw = self._db.get(_state_key(partition, thread_id))
        return None if raw is None else _decode(bytes(raw))

    def journal_position(self, partition: int) -> int:
        raw = self._db.get(_marker_key(partition))
        return 0 if raw is None else int(raw)

    def commit(self, partition: int, states: Mapping[str, Thread], position: int) -> None:
        batch = WriteBatch(raw_mode=True)
        for thread_id, state in states.items():
            batch.put(_state_key(partition, thread_id), _encode(state))
        batch.put(_marker_key(partition), b"%d" % position)
        self._db.write(batch)

    def restore(self, partition: int, frames: Mapping[str, bytes], position: int) -> None:
        """Replace the partition's states with snapshot frames (codec.encode_snapshot) of
        states folded up to `position`."""
        self.reset_partition(partition)
        batch = WriteBatch(raw_mode=True)
        for thread_id, frame in frames.items():
            batch.put(_state_key(partition, thread_id), frame)
        batch.put(_marker_key(partition), b"%d" % position)
        self._db.write(batch)

    def reset_partition(self, partition: int) -> None:
        prefix = b"s/%d/" % partition
        # "0" follows "/" in ASCII, so [prefix, prefix[:-1] + b"0") covers exactly the prefix.
        self._db.delete_range(prefix, prefix[:-1] + b"0")
        self._db.delete(_marker_key(partition))

    def states(self, partition: int) -> Iterator[tuple[str, Thread]]:
        prefix = b"s/%d/" % partition
        for key, raw in self._db.items(from_key=prefix):
            assert isinstance(key, bytes)
            assert isinstance(raw, bytes)
            if not key.startswith(prefix):
                break
            yield key[len(prefix) :].decode(), _decode(raw)

    def close(self) -> None:
        self._db.close()
