"""Showing evidence redacted: PII and secrets found by the `pii` detector are masked."""

from __future__ import annotations

from defib.detectors.masking import mask_text


def redact_text(text: str) -> tuple[str, dict[str, int]]:
    """`text` with every finding replaced by `[TYPE]`, and the count per type."""
    return mask_text(text)
