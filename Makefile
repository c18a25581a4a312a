# Miyabi Character Studio. Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
PORT ?= 8501

.PHONY: run test bench lint install install-dev system-deps clean-studio notebook

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv==0.13.9

$(VENV)/.installed: requirements.txt | $(UV)
	$(UV) pip install --quiet --python $(PY) -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(UV)
	$(UV) pip install --quiet --python $(PY) -r requirements-dev.txt
	touch $(VENV)/.installed $@

$(VENV)/.installed-notebook: requirements.txt requirements-dev.txt requirements-notebook.txt | $(UV)
	$(UV) pip install --quiet --python $(PY) -r requirements-notebook.txt
	touch $(VENV)/.installed $(VENV)/.installed-dev $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# exec: make forwards SIGTERM to its recipe's process; a shell in between would die and orphan the studio.
run: install
	PORT=$(PORT) exec $(PY) -m lib run

# Debian packages the tests need, installed when missing (as root, e.g. in CI): an independent PSD reader, and
# the browser the Playwright tests drive plus a CJK font for the Japanese labels (never `playwright install`).
system-deps:
	@dpkg -s imagemagick >/dev/null 2>&1 || { \
		echo "installing imagemagick (independent PSD reader for the tests)"; \
		apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq imagemagick >/dev/null; }
	@dpkg -s chromium fonts-noto-cjk >/dev/null 2>&1 || { \
		echo "installing chromium and fonts-noto-cjk (browser tests)"; \
		apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; }

test: install-dev system-deps
	$(PY) -m pytest

lint: install-dev
	$(VENV)/bin/ruff check .

# JupyterLab on notebooks/ (prompt tuning, consistency calibration, cost report), kernel = this venv's Python.
notebook: $(VENV)/.installed-notebook
	$(VENV)/bin/jupyter lab notebooks/

bench: install-dev
	$(PY) benchmarks/run_all.py

clean-studio:
	rm -rf .studio
