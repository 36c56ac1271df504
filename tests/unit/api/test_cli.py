"""`threadweaver api`: registered, and its listening socket gets TCP_NODELAY connections."""

from __future__ import annotations

import socket

import pytest

from pipeline.cli.api import _listening_socket
from pipeline.cli.main import build_parser

pytestmark = pytest.mark.unit


def test_the_command_is_registered() -> None:
    args = build_parser().parse_args(["api", "--port", "9001", "--workers", "3"])
    assert (args.port, args.workers, args.host) == (9001, 3, None)


def test_accepted_connections_of_the_shared_socket_are_tcp() -> None:
    # asyncio enables TCP_NODELAY only on sockets whose proto is IPPROTO_TCP; accepted
    # sockets inherit it from the listener.
    listener = _listening_socket("127.0.0.1", 0)
    try:
        assert listener.proto == socket.IPPROTO_TCP
        listener.listen()
        with socket.create_connection(listener.getsockname()):
            accepted, _ = listener.accept()
            with accepted:
                assert accepted.proto == socket.IPPROTO_TCP
    finally:
        listener.close()
