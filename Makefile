# The one task runner: local runs equal CI (.ci/run calls `make test`).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck contracts pytest browser docs bench clean

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

pytest: $(STAMP) browser
	$(PY) -m pytest

# The dashboard's browser tests drive Debian's chromium with Playwright; install it
# where it is missing and we may (root, apt); they are skipped, saying so, without it.
browser:
	@test -x /usr/bin/chromium || { test "$$(id -u)" = 0 && command -v apt-get >/dev/null && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium </dev/null; } || \
		echo "no chromium: the dashboard's browser tests will be skipped"

docs: $(STAMP)
	$(PY) -m sphinx -W --keep-going -q -b html docs docs/_build/html

# Every bench prints JSON lines; _table.py gathers them into one Markdown table
# (benchmarks/results.md and the table in docs/performance.md). Peers (Pykka,
# Thespian) come from the `bench` extra. The 1M-record ledger and 1M-actor
# figures run here (--large); a bench run alone skips them unless given it.
BENCH_OUT := benchmarks/.out
bench: SHELL := /bin/bash
bench: .SHELLFLAGS := -o pipefail -c
bench: $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[bench]'
	@rm -rf $(BENCH_OUT) && mkdir -p $(BENCH_OUT)
	cd benchmarks && ../$(PY) bench_inproc.py --repeats 3 --large 1000000 | tee .out/inproc.jsonl
	cd benchmarks && ../$(PY) bench_remote.py --repeats 5 | tee .out/remote.jsonl
	cd benchmarks && ../$(PY) bench_peers.py --repeats 3 | tee .out/peers.jsonl
	cd benchmarks && ../$(PY) bench_ledger.py --large 1000000 | tee .out/ledger.jsonl
	cd benchmarks && ../$(PY) bench_ledger.py --uvloop --only group | tee .out/ledger-uvloop.jsonl
	cd benchmarks && ../$(PY) bench_dispatch.py | tee .out/dispatch.jsonl
	cd benchmarks && ../$(PY) bench_stealing.py | tee .out/stealing.jsonl
	cd benchmarks && ../$(PY) bench_tickets.py | tee .out/tickets.jsonl
	cd benchmarks && ../$(PY) bench_territories.py | tee .out/territories.jsonl
	cd benchmarks && ../$(PY) bench_metrics.py | tee .out/metrics.jsonl
	cd benchmarks && ../$(PY) bench_quorum.py | tee .out/quorum.jsonl
	$(PY) benchmarks/_table.py --command "make bench" $(BENCH_OUT)/*.jsonl

clean:
	rm -rf $(VENV) docs/_build .mypy_cache .ruff_cache .hypothesis
