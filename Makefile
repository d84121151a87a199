# Loop Lab: `make lab` to learn, `make test` to check. Both work from a fresh clone with only Python installed.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.loop-lab-installed
BROWSER_STAMP := $(VENV)/.loop-lab-browser-installed
# The exact versions the lessons were written against; every install uses them as constraints.
LOCK   := kit/course/lock.txt
# `make install USE_UV=0` installs with plain pip (slower; uv is used otherwise).
USE_UV ?= 1
PIP_QUIET    := --quiet --disable-pip-version-check
# What `make install` and `make install-browser` install (a variable: a comma cannot be a $(call) argument).
TEST_REQS    := -e '.[test]'
BROWSER_REQS := -e '.[test,browser]'
HUB_REQS     := -e '.[test,browser,hub]'
HUB_STAMP    := $(VENV)/.loop-lab-hub-installed
# configurable-http-proxy, JupyterHub's proxy, from npm (Debian's nodejs and npm; see .ci/run), into the venv.
CHP_VERSION  := 5.3.0
CHP          := $(VENV)/node/node_modules/.bin/configurable-http-proxy
# `make setup OFFLINE=DIR` installs from a wheelhouse (`make wheelhouse`) with no network: no index, DIR's wheels only.
OFFLINE ?=
INDEX   = $(if $(OFFLINE),--no-index --find-links $(abspath $(OFFLINE)))
WHEELHOUSE ?= wheelhouse
# JupyterLab's port, unless LAB_ARGS names one (`make lab LAB_ARGS="--port=9911"` serves on 9911).
LAB_PORT ?= 8888
LAB_PORT_ARG = $(if $(filter --port --port=% --ServerApp.port --ServerApp.port=%,$(LAB_ARGS)),,--port=$(LAB_PORT))
# Jupyter refuses to run as root unless told to (CI and containers run as root).
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: setup install install-browser install-hub wheelhouse lab lint test test-corpus test-install test-browser test-hub test-pythons test-matrix stop clean notebooks-clean notebooks-check

# The set-up shared by `make lab` and `make test`: a virtual environment, the kit installed, its server up.
setup: install
	$(PY) -m kit db start

# Install $(1) into the venv with uv: the one on PATH, else one pip puts into the venv (seconds, not minutes):
# $(PYTHON)'s pip (--python, pip >= 22.3), else the venv's own from ensurepip. With plain pip, after one message,
# when uv cannot be had (or USE_UV=0). The venv is made without pip (ensurepip alone takes seconds); pip is
# installed into it with the rest, for `%pip install` in a notebook.
define install
	@uv="$$(command -v uv || true)"; \
	if [ "$(USE_UV)" = 0 ]; then uv=""; \
	elif [ -z "$$uv" ]; then \
	  if [ -x $(VENV)/bin/uv ] || $(PYTHON) -m pip --python $(PY) install $(PIP_QUIET) $(INDEX) uv >/dev/null 2>&1 \
	    || { $(PY) -m ensurepip --default-pip >/dev/null 2>&1 && $(PY) -m pip install $(PIP_QUIET) $(INDEX) uv >/dev/null 2>&1; }; then \
	    uv=$(VENV)/bin/uv; \
	  else echo "loop-lab: uv could not be installed; installing with pip instead (a minute or two)"; fi; \
	fi; \
	if [ -n "$$uv" ]; then "$$uv" pip install --quiet --python $(PY) $(INDEX) -c $(LOCK) $(1) pip; \
	else { $(PY) -m pip --version >/dev/null 2>&1 || $(PY) -m ensurepip --default-pip >/dev/null; } \
	  && $(PY) -m pip install $(PIP_QUIET) $(INDEX) -c $(LOCK) $(1); fi
endef

install: $(STAMP)

