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

.PHONY: run test lint bench bench-smoke docs openapi clean

$(BIN)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

run: $(BIN)/.installed
	$(BIN)/python -m cds_service serve --host $(HOST) --port $(PORT)

test: $(BIN)/.installed
	bash scripts/install-test-deps.sh
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -p no:cacheprovider

lint: $(BIN)/.installed
	$(BIN)/ruff check .

bench: $(BIN)/.installed
	bash scripts/install-test-deps.sh
	$(BIN)/python -m benchmarks.run

bench-smoke: $(BIN)/.installed
	$(BIN)/python -m benchmarks.run --smoke

docs: $(BIN)/.installed
	$(BIN)/python -m cds_service docs

openapi: $(BIN)/.installed
	$(BIN)/python -m cds_service openapi

clean:
	rm -rf $(VENV) .venv-fhir .pytest_cache .ruff_cache *.sqlite3*
