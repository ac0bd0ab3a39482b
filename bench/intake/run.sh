#!/usr/bin/env bash
# Intake benchmark: defib (SQLite and PostgreSQL) vs Prometheus Alertmanager, same wrk script
# and bodies. Prints a markdown table on stdout, progress on stderr.
# Usage: bench/intake/run.sh            (or: bench/intake/run.sh --table RESULTS.jsonl)
#   BENCH_SCENARIOS=same,unique,batch50,service BENCH_LAYOUTS=shared,pinned \
#   BENCH_SERVERS=alertmanager,defib-sqlite,defib-pg BENCH_DURATION=10 BENCH_WARMUP=2 \
#   BENCH_CONNECTIONS=32 BENCH_THREADS=2 BENCH_DEFIB_ARGS=--no-worker bench/intake/run.sh
# See bench/intake/run.py for every variable. Needs wrk and prometheus-alertmanager
# (bench/intake/setup.sh) and, for defib-pg, a PostgreSQL at $BENCH_PG (trust auth).
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v wrk >/dev/null && command -v prometheus-alertmanager >/dev/null \
    || bench/intake/setup.sh
echo "# $(uptime)" >&2
# The classification backstop's own cost (build, per alert, how often it runs).
"${PYTHON:-.venv/bin/python}" bench/intake/backstop_cost.py
echo
exec "${PYTHON:-.venv/bin/python}" bench/intake/run.py "$@"
