# The two commands of the README: `make demo` and `make test`. Everything else supports them.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-fast check bench clean system-deps

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH (set PYTHON=...)"; exit 2; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

system-deps:
	bash scripts/system-deps.sh

## Start a simulated AWS account, scan it, replay its CloudTrail and host history, open the dashboard.
demo: setup
	$(VENV)/bin/cloudwarden demo

## The whole test suite, with the system components it drives for real.
test: setup system-deps
	bash scripts/run-tests.sh

test-fast: setup
	$(PY) -m pytest -q -x -m "not live and not browser and not postgres and not slow"

check: setup
	$(VENV)/bin/ruff check src tests bench eval
	$(VENV)/bin/mypy

bench: setup
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .cloudwarden
