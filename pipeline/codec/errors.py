"""The one error the codec raises, so callers (the DLQ path above all) need catch nothing else."""

from __future__ import annotations

from typing import Final

# Kafka headers and logs carry the reason; a runaway library message must not bloat them.
_MAX_REASON_CHARS: Final = 300


class CodecError(Exception):
    """Bytes that are not a valid frame, or a value the wire contract cannot hold.

    `reason` starts with one of: "not single-object encoding", "unknown fingerprint <hex>",
    "corrupt body: ...", "invalid value: ...".
    """

    def __init__(self, reason: str) -> None:
        if len(reason) > _MAX_REASON_CHARS:
            reason = reason[: _MAX_REASON_CHARS - 3] + "..."
        super().__init__(reason)
        self.reason = reason


def describe(exc: BaseException) -> str:
    """A short, single-line account of a library exception for a CodecError reason."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
