"""`defib init`: write an example defib.yaml to start from (never over an existing file)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from defib.cli.catch import CATCH_PORT, MODEL_PORT
from defib.cli.output import console, fail

KEY_FILE = "gateway-client-key"


def example_config(
    catch_port: int = CATCH_PORT, model_port: int = MODEL_PORT, client_key: str = ""
) -> str:
    """The example, with the catcher's and model's ports and the SHA-256 of `client_key`
    (the gateway's client key for support-bot; empty: a digest no key has)."""
    import hashlib
    from importlib.resources import files

    text = files("defib.examples").joinpath("defib.yaml").read_text(encoding="utf-8")
    digest = hashlib.sha256(client_key.encode()).hexdigest() if client_key else "0" * 64
    return (
        text.replace("__CATCH_PORT__", str(catch_port))
        .replace("__MODEL_PORT__", str(model_port))
        .replace("__CLIENT_KEY_SHA256__", digest)
    )


def client_key(data_dir: Path) -> tuple[Path, str]:
    """The gateway client key in `data_dir` (made once, mode 0600, kept on a re-init so
    clients already using it keep working)."""
    import os
    import secrets

    path = data_dir / KEY_FILE
    if path.is_file():
        key = path.read_text(encoding="utf-8").strip()
        if key:
            return path, key
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = "dfk_" + secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(key + "\n")
    return path, key


def init(
    path: Annotated[Path, typer.Argument(help="Where to write it.")] = Path("defib.yaml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    catch_port: Annotated[
        int, typer.Option(min=1, max=65535, help="Port of `defib catch`'s catcher.")
    ] = CATCH_PORT,
    model_port: Annotated[
        int, typer.Option(min=1, max=65535, help="Port of `defib catch`'s demo model.")
    ] = MODEL_PORT,
) -> None:
    """Write an example defib.yaml: one system behind the gateway, two versions, probes,
    and notifications to the local catcher that `defib catch` runs."""
    if path.exists() and not force:
        fail(f"{path} exists; pass --force to overwrite it")
    from defib.config import load_settings

    # The data directory the server will use (DEFIB_HOME or ./.defib), so the key file
    # sits next to the admin token, out of the working tree's tracked files.
    data_dir = load_settings(None).data_dir
    try:
        key_path, key = client_key(data_dir)
        path.write_text(example_config(catch_port, model_port, key), encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {exc.filename or path}: {exc.strerror or exc}")
    load_settings(path)  # what we ship must load; a ConfigError here is our bug, said loudly
    console.print(
        f"wrote {path}: support-bot behind the gateway, v1 good / v2 leaky, probes (each"
        " verifies only the incident types its `types` names)."
    )
    console.print(
        f"wrote {key_path} (mode 0600): the client key the gateway asks of support-bot's"
        " clients. Use it as the API key of any OpenAI client, e.g.\n"
        f"  OpenAI(base_url='http://127.0.0.1:8001/v1', api_key=open('{key_path}').read().strip())",
        markup=False,
    )
    console.print(
        "Next: `defib catch` in one terminal, `defib serve --config "
        f"{path}` (or `make run`) in another; the README's tour goes on from there.",
        markup=False,
    )
