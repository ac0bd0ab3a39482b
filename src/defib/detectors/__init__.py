"""Content detectors behind one protocol: PII and secrets, toxicity, grounding.

Detector modules are imported on first use so that `import defib.detectors` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from defib.detectors.base import Detector, Finding

__all__ = ["Detector", "Finding", "available_detectors", "get_detector"]

# name -> (module, class); resolved lazily so a CLI that only needs PII never loads the others.
_REGISTRY: dict[str, tuple[str, str]] = {
    "pii": ("defib.detectors.pii", "PiiDetector"),
    "secrets": ("defib.detectors.secrets", "SecretDetector"),
    "toxicity": ("defib.detectors.toxicity", "ToxicityDetector"),
    "grounding": ("defib.detectors.grounding", "GroundingDetector"),
}


def available_detectors() -> list[str]:
    """Names accepted by `get_detector`, sorted."""
    return sorted(_REGISTRY)


def get_detector(name: str, **config: Any) -> Detector:
    """Build the detector registered as `name` with `config` as constructor keyword arguments."""
    try:
        module_name, class_name = _REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"unknown detector {name!r}; available: {', '.join(available_detectors())}"
        ) from None
    cls = getattr(importlib.import_module(module_name), class_name)
    detector: Detector = cls(**config)
    return detector
