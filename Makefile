# defib: `make run` starts the server on the embedded default (SQLite); `make test` runs the suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PG_VERSION := $(shell ls /etc/postgresql 2>/dev/null | head -n 1)

.PHONY: run test test-fast test-e2e lint fmt lock install install-dev system-deps test-system-deps pg-up clean bench-detect train-detectors bench-intake bench-backstop bench-playbooks bench-gateway bench-cli bench-console bench-metrics drill litellm-venv phoenix-venv bench-otlp

# The core needs python3-venv; the tests also use openssl (a certificate for the STARTTLS
# test), Debian's chromium (the console's browser tests drive it through Playwright, whose
# own browser download cannot work offline) and amtool (prometheus-alertmanager: the
# silences tests speak to defib with Alertmanager's own client) and promtool (prometheus: it
# checks contrib/'s alerting rules). Install what is missing.
SYSTEM_PACKAGES := python3-venv python3-pip openssl
TEST_SYSTEM_PACKAGES := chromium prometheus-alertmanager prometheus
system-deps:
	@$(PYTHON) -c "import venv, ensurepip" 2>/dev/null && command -v openssl >/dev/null || { \
	  echo "installing $(SYSTEM_PACKAGES) (apt)"; \
	  apt-get update -qq && apt-get install -y -qq $(SYSTEM_PACKAGES); }

