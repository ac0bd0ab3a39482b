"""`DEFIB_URL` at the gateway's port, end to end: `defib incidents list` against a real
gateway (in this process, on loopback) says that port is defib's gateway and names the API
port, instead of "Unknown route. (None, HTTP 404)"."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import run_cli
from tests.support.gateway import GatewayFactory, sqlite_only, start_gateway  # noqa: F401


@sqlite_only
def test_the_gateway_port_is_named_as_such_and_the_api_port_is_given(
    start_gateway: GatewayFactory,  # noqa: F811
    tmp_path: Path,
) -> None:
    gateway = start_gateway([])
    env = {"DEFIB_URL": gateway.url, "DEFIB_TOKEN": "any", "DEFIB_CONFIG": None}
    out = run_cli("incidents", "list", cwd=tmp_path, env=env)
    assert out.returncode == 2, out.stdout + out.stderr
    said = out.stderr.strip()
    host_port = gateway.url.removeprefix("http://")
    assert said.startswith(f"defib: error: http://{host_port} is defib's gateway"), said
    assert "not its API" in said and "the API on 8000, the gateway on 8001" in said
    assert "Unknown route" not in said and "HTTP 404" not in said
