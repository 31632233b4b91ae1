# The two commands of the quick start: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m sim report scenarios/booking_surge.yaml --replications 3 --seed 1 \
		--report-dir reports/booking_surge

lint: $(STAMP)
	$(BIN)/ruff check sim tests
	$(BIN)/ruff format --check sim tests
	$(BIN)/mypy sim

test: lint
	$(BIN)/python -m pytest -n 2 --durations=15

bench: $(STAMP)
	$(BIN)/python -m sim bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
