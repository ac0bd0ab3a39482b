"""`defib init` writes a configuration that loads; `defib catch`'s catcher describes what
it receives in one line."""

from __future__ import annotations

import subprocess
from pathlib import Path

from defib.config import load_settings
from defib.demo.catcher import describe
from defib.testing import defib_executable


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [defib_executable(), *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_init_writes_an_example_that_loads_and_never_overwrites(tmp_path: Path) -> None:
    out = _cli("init", "--catch-port", "9911", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    settings = load_settings(tmp_path / "defib.yaml")
    [system] = settings.systems
    assert [v.name for v in system.versions] == ["v1", "v2"]
    assert system.active_version == "v2" and system.probes
    assert system.owners.slack_webhook == "http://127.0.0.1:9911/slack"
    (tmp_path / "defib.yaml").write_text("# mine\n")
    again = _cli("init", cwd=tmp_path)
    assert again.returncode == 2
    assert again.stderr == "defib: error: defib.yaml exists; pass --force to overwrite it\n"
    assert (tmp_path / "defib.yaml").read_text() == "# mine\n"
    assert _cli("init", "--force", cwd=tmp_path).returncode == 0
    assert "support-bot" in (tmp_path / "defib.yaml").read_text()


def test_systems_list_without_systems_says_how_to_get_some(tmp_path: Path) -> None:
    out = _cli("systems", "list", cwd=tmp_path)
    assert out.returncode == 0
    assert "defib init" in out.stdout


def test_the_catcher_prints_slack_text_and_webhook_events_in_one_line() -> None:
    assert describe("/slack", {"text": "INC-1 SEV1\\nleak"}) == "[slack] INC-1 SEV1\\nleak"
    assert describe("/slack", {"text": "INC-1 SEV1\nleak"}) == "[slack] INC-1 SEV1 leak"
    event = {"event": "incident.created", "incident": {"id": "INC-3", "title": "Leak"}}
    assert describe("/webhook", event) == "[webhook] incident.created INC-3: Leak"
    assert describe("/", [1, 2]) == "[webhook] [1,2]"


def test_init_writes_a_private_client_key_and_the_readme_gateway_example_works(
    tmp_path: Path,
) -> None:
    """The README's gateway example, with `defib init`'s config and key, gets an answer;
    without the key the gateway refuses (401)."""
    import json
    import os
    import stat

    from openai import AuthenticationError, OpenAI

    from defib.gateway import demo_upstream
    from defib.testing import ServerProcess, free_port

    model = demo_upstream.start()
    try:
        out = _cli("init", "--model-port", str(model.port), cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        key_file = tmp_path / ".defib" / "gateway-client-key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert "gateway-client-key" in out.stdout and "api_key=open(" in out.stdout
        key = key_file.read_text().strip()
        assert key not in (tmp_path / "defib.yaml").read_text()  # only its SHA-256 is
        again = _cli("init", "--force", cwd=tmp_path)
        assert again.returncode == 0 and key_file.read_text().strip() == key  # kept
        _cli("init", "--force", "--model-port", str(model.port), cwd=tmp_path)
        gateway_port = free_port()
        server = ServerProcess(
            tmp_path,
            env={
                "DEFIB_CONFIG": str(tmp_path / "defib.yaml"),
                "DEFIB_GATEWAY": json.dumps({"port": gateway_port}),
                "DEFIB_HOME": os.fspath(tmp_path / ".defib"),
            },
        ).start(timeout=90)
        try:
            base = f"http://127.0.0.1:{gateway_port}/v1"
            client = OpenAI(base_url=base, api_key=open(key_file).read().strip())  # noqa: SIM115
            answer = client.chat.completions.create(
                model="any", messages=[{"role": "user", "content": "What are your opening hours?"}]
            )
            assert answer.choices[0].message.content
            anonymous = OpenAI(base_url=base, api_key="unused", max_retries=0)
            try:
                anonymous.chat.completions.create(
                    model="any", messages=[{"role": "user", "content": "hi"}]
                )
            except AuthenticationError:
                pass
            else:
                raise AssertionError("the gateway served a client without the key")
        finally:
            server.stop()
    finally:
        model.stop()
