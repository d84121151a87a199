# Loop Lab: `make lab` to learn, `make test` to check. Both work from a fresh clone with only Python installed.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.loop-lab-installed
BROWSER_STAMP := $(VENV)/.loop-lab-browser-installed
LAB_PORT ?= 8888
# Jupyter refuses to run as root unless told to (CI and containers run as root).
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: setup install install-browser lab test test-browser stop clean notebooks-clean notebooks-check

# The set-up shared by `make lab` and `make test`: a virtual environment, the kit installed, its server up.
setup: install
	$(PY) -m kit db start

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

# JupyterLab on notebooks/; kernels inherit the kit's settings (they also find its server on their own).
lab: setup
	DATABASE_URL="$$($(PY) -m kit db url)" $(VENV)/bin/jupyter lab --notebook-dir=notebooks --port=$(LAB_PORT) $(ROOT_FLAG) $(LAB_ARGS)

# The whole suite against a real server; stops the server afterwards if this target started it.
test: install
	@if $(PY) -m kit db status --quiet; then started=0; else started=1; fi; \
	$(PY) -m kit db start || exit 1; \
	$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$started = 1 ]; then $(PY) -m kit db stop; fi; \
	exit $$rc

# Notebooks 00 and 01 run through JupyterLab's UI in headless Chromium (Debian's `chromium`; see .ci/run).
# Screenshots and JupyterLab's log go to artifacts/; docs/browser-test.md says more.
test-browser: install-browser
	@if $(PY) -m kit db status --quiet; then started=0; else started=1; fi; \
	$(PY) -m kit db start || exit 1; \
	$(PY) -m pytest tests/browser $(PYTEST_ARGS); rc=$$?; \
	if [ $$started = 1 ]; then $(PY) -m kit db stop; fi; \
	exit $$rc

# Playwright (from PyPI) drives the system's Chromium; it never downloads a browser of its own.
install-browser: $(BROWSER_STAMP)

$(BROWSER_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,browser]'
	@touch $(BROWSER_STAMP)

stop:
	@if [ -x $(PY) ]; then $(PY) -m kit db stop; else echo "nothing to stop: $(VENV) does not exist"; fi

# Stop the server, delete its data and the virtual environment.
clean:
	@if [ -x $(PY) ]; then $(PY) -m kit db stop --remove; fi
	rm -rf $(VENV) .pytest_cache build *.egg-info

# JupyterLab autosaves outputs into the notebooks; the course is committed without them. Strips them, keeping cell ids.
notebooks-clean: install
	$(PY) -m kit.course.strip notebooks/

notebooks-check: install
	$(PY) -m kit.course.strip --check notebooks/
