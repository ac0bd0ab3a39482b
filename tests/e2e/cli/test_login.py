"""`defib login`, state found from any directory, DEFIB_HOME, and port clashes."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
from pathlib import Path

from defib.testing import defib_executable
from tests.support.cli import InProcessServer


def _cli(
    *args: str, cwd: Path, env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [defib_executable(), *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _plain_env(tmp_path: Path) -> dict[str, str]:
    """A user's shell: no DEFIB_URL/DEFIB_TOKEN, a login file of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEFIB_")}
    env["DEFIB_LOGIN_FILE"] = str(tmp_path / "config" / "login.json")
    return env


def test_after_login_every_command_works_from_any_directory(
    server: InProcessServer, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = _plain_env(tmp_path)
    token_file = server.workdir / ".defib" / "admin-token"

    before = _cli("incidents", "list", cwd=elsewhere, env=env)
    assert before.returncode == 2  # nothing to talk to yet: the default port is not the server's

    login = _cli(
        "login", "--url", server.url, "--token-file", str(token_file), cwd=elsewhere, env=env
    )
    assert login.returncode == 0, login.stderr
    assert "as admin (admin)" in login.stdout
    saved = Path(env["DEFIB_LOGIN_FILE"])
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert json.loads(saved.read_text())["url"] == server.url

    listed = _cli("incidents", "list", "--json", cwd=elsewhere, env=env)
    assert listed.returncode == 0, listed.stderr
    created = _cli(
        "tokens", "create", "--name", "pager", "--role", "viewer", "--json", cwd=elsewhere, env=env
    )
    assert created.returncode == 0, created.stderr
    # The token was made by the server it is logged into: no database appeared here.
    assert not (elsewhere / ".defib").exists()
    names = [
        t["name"]
        for t in json.loads(_cli("tokens", "list", "--json", cwd=elsewhere, env=env).stdout)
    ]
    assert names == ["admin", "pager"]

    out = _cli("logout", cwd=elsewhere, env=env)
    assert out.returncode == 0 and not saved.exists()
    assert _cli("incidents", "list", cwd=elsewhere, env=env).returncode == 2


def test_login_refuses_a_token_the_server_does_not_know(
    server: InProcessServer, tmp_path: Path
) -> None:
    env = _plain_env(tmp_path)
    out = _cli("login", "--url", server.url, "--token", "defib_made_up", cwd=tmp_path, env=env)
    assert out.returncode == 2
    assert out.stderr == f"defib: error: {server.url} refused the token (unknown or revoked)\n"
    assert not Path(env["DEFIB_LOGIN_FILE"]).exists()


def test_a_viewer_token_cannot_create_tokens(server: InProcessServer, tmp_path: Path) -> None:
    env = {**server.client_env(), "DEFIB_LOGIN_FILE": str(tmp_path / "login.json")}
    viewer = json.loads(
        _cli(
            "tokens",
            "create",
            "--name",
            "v",
            "--role",
            "viewer",
            "--json",
            cwd=server.workdir,
            env=env,
        ).stdout
    )["token"]
    out = _cli(
        "tokens",
        "create",
        "--name",
        "x",
        "--role",
        "admin",
        cwd=tmp_path,
        env={**env, "DEFIB_TOKEN": viewer},
    )
    assert out.returncode == 2
    assert "forbidden" in out.stderr and out.stderr.count("\n") == 1


def test_defib_home_names_the_data_directory(tmp_path: Path) -> None:
    home = tmp_path / "state"
    env = {**_plain_env(tmp_path), "DEFIB_HOME": str(home)}
    out = _cli(
        "tokens",
        "create",
        "--local",
        "--name",
        "a",
        "--role",
        "admin",
        cwd=tmp_path / "..",
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert (home / "defib.db").is_file()
    listed = _cli("tokens", "list", "--local", "--json", cwd=Path("/"), env=env)
    assert [t["name"] for t in json.loads(listed.stdout)] == ["a"]


def test_a_taken_port_is_one_line_and_creates_nothing(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        home = tmp_path / "home"
        out = _cli(
            "serve",
            "--port",
            str(port),
            cwd=tmp_path,
            env={**_plain_env(tmp_path), "DEFIB_HOME": str(home)},
        )
    assert out.returncode == 2
    assert out.stderr.startswith(f"defib: error: cannot listen on 127.0.0.1:{port}: ")
    assert out.stderr.count("\n") == 1
    assert not home.exists()


def test_the_client_follows_defib_port(server: InProcessServer, tmp_path: Path) -> None:
    env = {k: v for k, v in server.client_env().items() if k != "DEFIB_URL"}
    env["DEFIB_PORT"] = str(server.port)
    env["DEFIB_LOGIN_FILE"] = str(tmp_path / "login.json")
    out = _cli("incidents", "list", "--json", cwd=server.workdir, env=env)
    assert out.returncode == 0, out.stderr
