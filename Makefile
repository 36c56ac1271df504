# The two commands: `make run` (start everything on the embedded stack) and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The embedded stack's servers that do not come from PyPI: Apache Kafka's jars (Maven) and
# dynalite (npm), pinned in the repository, installed into the venv.
SERVERS_STAMP := $(VENV)/.servers-stamp
# Deployment checks (checkov, kubectl with kustomize) live in their own venv: checkov's
# dependency tree conflicts with the project's pins. Pinned in requirements-tools.lock.
TOOLS_VENV ?= .venv-tools
TOOLS_STAMP := $(TOOLS_VENV)/.installed-stamp
DATA_DIR ?= .data
# The browser tests drive Debian's Chromium (a test tool's own browser download cannot reach
# its host from our machines); installed once through apt, as root or with sudo.
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# bench/ joins once it has code (git keeps no empty folders).
LINT_PATHS := pipeline api tests $(wildcard bench)

.PHONY: run test venv tools browser deploy-check lint typecheck unit integration e2e chaos stack-up stack-down bench clean

# Re-install only when the declared dependencies change.
$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH"; exit 2; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip==26.3
	$(PY) -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[local,dev,bench]'
	touch $(STAMP)

$(SERVERS_STAMP): $(STAMP) pipeline/stack/kafka/pom.xml pipeline/stack/dynalite/package-lock.json \
		pipeline/stack/dynalite/server.js
	$(BIN)/threadweaver stack install
	touch $(SERVERS_STAMP)

venv: $(STAMP) $(SERVERS_STAMP)

$(TOOLS_STAMP): requirements-tools.lock
	test -x $(TOOLS_VENV)/bin/python || $(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip==26.3
	$(TOOLS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-tools.lock
	touch $(TOOLS_STAMP)

tools: $(TOOLS_STAMP)

$(CHROMIUM):
	@command -v apt-get >/dev/null 2>&1 || { echo "the browser tests need Debian's chromium at $(CHROMIUM)"; exit 2; }
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		chromium fonts-liberation
	test -x $(CHROMIUM)

browser: $(CHROMIUM)

run: venv
	$(BIN)/threadweaver run --data-dir $(DATA_DIR)

lint: venv
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/lint-imports

typecheck: venv
	$(BIN)/mypy

test: lint typecheck tools browser
	$(BIN)/pytest

unit: venv
	$(BIN)/pytest -m unit

integration: venv
	$(BIN)/pytest -m integration

e2e: venv
	$(BIN)/pytest -m e2e

# The long fault runs: the whole system under SIGKILLs with more commands, threads and kills
# than `make test`, and the fuzz suite with more examples. Override the sizes on the command
# line (make chaos CHAOS_COMMANDS=200000); THREADWEAVER_CHAOS_SEED replays a fault schedule.
CHAOS_COMMANDS ?= 50000
CHAOS_THREADS ?= 1000
CHAOS_KILLS ?= 6
FUZZ_EXAMPLES ?= 10000

chaos: venv
	THREADWEAVER_CHAOS_COMMANDS=$(CHAOS_COMMANDS) THREADWEAVER_CHAOS_THREADS=$(CHAOS_THREADS) \
	THREADWEAVER_CHAOS_KILLS=$(CHAOS_KILLS) THREADWEAVER_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) \
	$(BIN)/pytest tests/chaos $(wildcard tests/fuzz)

# Render and validate Dockerfile, docker-compose.yml and k8s/ offline (no cluster needed).
deploy-check: venv tools
	$(BIN)/pytest tests/deploy

stack-up: venv
	$(BIN)/threadweaver stack up --data-dir $(DATA_DIR)

stack-down: venv
	$(BIN)/threadweaver stack down --data-dir $(DATA_DIR)

# Every benchmark of bench/ in one run on its own fresh embedded stack (well under 30 min);
# writes bench/results/latest.{json,md,png}. THREADWEAVER_BENCH_SCALE=0.1: a smoke run.
bench: venv
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(TOOLS_VENV) $(DATA_DIR) .mypy_cache .pytest_cache .ruff_cache
