# greenwatch — two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo scale-demo test test-stress lint typecheck unit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	@echo "greenwatch demo: the dashboard will be at http://127.0.0.1:8050/ once the backfill is done"
	$(BIN)/greenwatch demo $(DEMO_ARGS)

# The scale-out topology (deploy/scale-out.md) from the Debian binaries, on loopback.
scale-demo: $(STAMP)
	$(BIN)/python deploy/scale_demo.py $(SCALE_DEMO_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench deploy
	$(BIN)/ruff format --check src tests bench deploy

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest $(PYTEST_ARGS)

# The suite three times while a busy loop runs on every core: races and timing show up here.
test-stress: lint typecheck
	$(BIN)/python .ci/stress.py --runs 3 -- $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
