"""Where the CLI finds the server and token: flags and environment, then `defib login`'s
file, then the local data directory's admin token (the embedded default).

The login file lives in the user's config directory (platformdirs: `~/.config/defib/` on
Linux, `DEFIB_LOGIN_FILE` to move it) with mode 0600, like `gh` or `kubectl` keep theirs, so
every command works from any directory once logged in.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from defib.cli.output import fail


@dataclass(frozen=True)
class Login:
    url: str
    token: str


def login_path() -> Path:
    explicit = os.environ.get("DEFIB_LOGIN_FILE")
    if explicit:
        return Path(explicit)
    from platformdirs import user_config_path

    return user_config_path("defib") / "login.json"


def read_login() -> Login | None:
    path = login_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        fail(f"cannot read the login file {path}: {exc} (run `defib logout` and log in again)")
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), str) and data.get(k) for k in ("url", "token")
    ):
        fail(f"the login file {path} is damaged (run `defib logout` and log in again)")
    return Login(url=data["url"], token=data["token"])


def write_login(login: Login) -> Path:
    path = login_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Created 0600 before the secret is written, never world-readable even for an instant.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"url": login.url, "token": login.token}, f)
        f.write("\n")
    os.chmod(path, 0o600)
    return path


def forget_login() -> Path | None:
    path = login_path()
    try:
        path.unlink()
    except FileNotFoundError:
        return None
    return path


def explicit_url() -> str | None:
    """The server named by the environment (`DEFIB_URL`), if any."""
    return os.environ.get("DEFIB_URL") or None