test-system-deps: system-deps
	@command -v chromium >/dev/null && command -v amtool >/dev/null && command -v promtool >/dev/null || { \
	  echo "installing $(TEST_SYSTEM_PACKAGES) (apt)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(TEST_SYSTEM_PACKAGES); }

$(BIN)/python: | system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Installs are pinned: requirements/*.lock hold every package's exact version (uv pip compile
# output), used as pip constraints, so CI tests what the last `make lock` resolved. Upgrading
# is deliberate: `make lock` (add LOCK_ARGS=--upgrade to take new releases), then test.
RUN_LOCK := requirements/run.lock
DEV_LOCK := requirements/dev.lock
$(VENV)/.installed: pyproject.toml $(RUN_LOCK) | $(BIN)/python
	$(BIN)/pip install -q -c $(RUN_LOCK) -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml $(DEV_LOCK) | $(BIN)/python
	$(BIN)/pip install -q -c $(DEV_LOCK) -e ".[dev]"
	@touch $@ $(VENV)/.installed

LOCK_ARGS ?=
lock: | $(BIN)/python
	$(BIN)/pip install -q uv
	$(BIN)/uv pip compile pyproject.toml -q --python-version 3.11 $(LOCK_ARGS) -o $(RUN_LOCK)
	$(BIN)/uv pip compile pyproject.toml -q --python-version 3.11 --extra dev $(LOCK_ARGS) -o $(DEV_LOCK)

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# `defib init` writes an example defib.yaml; `make run` reads it when it is there.
run: install
	$(BIN)/defib serve $(if $(wildcard defib.yaml),--config defib.yaml,)

# Starts the machine's PostgreSQL cluster if it is installed and down; tests create their own database.
pg-up:
	@if [ -n "$(PG_VERSION)" ] && ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then \
	  pg_ctlcluster --skip-systemctl-redirect $(PG_VERSION) main start || true; \
	  for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done; \
	fi

# Two pytest-xdist workers: most tests wait on subprocesses (serve, CLI, drills), so even a
# 2-core machine runs the suite in ~15 min instead of ~23. PYTEST_WORKERS=0 runs it serially.
PYTEST_WORKERS ?= 2
test: install-dev test-system-deps pg-up litellm-venv
	DEFIB_REQUIRE_LITELLM=1 DEFIB_TEST_REQUIRE_OPENAPI_CLIENT=1 $(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# Unit tests only (in-process, mirror src/defib; no servers, workers or browsers): the
# inner loop. tests/e2e holds the real-process tests; `make test` runs both.
test-fast: install-dev pg-up
	$(BIN)/pytest -n $(PYTEST_WORKERS) tests/unit $(PYTEST_ARGS)

test-e2e: install-dev test-system-deps pg-up litellm-venv
	DEFIB_REQUIRE_LITELLM=1 DEFIB_TEST_REQUIRE_OPENAPI_CLIENT=1 $(BIN)/pytest -n $(PYTEST_WORKERS) tests/e2e $(PYTEST_ARGS)

# A real LiteLLM proxy for tests/e2e/signals/test_litellm_proxy.py, in a venv of its own: its
# dependencies (~750 MB) stay out of defib's. make test requires it; bare pytest skips it.
LITELLM_VERSION ?= 1.108.7
litellm-venv: bench/.venv-litellm/.installed
bench/.venv-litellm/.installed:
	python3 -m venv bench/.venv-litellm
	bench/.venv-litellm/bin/pip install -q 'litellm[proxy]==$(LITELLM_VERSION)'
	touch $@

# Arize Phoenix for `make bench-otlp BENCH_ARGS='--spans 3000 --phoenix'`, in a venv of its
# own like LiteLLM's (its dependencies stay out of defib's); no test needs it.
PHOENIX_VERSION ?= 20.26.1
phoenix-venv: bench/.venv-phoenix/.installed
bench/.venv-phoenix/.installed:
	python3 -m venv bench/.venv-phoenix
	bench/.venv-phoenix/bin/pip install -q 'arize-phoenix==$(PHOENIX_VERSION)'
	touch $@

lint: install-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: install-dev
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench-detect: install-dev
	bash bench/detect/run.sh
	$(BIN)/python bench/detect/latency_content.py

# Retrain the toxicity model shipped in src/defib/detectors/models/ from public corpora
# (git snapshots under MIRROR, default bench/.mirror; sources pinned in bench/train/).
train-detectors: install-dev
	cd bench/train && PYTHONPATH=. nice -n 10 ../../$(BIN)/python toxicity_data.py --out ../results
	cd bench/train && PYTHONPATH=. nice -n 10 ../../$(BIN)/python train_toxicity.py --data ../results

# Installs wrk and prometheus-alertmanager (apt) on first use.
bench-intake: install-dev pg-up
	bash bench/intake/setup.sh
	bash bench/intake/run.sh

bench-backstop: install-dev
	$(BIN)/python bench/intake/backstop_cost.py

# defib's engine beside bare DBOS (same three-step workflows, queued), SQLite and PostgreSQL:
# runs/s with the ratio, first-step p50/p99, the load average at each (docs/engine.md).
bench-playbooks: install-dev pg-up
	$(BIN)/python bench/playbooks/run_bench.py $(BENCH_ARGS)

# Latency the gateway adds over calling the model directly (loopback, SQLite, see docs/gateway.md),
# beside LiteLLM's proxy on the same model (its own venv, bench/.venv-litellm).
bench-gateway: install-dev litellm-venv
	$(BIN)/python bench/gateway_latency.py --require-litellm $(BENCH_ARGS)

# GenAI spans per second through POST /v1/traces with detection on (bench/otlp/README.md).
bench-otlp: install-dev
	$(BIN)/python bench/otlp/ingest.py $(BENCH_ARGS)

# How long `defib --help` takes (goal < 200 ms; the CLI imports command modules lazily).
bench-cli: install
	$(BIN)/python bench/cli_startup.py

# Cost of /metrics's database-derived series and of the report at 10k incidents (SQLite, PostgreSQL).
bench-metrics: install-dev pg-up
	$(BIN)/python bench/metrics_scrape.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .defib .pytest_cache .mypy_cache .ruff_cache

# Server render time of the console's incident list with 10,000 incidents (goal p95 < 200 ms).
bench-console: install-dev pg-up
	$(BIN)/python bench/console/run_bench.py $(BENCH_ARGS)

# The randomized kill storm (docs/engine.md): SIGKILLs `defib serve`/`defib worker` at random
# instants on SQLite and PostgreSQL while every playbook runs, then checks the invariants.
# DRILL_ARGS="--seed N" replays a storm's schedule; "--kills 300" makes a long one.
drill: install-dev pg-up
	$(BIN)/python -m bench.drill.storm $(DRILL_ARGS)
