#!/usr/bin/env bash
# Installs the intake benchmark's peers (Debian/Ubuntu): Prometheus Alertmanager and wrk.
# Idempotent: does nothing when both are present. Needs root (or sudo).
set -euo pipefail
missing=()
command -v prometheus-alertmanager >/dev/null || missing+=(prometheus-alertmanager)
command -v wrk >/dev/null || missing+=(wrk)
command -v taskset >/dev/null || missing+=(util-linux)
command -v psql >/dev/null || missing+=(postgresql-client)
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# The Debian package enables a systemd service on :9093/:9094; the bench starts its own.
if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus-alertmanager 2>/dev/null; then
    echo "note: the packaged prometheus-alertmanager service is running; the bench does not need it" >&2
fi
echo "alertmanager: $(prometheus-alertmanager --version 2>&1 | head -1)"
echo "wrk: $(wrk -v 2>&1 | head -1)"
