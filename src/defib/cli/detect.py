"""`defib detect`: the content-detector JSONL commands (pii, toxicity, grounding).

The implementation is `defib.detectors._cli`; `python -m defib.detectors pii` is the
fastest way to run it because it skips importing the rest of `defib.cli`.
"""

from defib.detectors._cli import app

__all__ = ["app"]

if __name__ == "__main__":
    app()