$(STAMP): pyproject.toml $(LOCK)
	@if [ -n "$(OFFLINE)" ] && ! ls $(OFFLINE)/loop_lab-*.whl >/dev/null 2>&1; then \
	  echo "loop-lab: OFFLINE=$(OFFLINE) is not a wheelhouse (no loop_lab-*.whl in it); make one with \`make wheelhouse\` where there is a network"; exit 1; fi
	@test -x $(PY) || $(PYTHON) -m venv --without-pip $(VENV)
	$(call install,$(TEST_REQS))
	@touch $(STAMP)

# For a room without network (run once, online, on the laptops' operating system and processor): every wheel
# `make setup` installs at the lock's versions, the build backend (setuptools, for the editable install), pip and
# uv, and the course (the loop-lab wheel carries the notebooks). Then `make setup OFFLINE=$(WHEELHOUSE)` in a
# clone, or `pip install --no-index --find-links $(WHEELHOUSE) 'loop-lab[course]'` and `loop-lab lab` without one.
wheelhouse: install
	$(PY) -m pip wheel $(PIP_QUIET) --wheel-dir $(WHEELHOUSE) -c $(LOCK) '.[test]' pip uv 'setuptools>=77'
	@echo "wheelhouse: $$(ls $(WHEELHOUSE)/*.whl | wc -l) wheels in $(WHEELHOUSE)/; install with \`make setup OFFLINE=$(WHEELHOUSE)\`"

# JupyterLab on notebooks/; kernels inherit the kit's settings (they also find its server on their own).
lab: setup
	DATABASE_URL="$$($(PY) -m kit db url)" $(VENV)/bin/jupyter lab --notebook-dir=notebooks $(LAB_PORT_ARG) $(ROOT_FLAG) $(LAB_ARGS)

# What CI checks before the tests: ruff's lint and format over kit/ and tests/ (configured in pyproject.toml).
lint: install
	$(VENV)/bin/ruff check kit tests
	$(VENV)/bin/ruff format --check kit tests

# $(call leased,COMMAND): COMMAND with the kit's server up. The recipe's shell ($$$$) holds a lease on the server
# while COMMAND runs (kit/db/leases.py); the server is stopped afterwards if this started it and no other run uses it.
define leased
	@if $(PY) -m kit db status --quiet; then started=0; else started=1; fi; \
	$(PY) -m kit db start --hold $$$$ || exit 1; \
	$(1); rc=$$?; \
	if [ $$started = 1 ]; then $(PY) -m kit db stop --release $$$$; fi; \
	exit $$rc
endef

# The kit and the course against a real server, in pytest-xdist workers (each tests in a database of its own; one
# file stays on one worker, as its module fixtures expect; `make test XDIST=` runs it in one process).
XDIST ?= -n auto --dist loadfile
test: install
	$(call leased,$(PY) -m pytest $(XDIST) $(PYTEST_ARGS))

# The diagnose tools on the corpus of real suites (tests/realworld/, docs/diagnose.md): each one plain, guarded and
# audited twice, in subprocesses; with Debian's redis-server (see .ci/run). One file: its tests spread over the workers.
CORPUS_XDIST ?= -n auto --dist load
test-corpus: install
	$(call leased,$(PY) -m pytest tests/corpus $(CORPUS_XDIST) $(PYTEST_ARGS))

# The install routes: `make install` and `make setup` (uv, plain pip, a wheelhouse with no network), the wheel and
# the sdist (`uv build`) in fresh venvs, Binder's postBuild and start as an unprivileged user, repo2docker.
test-install: install
	$(call leased,$(PY) -m pytest tests/install $(XDIST) $(PYTEST_ARGS))

# Notebooks 00 and 01 run through JupyterLab's UI in headless Chromium (Debian's `chromium`; see .ci/run), with
# pytest-playwright: a failing test leaves its trace and a screenshot in artifacts/playwright/ (`playwright show-trace`).
# Screenshots and JupyterLab's log go to artifacts/; docs/browser-test.md says more.
BROWSER_TESTS ?= tests/browser
BROWSER_ARGS  := -p playwright --tracing retain-on-failure --screenshot only-on-failure --output artifacts/playwright
test-browser: install-browser
	$(call leased,$(PY) -m pytest $(BROWSER_TESTS) $(BROWSER_ARGS) $(PYTEST_ARGS))

