"""The one error type of the embedded stack: its message is meant for the person at the terminal."""

from __future__ import annotations


class StackError(RuntimeError):
    """A server did not start or answer, or the stack is not in the state asked for."""
