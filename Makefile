# Quick start: `make run` (quick sweep + report under reports/latest/) and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test

.PHONY: run test test-busy test-lowest lint install clean

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

# The suite on a loaded host: a CPU hog keeps one core busy while pytest runs; the hog
# is killed however pytest ends (pass, fail, Ctrl-C) and pytest's exit code is returned.
test-busy: $(TSTAMP)
	@$(PY) -c 'while True: pass' & hog=$$!; \
	trap 'kill $$hog 2>/dev/null' EXIT; \
	trap 'exit 130' INT TERM; \
	echo "test-busy: CPU hog running (pid $$hog)"; \
	$(PY) -m pytest $(PYTEST_ARGS); status=$$?; \
	echo "test-busy: pytest exited $$status; CPU hog stopped"; \
	exit $$status

# The suite with every runtime dependency at its floor in pyproject.toml (its own venv):
# a floor too low for a feature used fails here. Third-party deprecation warnings of the
# old versions are not failures.
LOWEST := .venv-lowest
test-lowest:
	$(PYTHON) -m venv $(LOWEST)
	$(PYTHON) scripts/lowest_constraints.py > $(LOWEST)/constraints.txt
	$(LOWEST)/bin/python -m pip install -q -c $(LOWEST)/constraints.txt -e '.[test]'
	$(LOWEST)/bin/python -m pytest -W ignore::DeprecationWarning $(PYTEST_ARGS)

lint: $(TSTAMP)
	$(VENV)/bin/ruff check bench tests cpu_tasks.py scripts
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) $(LOWEST) build *.egg-info
