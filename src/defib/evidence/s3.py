"""Evidence bytes in an S3-compatible bucket (AWS S3, MinIO, Ceph, moto), by SHA-256.

Every replica and worker reads the same bucket; content addressing makes a second PUT of
the same bytes harmless. Requests are signed with SigV4 (`sigv4.py`), path-style.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from defib.evidence.chain import content_hash
from defib.evidence.sigv4 import sign


class S3BlobStore:
    def __init__(
        self,
        endpoint_url: str,
        bucket: str,
        *,
        access_key: str,
        secret_key: str,
        region: str = "us-east-1",
        prefix: str = "",
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.endpoint = httpx.URL(endpoint_url)
        self.bucket = bucket
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self.prefix = prefix
        self._client = httpx.Client(timeout=timeout, transport=transport)

    def _path(self, sha256: str | None) -> str:
        base = (self.endpoint.path.rstrip("/") or "") + f"/{self.bucket}"
        if sha256 is None:
            return base
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256[:80]!r}")
        return f"{base}/{self.prefix}sha256/{sha256}"

    def _request(self, method: str, sha256: str | None, body: bytes = b"") -> httpx.Response:
        path = self._path(sha256)
        host = self.endpoint.netloc.decode()
        headers = sign(
            method=method,
            host=host,
            path=path,
            body=body,
            access_key=self.access_key,
            secret_key=self.secret_key,
            region=self.region,
            now=datetime.now(UTC),
        )
        url = self.endpoint.copy_with(path=path)
        return self._client.request(method, url, content=body, headers=headers)

    def create_bucket(self) -> None:
        """Make the bucket (tests and first set-ups; 409 when it exists is fine)."""
        response = self._request("PUT", None)
        if response.status_code not in (200, 409):
            raise OSError(f"S3 bucket {self.bucket}: {response.status_code}")

    def put(self, data: bytes) -> str:
        digest = content_hash(data)
        response = self._request("PUT", digest, data)
        if response.status_code >= 300:
            raise OSError(f"S3 PUT of an evidence blob: {response.status_code}")
        return digest

    def read(self, sha256: str) -> bytes | None:
        response = self._request("GET", sha256)
        if response.status_code == 404:
            return None
        if response.status_code >= 300:
            raise OSError(f"S3 GET of an evidence blob: {response.status_code}")
        return response.content

    def remove(self, sha256: str) -> None:
        response = self._request("DELETE", sha256)
        if response.status_code >= 300 and response.status_code != 404:
            raise OSError(f"S3 DELETE of an evidence blob: {response.status_code}")
