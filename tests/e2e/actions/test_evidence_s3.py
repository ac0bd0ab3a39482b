"""Evidence bytes in an S3-compatible bucket, against moto's S3 server on loopback (a real
HTTP server speaking S3, SigV4 included; none ships in Debian)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from defib.bootstrap import Runtime
from defib.evidence import ItemDraft
from defib.evidence.s3 import S3BlobStore
from defib.model import Command, IncidentType
from defib.testing import free_port
from tests.support.actions.blobs import overwrite_blob
from tests.support.engine import declare

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    moto = Path(sys.executable).with_name("moto_server")
    if not moto.exists():
        pytest.skip("moto[server] is not installed (the dev extra)")
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    proc = subprocess.Popen(
        [str(moto), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{url}/moto-api/", timeout=1.0)
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def _store(url: str, bucket: str, secret: str = "test") -> S3BlobStore:
    return S3BlobStore(url, bucket, access_key="test", secret_key=secret)


def test_a_blob_round_trips_and_is_content_addressed(s3_server: str) -> None:
    store = _store(s3_server, "roundtrip")
    store.create_bucket()
    digest = store.put(b"evidence bytes")
    assert store.put(b"evidence bytes") == digest
    assert store.read(digest) == b"evidence bytes"
    store.remove(digest)
    assert store.read(digest) is None


def test_evidence_in_the_bucket_verifies_and_a_changed_object_is_reported(
    s3_server: str, make_runtime: Callable[..., Runtime], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second machine (its own data directory) reads the same bucket; bytes replaced in
    the bucket fail verify; a purge deletes the objects."""
    monkeypatch.setenv("TEST_S3_KEY", "test")
    monkeypatch.setenv("TEST_S3_SECRET", "test")
    rt = make_runtime(
        evidence_anchor={
            "blob_store": "s3",
            "store": "database",
            "s3": {
                "endpoint_url": s3_server,
                "bucket": "evidence",
                "access_key_env": "TEST_S3_KEY",
                "secret_key_env": "TEST_S3_SECRET",
            },
        }
    )
    _store(s3_server, "evidence").create_bucket()
    seq = int(declare(rt, IncidentType.DATA_LEAK).split("-")[1])
    rt.evidence.add(seq, [ItemDraft.json("record", "r.json", {"r": 1})], "run:r1")
    assert not list((rt.settings.data_dir / "evidence").glob("sha256/*/*"))
    assert rt.evidence.verify(seq).ok
    digest = rt.evidence.list(seq)[0]["sha256"]
    other = _store(s3_server, "evidence")
    assert other.read(digest) is not None
    overwrite_blob(rt.evidence, digest, b'{"r": "forged"}')
    first = rt.evidence.verify(seq).first_broken
    assert first is not None and "SHA-256 mismatch" in first.reason
    rt.incidents.apply(f"INC-{seq}", Command.RESOLVE, "tester")
    rt.incidents.apply(f"INC-{seq}", Command.CLOSE, "tester")
    assert rt.evidence.purge(seq) == 1
    assert other.read(digest) is None


def test_the_sigv4_signature_matches_botocores() -> None:
    """moto does not check signatures by default, so the signer is checked against AWS's own
    SDK signer (botocore, installed with moto) on the same request and instant."""
    import hashlib

    auth_mod = pytest.importorskip("botocore.auth")
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from defib.evidence.sigv4 import sign

    body = b"evidence bytes"
    url = "http://127.0.0.1:9000/bucket/defib/sha256/" + "ab" * 32
    request = AWSRequest(method="PUT", url=url, data=body)
    request.headers["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
    auth_mod.S3SigV4Auth(Credentials("AKID", "SECRET/KEY"), "s3", "eu-west-1").add_auth(request)
    at = datetime.strptime(request.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    ours = sign(
        method="PUT",
        host="127.0.0.1:9000",
        path=httpx.URL(url).path,
        body=body,
        access_key="AKID",
        secret_key="SECRET/KEY",
        region="eu-west-1",
        now=at,
    )
    assert ours["Authorization"] == request.headers["Authorization"]
