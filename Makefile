# Two commands set everything up: `make book` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
NB     ?=
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help install book test test-fast notebooks lab chromium check-site data-samples data-full bench student grade clean install-cells

help:
	@echo "make book        build the HTML book into _build/html (creates .venv and installs on first use)"
	@echo "make test        unit tests + nbval over every notebook in book/"
	@echo "make test-fast   the unit tests without the slow ones and without the notebooks (about a minute)"
	@echo "make lab         open the notebooks in JupyterLab"
	@echo "make notebooks   re-execute the notebooks in place with widget state (NB=book/xx.ipynb for one)"
	@echo "make check-site  open every built page in headless Chromium and check it (SCREENSHOTS=dir to save PNGs)"
	@echo "make data-samples regenerate data_samples/charades-sta-sim exactly (simulated)"
	@echo "make data-full   write a simulated benchmark of Charades-STA's size into data/ (REAL=dir: real annotations)"
	@echo "make bench       batch assembly and the train step against the authors' way (each in one run)"
	@echo "make student     write every chapter's student version (solutions removed) into _build/student/"
	@echo "make grade NB=path/to/notebook.ipynb   run a notebook and grade its exercises"
	@echo "make answers     write the instructor's answer key into _build/answers/"
	@echo "make install-cells  refresh every chapter's install cell (after setting repository.url in _config.yml)"

# The virtual environment, with the exact versions of requirements.txt and the package in editable mode.
$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

install: $(STAMP)

# MathJax 3, RequireJS and the widget manager, so the built pages render with no network.
_vendor/VERSIONS.json: tools/vendor_assets.py
	$(PY) tools/vendor_assets.py _vendor

book: $(STAMP) _vendor/VERSIONS.json
	$(VENV)/bin/jupyter-book build . --builder html --all -W -n --keep-going
	@echo "The book's front page: $(abspath _build/html/index.html)"

test: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
	$(PY) -m pytest --nbval-lax --nbval-current-env

test-fast: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
	$(PY) -m pytest tests -m "not slow" -q

notebooks: $(STAMP)
	$(PY) tools/execute_notebooks.py $(NB)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab book/

# Debian's Chromium and ChromeDriver, installed when missing.
chromium:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }

check-site: book chromium
	$(PY) tools/check_site.py _build/html $(if $(SCREENSHOTS),--screenshots $(SCREENSHOTS))

data-samples: $(STAMP)
	$(PY) -m cnm_minimal simulate sample --out data_samples/charades-sta-sim

data-full: $(STAMP)
	$(PY) -m cnm_minimal simulate full --out data/charades-sta-sim-full $(if $(REAL),--real-annotations $(REAL))

bench: $(STAMP)
	$(PY) benchmarks/bench_batching.py
	$(PY) benchmarks/train_step.py --json book/results/benchmarks/train_step_cpu.json

student: $(STAMP)
	$(PY) tools/student.py --out _build/student

# CELLS=all|exercises overrides the chapter's default (exercise cells only for chapter 9); CHECKS=file for private checks
grade: $(STAMP)
	@test -n "$(NB)" || (echo "usage: make grade NB=path/to/notebook.ipynb [CELLS=all|exercises] [CHECKS=file]" >&2; exit 2)
	$(PY) tools/grade.py $(NB) $(if $(CELLS),--cells $(CELLS)) $(if $(CHECKS),--checks $(CHECKS))

# The instructor's answer key (tools/answer_key.md, the chapters' questions and graded solutions), apart from the book
.PHONY: answers
answers: $(STAMP)
	$(PY) tools/answers.py --out _build/answers

clean:
	rm -rf _build

# Every chapter's first code cell: what makes a downloaded notebook run on its own (tools/install_cell.py).
install-cells: $(STAMP)
	$(PY) tools/install_cell.py
