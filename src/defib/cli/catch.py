"""`defib catch`: the example configuration's other half, on this machine: a notification
catcher that prints what defib sends, and the demo model (v1 good, v2 leaks)."""

from __future__ import annotations

from typing import Annotated

import typer

from defib.cli.output import console, fail

CATCH_PORT = 9100
MODEL_PORT = 9200


def catch(
    port: Annotated[int, typer.Option(min=1, max=65535, help="The catcher's port.")] = CATCH_PORT,
    model_port: Annotated[
        int, typer.Option(min=0, max=65535, help="The demo model's port (0: don't run it).")
    ] = MODEL_PORT,
) -> None:
    """Print every notification defib sends here; serve the example's demo model."""
    import threading

    from defib.demo.catcher import create_app
    from defib.gateway import demo_upstream

    model = None
    if model_port:
        try:
            model = demo_upstream.start(port=model_port)
        except RuntimeError as exc:
            fail(f"cannot serve the demo model on port {model_port}: {exc}")
        console.print(
            f"demo model on http://127.0.0.1:{model_port}/v1 (demo-v1 good, demo-v2 leaks)"
        )
    from defib.cli.serve import bind, run_server

    listener = bind("127.0.0.1", port)
    console.print(f"catching notifications on http://127.0.0.1:{port}/ (Ctrl-C to stop)")
    try:
        run_server(create_app(), listener, "warning")
    finally:
        listener.close()
        if model is not None:
            threading.Thread(target=model.stop, daemon=True).start()
