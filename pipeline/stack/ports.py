"""Free loopback ports for the embedded servers."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterable

LOOPBACK = "127.0.0.1"


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    # SO_REUSEADDR mirrors what the servers do, so a port in TIME_WAIT after a restart counts
    # as free: that lets a restarted stack keep the addresses clients already have.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = LOOPBACK, exclude: Iterable[int] = ()) -> int:
    """A port the kernel just handed out; racy by nature, so callers bind it soon after."""
    excluded = set(exclude)
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        if port not in excluded:
            return port
    raise RuntimeError(f"could not find a free port on {host}")


def pick_ports(
    names: Iterable[str], preferred: dict[str, int] | None = None, taken: Iterable[int] = ()
) -> dict[str, int]:
    """One distinct free port per name, reusing a preferred (previous) port while it is free;
    never one of `taken` (ports of servers that keep running)."""
    chosen: dict[str, int] = {}
    excluded = set(taken)
    for name in names:
        wanted = (preferred or {}).get(name)
        if wanted is not None and wanted not in excluded and port_is_free(wanted):
            chosen[name] = wanted
        else:
            chosen[name] = free_port(exclude=excluded)
        excluded.add(chosen[name])
    return chosen


def accepts_connections(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False
