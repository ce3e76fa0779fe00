# Quick start: `make run` (quick sweep + report under reports/latest/) and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test

.PHONY: run test lint install clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e .
	touch $@

$(TSTAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[test]'
	touch $@ $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/concbench run --profile quick --name "quick-$$(date +%Y%m%d-%H%M%S)"

test: $(TSTAMP)
	$(PY) -m pytest

lint: $(TSTAMP)
	$(VENV)/bin/ruff check bench tests cpu_tasks.py scripts
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) build *.egg-info
