# ML Bits: `make book` builds the HTML book, `make test` runs the whole suite.
# Both create .venv on first use: torch==2.13.0 first (never a CUDA build by accident), then requirements.txt,
# then mlbits_lite itself (editable).
PYTHON ?= python3
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
PY     := $(BIN)/python
READY  := $(VENV)/.ready
NB     ?= notebooks/*.ipynb
# Colab's versions (tests/colab/constraints.txt) on this machine's Python: `make colab`, part of `make test`.
COLAB_VENV  := .venv-colab
COLAB_BIN   := $(CURDIR)/$(COLAB_VENV)/bin
COLAB_PY    := $(COLAB_BIN)/python
COLAB_READY := $(COLAB_VENV)/.ready

# Jupyter kernels, papermill and jupyter-book all resolve `python` on PATH: make it the venv's.
export PATH := $(BIN):$(PATH)
export PYTHONHASHSEED := 0
# One thread per notebook: the book's tensors are small, and the tests run two notebooks at once on two cores,
# where PyTorch's default of one thread per core oversubscribes the CPU and small models slow down many times over.
export OMP_NUM_THREADS := 1

.PHONY: book test execute timings venv chromium clean colab student

venv: $(READY)

$(READY): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

book: $(READY)
	$(BIN)/jupyter-book build . --builder html -W -n --keep-going
	@echo "Open $(CURDIR)/_build/html/index.html"

# The rendered-page test needs Chromium; install Debian's when we can, otherwise that test skips and says why.
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) ; } || \
	  echo "chromium not available: the rendered-page test will be skipped"

# Unit tests, notebook structure, the strict book build and rendered pages, and every notebook re-run by nbval
# in fast mode (check cells' printed lines compared with the committed outputs); then `make colab`, which runs
# even when the first part failed (the exit status is a failure if either failed).
# Bounded: a kernel that does not start in 120 s, or a cell still running after 300 s, fails and is named.
test: $(READY) chromium
	MLBITS_FAST=1 $(PY) -m pytest -n 2 --dist loadfile --nbval-lax --nbval-current-env \
	  --nbval-kernel-startup-timeout=120 --nbval-cell-timeout=300 --ignore=tests/colab \
	  tests/ notebooks/ book/datasets.ipynb; status=$$?; \
	$(MAKE) --no-print-directory colab || status=1; exit $$status

# .venv-colab: torch==2.13.0 first (the local CPU build; Colab has 2.11.0), then Colab's versions and the test tools.
# base-freeze.txt records it before anything else is installed, so the install test can list what it adds.
$(COLAB_READY): tests/colab/constraints.txt tests/colab/requirements.txt
	test -x $(COLAB_PY) || $(PYTHON) -m venv $(COLAB_VENV)
	$(COLAB_PY) -m pip install --quiet torch==2.13.0
	$(COLAB_PY) -m pip install --quiet -r tests/colab/requirements.txt
	$(COLAB_PY) -m pip freeze --all > $(COLAB_VENV)/base-freeze.txt
	touch $@

# Colab parity: installing mlbits_lite as the set-up cell does changes none of Colab's versions (first: it brings
# the packages Colab lacks), then every chapter's student edition and every book page run in fast mode there.
colab: $(COLAB_READY)
	@start=$$(date +%s); \
	PATH=$(COLAB_BIN):$$PATH $(COLAB_PY) -m pytest -q tests/colab/test_install.py && cat _build/colab/install.txt && \
	PATH=$(COLAB_BIN):$$PATH MLBITS_FAST=1 $(COLAB_PY) -m pytest -n 2 --dist load tests/colab/test_run.py; \
	status=$$?; echo "Colab-versions run: $$(( $$(date +%s) - start )) s"; exit $$status

# Student editions: every chapter without its solutions, exercise cells left as stubs, in _build/student/
# (make student NB=notebooks/03_huber_smooth_l1.ipynb for one).
student: $(READY)
	$(PY) tests/nbtools.py student $(NB)

# Re-execute notebooks in full mode, in place, and stamp them (make execute NB=notebooks/01_backward_jvp.ipynb).
execute: $(READY)
	$(PY) tests/nbtools.py execute $(NB)

# Time every notebook in fast and full mode; writes book/timings.json, the chapter map and each "Run time" line.
timings: $(READY)
	$(PY) tests/nbtools.py timings $(NB)

clean:
	rm -rf _build

# Tag a release: `make release TAG=v0.1.0`. Refuses unless TAG equals _config.yml's mlbits.release_tag, the work
# tree is committed, every notebook is fresh and the book builds strictly; then tags HEAD (nothing is pushed).
.PHONY: release actionlint
release: $(READY)
	$(PY) tests/release.py $(TAG)

# actionlint on .github/workflows (also part of `make test`: tests/test_workflows.py installs it on first use).
actionlint: $(READY)
	$(PY) -m pytest -q -p no:xdist tests/test_workflows.py
