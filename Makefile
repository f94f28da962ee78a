# Rekam: every target creates .venv itself on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: venv demo test test-all lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## demo: the whole story on simulated devices, in a throw-away home under .demo/
demo: $(STAMP)
	$(BIN)/python -m rekam.demo

## test: the test suite (under 5 minutes; slow soak tests excluded)
test: $(STAMP)
	$(BIN)/pytest -q -n 2 -m "not slow"

test-all: $(STAMP)
	$(BIN)/pytest -q -n 2

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy edge hal rekam hq sync
	$(BIN)/lint-imports

## bench: every benchmark in bench/, each printing ratios against a baseline of the same run
bench: $(STAMP)
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache
