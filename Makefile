# Rekam: every target creates .venv itself on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Every optional extra but `pi` (picamera2, lgpio and evdev come from the Pi's apt).
EXTRAS := $(shell $(PYTHON) -c 'import tomllib; e = tomllib.load(open("pyproject.toml", "rb"))["project"].get("optional-dependencies", {}); print(" ".join(sorted(k for k in e if k != "pi")))')

.PHONY: venv lock demo test test-all lint bench check-units wheelhouse image-test power-loss clean migration vectors

# The venv is exactly requirements/dev.lock (hash-checked), then Rekam itself, editable.
$(STAMP): pyproject.toml requirements/dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements/dev.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

## lock: after changing pyproject.toml's dependencies, pin them again (keeps the other pins;
## `make lock LOCK_ARGS=--upgrade` moves everything to the newest versions)
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml $(addprefix --extra ,$(EXTRAS)) --universal \
	    --python-version 3.11 --generate-hashes --custom-compile-command "make lock" \
	    --quiet $(LOCK_ARGS) -o requirements/dev.lock
	$(BIN)/uv pip compile pyproject.toml --python-platform aarch64-manylinux_2_36 \
	    --python-version 3.13 --generate-hashes --custom-compile-command "make lock" \
	    --quiet -c requirements/dev.lock -o requirements/kit-aarch64.lock

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
	$(BIN)/mypy edge hal rekam hq sync tui
	$(BIN)/lint-imports

## bench: every benchmark in bench/, each printing ratios against a baseline of the same run
bench: $(STAMP)
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

## fleet: the fleet simulator, small, under every fault (slow; a few minutes). The full run:
## .venv/bin/python bench/fleet_sim.py --kits 500 --packets 20 [--db postgres]
fleet: $(STAMP)
	$(BIN)/pytest -q -s -m slow tests/test_fleet.py

## migration: a new Alembic revision of HQ's schema from the change to hq/db.py (MSG="what")
migration: $(STAMP)
	@test -n "$(MSG)" || { echo 'usage: make migration MSG="what changes"' >&2; exit 2; }
	@rm -f .migration.db
	@last=$$(ls hq/migrations/versions | grep -oE '^[0-9]{4}' | sort | tail -n 1); \
	next=$$(printf '%04d' $$(expr $$last + 1)); \
	export REKAM_HQ_DATABASE_URL=sqlite:///$(CURDIR)/.migration.db; \
	$(BIN)/alembic -c alembic.ini upgrade head && \
	$(BIN)/alembic -c alembic.ini revision --autogenerate --rev-id $$next -m "$(MSG)"; \
	status=$$?; rm -f .migration.db; exit $$status

## vectors: rewrite the protocol's test vectors (docs/protocol/vectors/) after a deliberate
## change to a format; tests/test_protocol_vectors.py checks them against the code
vectors: $(STAMP)
	$(BIN)/python docs/protocol/vectors/generate.py

## check-units: systemd accepts every unit, each runs a command the CLI knows, exposure <= 2.0
check-units: $(STAMP)
	$(BIN)/python systemd/check_units.py

## wheelhouse: the kit's aarch64 wheels (requirements/kit-aarch64.lock) and Rekam's wheel
wheelhouse: $(STAMP)
	image-build/wheelhouse

## power-loss: (slow) SIGKILL the enrolment and the sync daemon at random points, 100 rounds
## (REKAM_POWER_LOSS_ROUNDS), checking the outbox, the audit chain, every database, no plaintext
power-loss: $(STAMP)
	$(BIN)/pytest -q -s -m slow tests/sync/test_power_loss.py

## image-test: (slow, root) an arm64 trixie tree, install-rekam, first boot, doctor, verify
image-test: $(STAMP)
	image-build/image-test

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache
