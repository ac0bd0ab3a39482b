"""The OpenAPI document generates a complete Python client with `openapi-python-client`:
every operation, no schema dropped, and the client works against a real `defib serve`.

openapi-python-client pins typer<0.28 and httpx<0.29, which defib's own environment cannot
hold, so it runs from its own virtualenv: `bench/.venv-openapi` (made on first use from
the package index, pinned), or any `openapi-python-client` on PATH. Without either the
test skips, unless DEFIB_TEST_REQUIRE_OPENAPI_CLIENT=1.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import pytest

from defib.api import create_app
from defib.bootstrap import Runtime
from defib.config import load_settings
from defib.testing import ServerProcess

pytestmark = pytest.mark.slow

GENERATOR = "openapi-python-client==0.29.1"
VENV = Path(__file__).resolve().parents[3] / "bench" / ".venv-openapi"
PACKAGE = "defib_client"


def _generator() -> Path | None:
    on_path = shutil.which("openapi-python-client")
    if on_path:
        return Path(on_path)
    exe = VENV / "bin" / "openapi-python-client"
    if not exe.exists():
        venv.create(VENV, with_pip=True, clear=True)
        done = subprocess.run(
            [str(VENV / "bin" / "pip"), "install", "-q", GENERATOR],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            return None
    return exe


@pytest.fixture(scope="module")
def generated(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, str, dict[str, Any]]:
    exe = _generator()
    if exe is None:
        if os.environ.get("DEFIB_TEST_REQUIRE_OPENAPI_CLIENT") == "1":
            pytest.fail(f"{GENERATOR} could not be installed")
        pytest.skip(f"{GENERATOR} is not installed and could not be (offline?)")
    workdir = tmp_path_factory.mktemp("openapi")
    runtime = Runtime(load_settings(None, data_dir=workdir / "data"))
    try:
        spec = create_app(runtime).openapi()
    finally:
        runtime.close()
    (workdir / "openapi.json").write_text(json.dumps(spec))
    out = subprocess.run(
        [
            str(exe),
            "generate",
            "--path",
            str(workdir / "openapi.json"),
            "--output-path",
            str(workdir / PACKAGE),
            "--meta",
            "none",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return workdir, out.stdout + out.stderr, spec


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def test_every_operation_and_schema_is_generated(
    generated: tuple[Path, str, dict[str, Any]],
) -> None:
    workdir, log, spec = generated
    assert "Endpoint will not be generated" not in log, log
    assert "Unable to process schema" not in log, log
    assert "response will be omitted" not in log, log
    modules = {f.stem for f in (workdir / PACKAGE / "api").rglob("*.py")}
    operations = [
        op["operationId"]
        for path in spec["paths"].values()
        for method, op in path.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]
    assert len(operations) == len(set(operations))
    assert [o for o in operations if _snake(o) not in modules] == []
    # Schema names are unique: FastAPI would otherwise qualify them with their module path.
    assert not [n for n in spec["components"]["schemas"] if "__" in n]


def test_the_generated_client_declares_lists_and_reads_an_incident(
    generated: tuple[Path, str, dict[str, Any]], tmp_path: Path
) -> None:
    workdir, _, _ = generated
    server = ServerProcess(tmp_path, args=("--no-worker", "--no-gateway")).start(timeout=90)
    sys.path.insert(0, str(workdir))
    try:
        token = (tmp_path / ".defib" / "admin-token").read_text().strip()
        client_mod = importlib.import_module(f"{PACKAGE}.client")
        declare = importlib.import_module(f"{PACKAGE}.api.incidents.declare_incident")
        listing = importlib.import_module(f"{PACKAGE}.api.incidents.list_incidents")
        models = importlib.import_module(f"{PACKAGE}.models")
        client = client_mod.AuthenticatedClient(base_url=server.url, token=token)
        body = models.DeclareIn(
            type_=models.IncidentType("toxicity"),
            severity=models.Severity("SEV2"),
            title="Rude replies from chat-api",
            affected_systems=["chat-api"],
        )
        made = declare.sync(client=client, body=body)
        assert isinstance(made, models.IncidentOut), made
        assert made.id == "INC-1" and made.affected_systems == ["chat-api"]
        page = listing.sync(client=client, severity=[models.Severity("SEV2")])
        assert isinstance(page, models.IncidentPage), page
        assert [i.title for i in page.items] == ["Rude replies from chat-api"]
        refused = listing.sync_detailed(
            client=client_mod.AuthenticatedClient(base_url=server.url, token="wrong")
        )
        assert refused.status_code == 401
    finally:
        sys.path.remove(str(workdir))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]
        server.stop()
