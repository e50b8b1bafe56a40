# ML Bits: `make book` builds the HTML book, `make test` runs the whole suite.
# Both create .venv on first use: torch==2.13.0 first (never a CUDA build by accident), then requirements.txt,
# then mlbits_lite itself (editable).
PYTHON ?= python3
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
PY     := $(BIN)/python
READY  := $(VENV)/.ready
NB     ?= notebooks/*.ipynb

# Jupyter kernels, papermill and jupyter-book all resolve `python` on PATH: make it the venv's.
export PATH := $(BIN):$(PATH)
export PYTHONHASHSEED := 0
# One thread per notebook: the book's tensors are small, and the tests run two notebooks at once on two cores,
# where PyTorch's default of one thread per core oversubscribes the CPU and small models slow down many times over.
export OMP_NUM_THREADS := 1

.PHONY: book test execute timings venv chromium clean

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
# in fast mode (check cells' printed lines compared with the committed outputs).
test: $(READY) chromium
	MLBITS_FAST=1 $(PY) -m pytest -n 2 --dist loadfile --nbval-lax --nbval-current-env tests/ notebooks/ book/datasets.ipynb

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