# A real JupyterHub (docs/jupyterhub_config.py) with real OS users, the local process spawner and the kit's own server
# as the room's central PostgreSQL: HUB_LEARNERS learners (30) log in and run notebooks 01 and 03 at once, one more in
# Chromium (tests/hub/, docs/deploying.md). As root: it adds OS users and removes them again. Its last line:
# `hub: N learners, X s, Y MB per learner` (also in artifacts/hub.txt, with the room's status).
HUB_TESTS    ?= tests/hub
HUB_LEARNERS ?= 30
test-hub: install-hub
	@if $(PY) -m kit db status --quiet; then started=0; else started=1; fi; \
	$(PY) -m kit db start --hold $$$$ || exit 1; \
	rm -f artifacts/hub.txt; \
	HUB_LEARNERS=$(HUB_LEARNERS) PATH="$(abspath $(dir $(CHP))):$$PATH" $(PY) -m pytest $(HUB_TESTS) $(PYTEST_ARGS); rc=$$?; \
	if [ $$started = 1 ]; then $(PY) -m kit db stop --release $$$$; fi; \
	if [ -f artifacts/hub.txt ]; then tail -n 1 artifacts/hub.txt; fi; \
	exit $$rc

# The library's own tests (diagnose and plugin), each run in a uv venv under .venvs/ holding the library alone (core
# dependencies at the lock's versions): .ci/library-tests runs them, against the kit's server, for each line it reads.
LIBRARY_TESTS := tests/test_guard.py tests/test_audit.py tests/test_recorder.py tests/test_plugin.py
LIBRARY_RUN = PY=$(PY) UV=$(VENV)/bin/uv LOCK=$(LOCK) LIBRARY_TESTS="$(LIBRARY_TESTS)" PYTEST_ARGS="$(PYTEST_ARGS)" .ci/library-tests

# On every Python 3.10-3.13 on this machine (.ci/pythons lists them).
test-pythons: install
	@for python in $$(.ci/pythons); do echo "$$(basename $$python) $$python"; done | $(LIBRARY_RUN)

# On every pytest-asyncio version the diagnose tools support, 0.23 to 1.x, on pytest 8 and 9 (.ci/asyncio-versions
# lists them), with $(PYTHON).
test-matrix: install
	@PYTHON=$(PYTHON) .ci/asyncio-versions | $(LIBRARY_RUN)

# Playwright (from PyPI) drives the system's Chromium; it never downloads a browser of its own.
install-browser: $(BROWSER_STAMP)

$(BROWSER_STAMP): $(STAMP)
	$(call install,$(BROWSER_REQS))
	@touch $(BROWSER_STAMP)

install-hub: $(HUB_STAMP)

$(HUB_STAMP): $(BROWSER_STAMP)
	$(call install,$(HUB_REQS))
	npm install --silent --no-audit --no-fund --prefix $(VENV)/node configurable-http-proxy@$(CHP_VERSION)
	@touch $(HUB_STAMP)

stop:
	@if [ -x $(PY) ]; then $(PY) -m kit db stop; else echo "nothing to stop: $(VENV) does not exist"; fi

# Stop the server, delete its data and the virtual environment.
clean:
	@if [ -x $(PY) ]; then $(PY) -m kit db stop --remove; fi
	rm -rf $(VENV) .venvs .pytest_cache .ruff_cache build dist *.egg-info

# JupyterLab autosaves outputs into the notebooks; the course is committed without them. Strips them, keeping cell ids.
notebooks-clean: install
	$(PY) -m kit.course.strip notebooks/

notebooks-check: install
	$(PY) -m kit.course.strip --check notebooks/
