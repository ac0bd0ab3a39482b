"""defib: incident response for AI systems in production."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from defib.model import Alert, Incident, IncidentType, Severity, Status

__version__ = "0.1.0"

if TYPE_CHECKING:
    from defib.responder import Responder


def __getattr__(name: str) -> Any:
    # Responder pulls in SQLAlchemy and the classifier; importing the domain types stays cheap.
    if name == "Responder":
        from defib.responder import Responder

        return Responder
    raise AttributeError(f"module 'defib' has no attribute {name!r}")


__all__ = ["Alert", "Incident", "IncidentType", "Responder", "Severity", "Status", "__version__"]
