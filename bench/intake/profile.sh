#!/usr/bin/env bash
# Profiles one `defib serve` (fresh SQLite data dir, or PostgreSQL with DB=pg) under wrk
# scenario 2 (a new alert per request) with py-spy; prints the hottest frames.
# Usage: bench/intake/profile.sh [seconds]   env: DB=sqlite|pg MODE=unique BATCH=1 CONNS=32
#        GIL=0 samples every thread (idle waits look busy); BENCH_DEFIB_ARGS=--no-worker;
#        STORM=default keeps the storm limits (the bench lifts them, as here by default)
# py-spy runs with --nonblocking: without it, it stops the server at every sample (250/s),
# which cut throughput from ~600 to 17 requests/s and profiled a different program.
# --gil (the default here) keeps only samples of the thread holding the GIL: idle waits of
# the batching queue and the event loop would otherwise count as busy (~59% of samples).
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
SECS=${1:-10}
PYSPY=.venv/bin/py-spy
[ -x "$PYSPY" ] || .venv/bin/pip install -q py-spy
WORK=$(mktemp -d /tmp/bench-profile-XXXX)
PORT=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export DEFIB_DATA_DIR=$WORK/data
unset DEFIB_DATABASE_URL
if [ "${DB:-sqlite}" = pg ]; then
    DBNAME=defib_profile_$$
    createdb -h 127.0.0.1 -U postgres "$DBNAME"
    export DEFIB_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/$DBNAME
fi
# As bench/intake/run.py: storm limits lifted so every alert of MODE=service opens its own
# incident (with the defaults, most would fold into one storm incident); STORM=default keeps them.
if [ "${STORM:-lifted}" != default ]; then
    export DEFIB_STORM='{"max_alerts_per_request": 1000000, "max_new_incidents_per_request": 1000000, "max_new_incidents_per_source_per_minute": 1000000000, "playbook_runs_per_system_per_minute": 1000000000}'
fi
( cd "$WORK" && exec "$REPO/.venv/bin/defib" serve --port "$PORT" ${BENCH_DEFIB_ARGS:-} >"$WORK/server.log" 2>&1 ) &
SERVER=$!
cleanup() {
    kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true
    [ -n "${DBNAME:-}" ] && dropdb -h 127.0.0.1 -U postgres --if-exists --force "$DBNAME" || true
    rm -rf "$WORK"
}
trap cleanup EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
TOKEN=$(cat "$DEFIB_DATA_DIR/admin-token")
echo "# $(uptime)" >&2
BENCH_MODE=${MODE:-unique} BENCH_BATCH=${BATCH:-1} BENCH_TOKEN=$TOKEN \
    wrk -t2 -c"${CONNS:-32}" -d$((SECS + 4))s --timeout 30s -s bench/intake/alerts.lua \
    "http://127.0.0.1:$PORT" >"$WORK/wrk.out" 2>&1 &
WRK=$!
sleep 2
GILFLAG="--gil"; [ "${GIL:-1}" = 0 ] && GILFLAG=""
"$PYSPY" record --nonblocking -d "$SECS" -r 250 -f raw $GILFLAG -o "$WORK/prof.txt" --pid "$SERVER" --threads >/dev/null 2>&1
wait "$WRK"
grep BENCH_JSON "$WORK/wrk.out" >&2
OUT=${PROFILE_OUT:-/tmp/defib-intake-profile.txt}
cp "$WORK/prof.txt" "$OUT"
.venv/bin/python bench/intake/hotspots.py "$OUT"
