# The two commands: `make run` (start everything on the embedded stack) and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Deployment checks (checkov, kubectl with kustomize) live in their own venv: checkov's
# dependency tree conflicts with the project's pins. Pinned in requirements-tools.lock.
TOOLS_VENV ?= .venv-tools
TOOLS_STAMP := $(TOOLS_VENV)/.installed-stamp
DATA_DIR ?= .data
# bench/ joins once it has code (git keeps no empty folders).
LINT_PATHS := pipeline api tests $(wildcard bench)

.PHONY: run test venv tools deploy-check lint typecheck unit integration e2e stack-up stack-down clean

# Re-install only when the declared dependencies change.
$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH"; exit 2; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip==26.3
	$(PY) -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[local,dev,bench]'
	touch $(STAMP)

venv: $(STAMP)

$(TOOLS_STAMP): requirements-tools.lock
	test -x $(TOOLS_VENV)/bin/python || $(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip==26.3
	$(TOOLS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-tools.lock
	touch $(TOOLS_STAMP)

tools: $(TOOLS_STAMP)

run: venv
	$(BIN)/threadweaver run --data-dir $(DATA_DIR)

lint: venv
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/lint-imports

typecheck: venv
	$(BIN)/mypy

test: lint typecheck tools
	$(BIN)/pytest

unit: venv
	$(BIN)/pytest -m unit

integration: venv
	$(BIN)/pytest -m integration

e2e: venv
	$(BIN)/pytest -m e2e

# Render and validate Dockerfile, docker-compose.yml and k8s/ offline (no cluster needed).
deploy-check: venv tools
	$(BIN)/pytest tests/deploy

stack-up: venv
	$(BIN)/threadweaver stack up --data-dir $(DATA_DIR)

stack-down: venv
	$(BIN)/threadweaver stack down --data-dir $(DATA_DIR)

clean:
	rm -rf $(VENV) $(TOOLS_VENV) $(DATA_DIR) .mypy_cache .pytest_cache .ruff_cache
