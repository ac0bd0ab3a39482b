"""Outbound clients share one TLS context, and it still verifies certificates."""

from __future__ import annotations

import asyncio
import http.server
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from defib.actions.environment import ActionEnvironment
from defib.config import Settings
from defib.evidence import EvidenceService
from defib.incidents.lifecycle import IncidentService
from defib.integrations.tls import verify_context
from defib.store.database import Database
from defib.systems.control import ControlService
from tests.support.actions.peers import self_signed_cert


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def https_url(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on loopback with a self-signed certificate (nobody's CA)."""
    cert, key = self_signed_cert(tmp_path)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}/", cert
    server.shutdown()
    server.server_close()


def test_action_clients_refuse_an_unknown_certificate(
    https_url: tuple[str, Path], tmp_path: Path
) -> None:
    """Sharing the context must not have turned verification off."""
    url, _ = https_url
    db = Database(f"sqlite:///{tmp_path / 'defib.db'}")
    settings = Settings(data_dir=tmp_path)
    env = ActionEnvironment(
        settings=settings,
        db=db,
        control=ControlService(db),
        evidence=EvidenceService.for_settings(db, settings),
        incidents=IncidentService(db),
    )

    async def get() -> None:
        async with env.http_client() as client:
            await client.get(url)

    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        asyncio.run(get())
    db.dispose()


def test_one_context_per_process_verifying_hostnames() -> None:
    """Built once (loading the CA bundle costs ~36 ms a client), with full verification."""
    ctx = verify_context()
    assert ctx is verify_context()
    assert ctx.verify_mode is ssl.CERT_REQUIRED
    assert ctx.check_hostname
