"""/readyz, which anyone may call, names no absolute path of the host (issue 25)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from defib.api import create_app
from defib.api.routes.health import public
from defib.bootstrap import Runtime
from defib.config import load_settings


def test_readyz_warnings_name_no_absolute_path(database_url: str, tmp_path: Path) -> None:
    """A loose data directory is warned about by name, not by where it is."""
    data = tmp_path / "data"
    Runtime(load_settings(None, data_dir=data, database_url=database_url)).close()
    data.chmod(0o755)
    rt = Runtime(load_settings(None, data_dir=data, database_url=database_url))
    try:
        with TestClient(create_app(rt)) as client:
            answer = client.get("/readyz")
        warned = " ".join(answer.json()["warnings"])
        assert "the data directory …/data is mode 0755" in warned
        assert str(tmp_path) not in answer.text
    finally:
        rt.close()


def test_public_keeps_urls_and_names() -> None:
    """Only paths are shortened; URLs, ratios and names stay."""
    assert public("log /var/lib/defib/evidence-checkpoints.jsonl failed") == (
        "log …/evidence-checkpoints.jsonl failed"
    )
    assert public("mirror https://audit.example/in failed, 3/4 sent") == (
        "mirror https://audit.example/in failed, 3/4 sent"
    )
