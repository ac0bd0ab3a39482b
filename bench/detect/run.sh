#!/usr/bin/env bash
# PII benchmark: defib vs Presidio (pattern recognizers only, offline). Prints a markdown table.
# Usage: bench/detect/run.sh [extra args for report.py, e.g. --rounds 5 --seconds 5]
set -euo pipefail
cd "$(dirname "$0")/../.."

PY=${PYTHON:-.venv/bin/python}
PRESIDIO_VENV=bench/.venv-presidio
if [ ! -x "$PRESIDIO_VENV/bin/python" ]; then
    echo "creating $PRESIDIO_VENV (presidio-analyzer from PyPI, no spaCy model)" >&2
    python3 -m venv "$PRESIDIO_VENV"
    "$PRESIDIO_VENV/bin/pip" install -q "presidio-analyzer>=2.2"
fi
# Presidio must never fetch the public suffix list; its worker also pins a no-network extractor.
export TLDEXTRACT_CACHE="${TLDEXTRACT_CACHE:-$(mktemp -d)}"
# The data: PII_DATA if set (e.g. ../shared/eval/pii_dev.jsonl), else a seeded synthetic set
# generated here, so the benchmark runs on a plain clone.
DATA=${PII_DATA:-bench/results/pii_synth.jsonl}
if [ -z "${PII_DATA:-}" ]; then
    "$PY" bench/detect/make_data.py --out "$DATA"
elif [ ! -f "$DATA" ]; then
    echo "PII_DATA=$DATA: no such file" >&2
    exit 2
fi
exec "$PY" bench/detect/report.py --defib-python "$PY" \
    --presidio-python "$PRESIDIO_VENV/bin/python" --data "$DATA" "$@"
