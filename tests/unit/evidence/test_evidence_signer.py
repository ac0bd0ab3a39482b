"""A KMS-style signing service on loopback holds the checkpoint key: no defib host (and no
database) ever has the private half (issue 25)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from defib.bootstrap import Runtime
from defib.evidence import ItemDraft
from defib.evidence.anchor import AnchorError
from defib.evidence.signer import key_id
from defib.model import IncidentType
from defib.store.tables import evidence_keys
from defib.testing import serve_http, stop_http
from tests.support.engine import declare

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TOKEN = "signing-service-token"


@dataclass
class SigningService:
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    signed: int = 0
    lie: bool = False  # answer with a signature of something else

    @property
    def public(self) -> bytes:
        return self.key.public_key().public_bytes_raw()


@pytest.fixture
def signing_service() -> Iterator[tuple[SigningService, str]]:
    service = SigningService()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, doc: dict[str, str]) -> None:
            body = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _authorised(self) -> bool:
            if self.headers.get("Authorization") == f"Bearer {TOKEN}":
                return True
            self._answer(401, {"error": "who are you"})
            return False

        def do_GET(self) -> None:
            if self._authorised():
                self._answer(200, {"public_key": base64.b64encode(service.public).decode()})

        def do_POST(self) -> None:
            if not self._authorised():
                return
            doc = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            message = base64.b64decode(doc["message"])
            signature = service.key.sign(b"other" if service.lie else message)
            service.signed += 1
            self._answer(200, {"signature": base64.b64encode(signature).decode()})

        def log_message(self, *_: object) -> None:
            pass

    server = serve_http(Handler)
    yield service, f"http://127.0.0.1:{server.server_address[1]}/"
    stop_http(server)


def test_checkpoints_are_signed_by_the_service_and_no_key_is_on_the_host(
    make_runtime: Callable[..., Runtime],
    signing_service: tuple[SigningService, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service, url = signing_service
    monkeypatch.setenv("TEST_SIGNER_TOKEN", TOKEN)
    rt = make_runtime(evidence_anchor={"signer_url": url, "signer_token_env": "TEST_SIGNER_TOKEN"})
    seq = int(declare(rt, IncidentType.DATA_LEAK).split("-")[1])
    rt.evidence.add(seq, [ItemDraft.json("record", "r.json", {"r": 1})], "run:r1")
    assert service.signed == 1
    assert not (rt.settings.data_dir / "evidence-anchor.key").exists()
    with rt.db.read() as conn:
        registered = conn.execute(select(evidence_keys.c.key_id)).scalars().all()
    assert registered == [key_id(service.public)]
    assert rt.evidence.verify(seq).ok
    service.lie = True
    with pytest.raises(AnchorError, match="does not verify"):
        rt.evidence.add(seq, [ItemDraft.json("record", "s.json", {"s": 1})], "run:r1")
