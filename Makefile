# The README's two commands: `make run` (serve on http://127.0.0.1:8080) and `make test` (the whole suite).
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080
# local development server: JWT checks off unless you say otherwise (`make run CDS_AUTH_MODE=jwt`);
# the Docker image and `python -m cds_service serve` keep the secure default (jwt)
CDS_AUTH_MODE ?= off
export CDS_AUTH_MODE

.PHONY: fuzz run test lint bench bench-smoke bench-replay bench-replay-smoke docs openapi lock clean

# Installs come from the hash-locked files (`make lock` regenerates them from pyproject.toml + uv.lock):
# requirements.lock is what serving needs, requirements-test.lock adds the test extras. --no-deps: a lock
# is complete, nothing is resolved at install time. The project itself is then installed editable.
PIP_LOCKED := $(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r
PIP_SELF := $(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .

$(VENV)/.venv-created:
	@echo "make: creating $(VENV) with $(PYTHON)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@touch $@

$(BIN)/.installed-run: requirements.lock pyproject.toml | $(VENV)/.venv-created
	@echo "make: installing the runtime dependencies from requirements.lock (first time: about half a minute)"
	$(PIP_LOCKED) requirements.lock
	$(PIP_SELF)
	@touch $@

$(BIN)/.installed-test: requirements-test.lock pyproject.toml | $(VENV)/.venv-created
	@echo "make: installing the runtime and test dependencies from requirements-test.lock (first time: 1-2 minutes)"
	$(PIP_LOCKED) requirements-test.lock
	$(PIP_SELF)
	@touch $@ $(BIN)/.installed-run

# a local sandbox's FHIR server is plain http on this machine: allowed for `make run` only (default: never);
# the integrator preview page (/preview) is on for the local server (`make run CDS_PREVIEW=off` to hide it)
run: $(BIN)/.installed-run
	CDS_FHIR_ALLOW_HTTP=$${CDS_FHIR_ALLOW_HTTP:-loopback} CDS_PREVIEW=$${CDS_PREVIEW:-on} \
		$(BIN)/python -m cds_service serve --host $(HOST) --port $(PORT)

test: $(BIN)/.installed-test
	@echo "make: checking the test servers' system packages (PostgreSQL, sekmet-fhir, chromium, Java for Spark)"
	bash scripts/install-test-deps.sh
	@echo "make: ruff"
	$(BIN)/ruff check .
	@echo "make: pytest (random order, pytest-randomly: the seed is printed; replay an order with --randomly-seed=N)"
	$(BIN)/python -m pytest -p no:cacheprovider

# the fuzzers at 25x their `make test` budget: schemathesis over the committed OpenAPI document (~10,500
# requests) plus the hypothesis strategies (mutated fixtures, extreme FHIR values); no 5xx allowed
fuzz: $(BIN)/.installed-test
	CDS_FUZZ_SCALE=$${CDS_FUZZ_SCALE:-25} $(BIN)/python -m pytest -p no:cacheprovider -p no:randomly -q \
		tests/security/test_fuzz_schemathesis.py tests/hostile/test_extreme_values_fuzz.py

lint: $(BIN)/.installed-test
	$(BIN)/ruff check .

bench: $(BIN)/.installed-test
	@echo "make: checking the benchmark's FHIR server (sekmet-fhir)"
	bash scripts/install-test-deps.sh
	$(BIN)/python -m benchmarks.run

bench-smoke: $(BIN)/.installed-test
	$(BIN)/python -m benchmarks.run --smoke
	$(BIN)/python -m benchmarks.replay --smoke

# replay of a Bulk Data export: embedded and Spark engines at 10k and 100k patients (minutes; needs Java)
bench-replay: $(BIN)/.installed-test
	bash scripts/install-test-deps.sh
	$(BIN)/python -m benchmarks.replay

bench-replay-smoke: $(BIN)/.installed-test
	$(BIN)/python -m benchmarks.replay --smoke

docs: $(BIN)/.installed-test
	$(BIN)/python -m cds_service docs

openapi: $(BIN)/.installed-test
	$(BIN)/python -m cds_service openapi

# Regenerate the lock after changing dependencies in pyproject.toml: resolves with uv (installed into its own
# .venv-tools, pinned) into uv.lock, then exports the two hash-locked requirement files the installs use.
UV_VERSION := 0.13.8
UV := .venv-tools/bin/uv
lock:
	@test -x $(UV) && $(UV) --version | grep -q "$(UV_VERSION)" || { \
	  echo "make: installing uv $(UV_VERSION) into .venv-tools"; rm -rf .venv-tools; $(PYTHON) -m venv .venv-tools \
	  && .venv-tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION); }
	$(UV) lock --python $(PYTHON)
	$(UV) export --quiet --frozen --no-emit-project --no-dev -o requirements.lock
	$(UV) export --quiet --frozen --no-emit-project --no-dev --extra test -o requirements-test.lock
	@echo "make: lock regenerated (uv.lock, requirements.lock, requirements-test.lock): commit all three"

clean:
	rm -rf $(VENV) .venv-fhir .venv-tools .pytest_cache .ruff_cache *.sqlite3* test-output
