"""The socket `defib serve` listens on: connections answer without waiting on Nagle."""

from __future__ import annotations

import socket

from defib.cli.serve import bind


def test_accepted_connections_have_tcp_nodelay() -> None:
    """An answer's body must not wait for the client's delayed ACK of its headers (~40 ms)."""
    listener = bind("127.0.0.1", 0)
    try:
        listener.listen()
        client = socket.create_connection(listener.getsockname()[:2])
        accepted, _ = listener.accept()
        try:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        finally:
            accepted.close()
            client.close()
    finally:
        listener.close()
