# The one task runner: local runs equal CI (.ci/run calls `make test`).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck contracts pytest docs bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	@# The distribution was called "tadpole" before (a name PyPI gives another
	@# project): drop that install so only tadpole-actors claims our packages.
	$(PY) -m pip uninstall --quiet --disable-pip-version-check -y tadpole 2>/dev/null || true
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,uvloop,http,docs]'
	@touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/swarm.py

test: lint typecheck contracts pytest docs

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks examples docs/conf.py
	$(VENV)/bin/ruff format --check src tests benchmarks examples docs/conf.py

typecheck: $(STAMP)
	$(VENV)/bin/mypy

contracts: $(STAMP)
	$(VENV)/bin/lint-imports --no-cache

pytest: $(STAMP)
	$(PY) -m pytest

docs: $(STAMP)
	$(PY) -m sphinx -W --keep-going -q -b html docs docs/_build/html

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "# $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) docs/_build .mypy_cache .ruff_cache .hypothesis
