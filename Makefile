# Taskyard: `make run` starts the embedded stack; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed

.PHONY: install run test lint format bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,embedded]'
	touch $(STAMP)

run: install
	$(BIN)/taskyard dev

test: install
	$(BIN)/pytest

# Taskyard against bare Celery on private services (~10-15 min); BENCH_ARGS="--quick" for a try.
bench: $(BENCH_STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,embedded,bench]'
	touch $(BENCH_STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache
