# The two commands of the README. Each creates .venv with what it needs on a machine with Python 3.11+.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: serve test lint typecheck pytest bench clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(VENV)/.installed $@

serve: $(VENV)/.installed
	$(BIN)/wxpay-emulator serve

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy src

# The browser tests (tests/e2e/dashboard/) need Debian's chromium; apt-get installs it when absent.
browser:
	scripts/ensure-browser

# Four workers on two cores: about half of a test's time is spent waiting on sockets and other processes
# (docs/test-suite.md). A module's tests stay on one worker (they share its servers).
PYTEST_WORKERS ?= 4
pytest: $(VENV)/.installed-dev browser
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile

# lint and mypy run beside pytest (their few lines may land amid pytest's progress); any failure fails
# the target.
test:
	$(MAKE) --no-print-directory -j 3 lint typecheck pytest

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/create_orders.py

clean:
	rm -rf $(VENV) .wxpay-emulator .pytest_cache .mypy_cache .ruff_cache
