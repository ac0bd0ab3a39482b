"""One TLS verification context for every outbound HTTP client of the process.

`httpx.AsyncClient()` builds a fresh `SSLContext` and loads the whole CA bundle into it:
about 36 ms of CPU on this kind of machine. Playbook steps open a client each (notify,
contain, roll back, verify), so a storm of new incidents spent most of the worker's time
loading certificates (issue 15). A context is safe to share between clients and threads
once built; it is built on first use and honours SSL_CERT_FILE / SSL_CERT_DIR as httpx does
(read then, not per request).
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def verify_context() -> ssl.SSLContext:
    """The process's certificate-verifying context (system CAs, hostname checked)."""
    return httpx.create_ssl_context()
