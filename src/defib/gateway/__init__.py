"""defib's gateway: an OpenAI-compatible proxy in front of each system's model versions.

Kill switch, output filters, version routing, sampled capture and inline detection, all
driven by the system state the control plane writes to the database (see docs/gateway.md).

The app's names are resolved on first use (PEP 562) so that importing a light submodule,
e.g. `python -m defib.gateway.demo_upstream`, does not load the whole engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from defib.gateway.app import build_gateway, create_gateway_app
    from defib.gateway.proxy import Gateway

__all__ = ["Gateway", "build_gateway", "create_gateway_app"]


def __getattr__(name: str) -> Any:
    if name in ("build_gateway", "create_gateway_app"):
        from defib.gateway import app

        return getattr(app, name)
    if name == "Gateway":
        from defib.gateway.proxy import Gateway

        return Gateway
    raise AttributeError(f"module 'defib.gateway' has no attribute {name!r}")
