# Meridian: `make run` starts a three-region group on this machine; `make test` runs the suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CONFIG ?= deploy/local/group.yaml
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck unit integration e2e chaos chaos-smoke bench proto clean expressions-diff dynamodb-diff fuzz

# setup.py builds the optional compiled module (meridian/model/_item_check.c, _replicated.c)
# when a C compiler and Python's headers are there; without them meridian runs on the Python
# fallback.
$(STAMP): pyproject.toml setup.py meridian/model/_item_check.c meridian/model/_replicated.c \
		meridian/model/_wire.h
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The demo runs with TLS and access keys on: certificates and a key are made at the first run.
run: $(STAMP)
	$(BIN)/meridian certs --config $(CONFIG) > /dev/null
	$(BIN)/meridian keys init --config $(CONFIG) > /dev/null
	$(BIN)/meridian run $(CONFIG)

proto: $(STAMP)
	$(BIN)/python scripts/gen_proto.py

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests/unit -q

integration: $(STAMP)
	$(BIN)/pytest tests/integration -q

e2e: $(STAMP)
	$(BIN)/pytest tests/e2e -q

chaos-smoke: $(STAMP)
	$(BIN)/pytest chaos/test_smoke.py -q

# The whole suite that fits a CI run: lint, types, unit, integration, end-to-end, a short chaos
# run. Every stage runs even when an earlier one fails; one summary at the end.
test: $(STAMP)
	scripts/stages.sh \
	  format      "$(BIN)/ruff format --check ." \
	  lint        "$(BIN)/ruff check ." \
	  types       "$(BIN)/mypy" \
	  unit        "$(BIN)/pytest -q tests/unit" \
	  integration "$(BIN)/pytest -q tests/integration" \
	  e2e         "$(BIN)/pytest -q tests/e2e" \
	  chaos       "$(BIN)/pytest -q chaos"

# The expression engine against moto on many seeded random requests (the unit tests run 800).
expressions-diff: $(STAMP)
	MERIDIAN_DIFF_CASES=$${MERIDIAN_DIFF_CASES:-40000} $(BIN)/pytest -q tests/unit/test_expressions_differential.py

# The DynamoDB door against moto on long seeded random sequences of operations (make test
# runs 300).
dynamodb-diff: $(STAMP)
	MERIDIAN_DOOR_DIFF_OPS=$${MERIDIAN_DOOR_DIFF_OPS:-6000} $(BIN)/pytest -q tests/integration/test_dynamodb_differential.py

# The compiled extension under AddressSanitizer and UBSan on many seeded mutated records and
# items, against the Python code (make test runs 3,000: tests/integration/test_compiled_fuzz.py).
fuzz: $(STAMP)
	nice -n 10 $(BIN)/python -m tests.fuzz.build --inputs $${MERIDIAN_FUZZ_INPUTS:-200000} $(ARGS)

chaos: $(STAMP)
	$(BIN)/python -m chaos.run --all

bench: $(STAMP)
	$(BIN)/python -m bench.run $(if $(QUICK),--quick,) $(ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
