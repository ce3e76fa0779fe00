# Quick start: `make run` (quick sweep + report under reports/latest/) and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test

.PHONY: run test test-busy test-lowest lint install clean

# The install is part of a new user's wait (issue 17): uv where it is installed, else the
# host's pip driving a venv made without a pip of its own (pip >= 22.3, --python), without
# byte-compiling every module of every dependency; then only what concbench imports is
# compiled, once (even where PYTHONDONTWRITEBYTECODE is set), so that no run pays for it
# (scripts/warm_bytecode.py draws the example report to find out what that is).
INSTALL := $(if $(shell command -v uv 2>/dev/null),uv pip install -q --python $(PY),\
             $(PYTHON) -m pip -q --python $(PY) install --no-compile)
COMPILE := $(PY) scripts/warm_bytecode.py

$(PY):
	$(PYTHON) -m venv --without-pip $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(INSTALL) -e .
	$(COMPILE)
	touch $@

$(TSTAMP): pyproject.toml | $(PY)
	$(INSTALL) -e '.[test]'
	$(COMPILE)
	touch $@ $(STAMP)

install: $(STAMP)

# `make run` keeps to RUN_BUDGET seconds from the moment make started, install included:
# concbench gets what the install left (its planned rounds always run; extra rounds fill
# the rest; the report is drawn within it).
# (177: 3 s of the user's 180 kept for the interpreter's exit and make's own)
RUN_BUDGET ?= 177
MAKE_T0 := $(shell date +%s)

# An install that took the whole budget leaves concbench 1 s: its planned rounds still run,
# and it says that they overrun (0 would mean no budget at all; below 0, a usage error).
run: $(STAMP)
	@left=$$(( $(RUN_BUDGET) - $$(date +%s) + $(MAKE_T0) )); \
	echo "make run: $$(( $(RUN_BUDGET) - left )) s to install; concbench has the other $$left s"; \
	if [ $$left -lt 1 ]; then left=1; fi; \
	$(VENV)/bin/concbench run --profile quick --budget $$left \
	  --name "quick-$$(date +%Y%m%d-%H%M%S)"

# One pytest process per core (pytest-xdist, at most 4), a test file's tests in one of them,
# the longest files first (tests/conftest.py); the tests that assert what they measured of the
# host run alone (tests/conftest.py).
XDIST := -n auto --maxprocesses 4 --dist loadfile --no-loadscope-reorder

test: $(TSTAMP)
	$(PY) -m pytest $(XDIST)

# The suite on a loaded host: a CPU hog keeps one core busy while pytest runs; the hog
# is killed however pytest ends (pass, fail, Ctrl-C) and pytest's exit code is returned.
test-busy: $(TSTAMP)
	@$(PY) -c 'while True: pass' & hog=$$!; \
	trap 'kill $$hog 2>/dev/null' EXIT; \
	trap 'exit 130' INT TERM; \
	echo "test-busy: CPU hog running (pid $$hog)"; \
	$(PY) -m pytest $(XDIST) $(PYTEST_ARGS); status=$$?; \
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
