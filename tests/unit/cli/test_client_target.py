"""Client commands read where the server is without building the settings: the light reader
(`defib.config.target`) must agree with `load_settings` on every key it reads, word its
errors the same way, and keep pydantic-settings and httpx's own CLI out of the process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from defib.config import ConfigError, load_settings
from defib.config.target import read_target

KEYS = ("URL", "TOKEN", "HOST", "PORT", "DATA_DIR", "HOME", "CONFIG")

FILE = """\
url: http://file.example:7000
token: from-file
host: 10.0.0.5
port: "8123"
data_dir: ~/defib-data
"""

# (environment, whether --config names FILE): every precedence rule the settings have.
CASES = {
    "defaults": ({}, False),
    "the file": ({}, True),
    "the environment over the file": (
        {"DEFIB_URL": "http://env.example", "DEFIB_PORT": "9001", "DEFIB_HOST": "::"},
        True,
    ),
    "a variable named in lower case": ({"defib_token": "lower", "defib_port": "9100"}, False),
    "DEFIB_HOME over the file's data_dir": ({"DEFIB_HOME": "home-dir"}, True),
    "DEFIB_DATA_DIR over DEFIB_HOME": ({"DEFIB_HOME": "home", "DEFIB_DATA_DIR": "old"}, True),
    "a wildcard host": ({"DEFIB_HOST": "0.0.0.0"}, False),
    "DEFIB_CONFIG names the file": ({"DEFIB_CONFIG": "FILE"}, False),
    "an empty url": ({"DEFIB_URL": ""}, True),
}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for key in KEYS:
        monkeypatch.delenv(f"DEFIB_{key}", raising=False)
        monkeypatch.delenv(f"defib_{key.lower()}", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    path = tmp_path / "defib.yaml"
    path.write_text(FILE, encoding="utf-8")
    return path


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_light_reader_agrees_with_the_settings(
    case: str, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env, with_file = CASES[case]
    for name, value in env.items():
        monkeypatch.setenv(name, str(clean_env) if value == "FILE" else value)
    config = clean_env if with_file else None
    settings, target = load_settings(config), read_target(config)
    assert (target.url, target.token, target.host, target.port, target.data_dir) == (
        settings.url,
        settings.token,
        settings.host,
        settings.port,
        settings.data_dir,
    )
    assert target.local_url == settings.local_url
    assert target.admin_token_path == settings.admin_token_path


@pytest.mark.parametrize(
    "text",
    ["port: [1\n", "- a list\n", "just text\n"],
    ids=["bad YAML", "a list at the top", "a scalar at the top"],
)
def test_a_broken_file_is_worded_as_the_settings_word_it(text: str, clean_env: Path) -> None:
    clean_env.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as full:
        load_settings(clean_env)
    with pytest.raises(ConfigError) as light:
        read_target(clean_env)
    assert str(light.value) == str(full.value)


def test_a_missing_file_is_worded_as_the_settings_word_it(clean_env: Path) -> None:
    missing = clean_env.with_name("nope.yaml")
    with pytest.raises(ConfigError) as full:
        load_settings(missing)
    with pytest.raises(ConfigError) as light:
        read_target(missing)
    assert str(light.value) == str(full.value)


@pytest.mark.parametrize("port", ["http", "0", "70000"])
def test_a_bad_port_is_refused_naming_the_key(
    port: str, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEFIB_PORT", port)
    with pytest.raises(ConfigError, match="invalid configuration: port: "):
        load_settings(None)
    with pytest.raises(ConfigError, match="invalid configuration: port: "):
        read_target(None)


def test_a_client_command_loads_neither_the_settings_nor_httpx_own_cli() -> None:
    """What made `defib incidents list` take a second: pydantic-settings with every section
    (about 260 ms) and httpx's command line (Rich's syntax highlighting, pygments: 150 ms)."""
    heavy = ("pydantic_settings", "defib.config.settings", "httpx._main", "pygments")
    code = (
        "import sys\n"
        "from defib.cli.client import api_client\n"
        "api_client(None).close()\n"
        "import httpx\n"
        f"print([m for m in {heavy!r} if m in sys.modules], 'httpx._main' in sys.modules)\n"
    )
    env = {**os.environ, "DEFIB_URL": "http://127.0.0.1:9"}
    env.pop("DEFIB_CONFIG", None)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.split() == ["[]", "False"], out.stdout + out.stderr
    # httpx itself still works, and its CLI module can still be imported by whoever wants it.
    check = "from defib.cli.client import import_httpx; import_httpx(); import httpx._main"
    subprocess.run([sys.executable, "-c", check], env=env, check=True)
