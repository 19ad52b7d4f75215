# ccpbx: the two commands a newcomer types are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: all venv sandbox test test-fast chaos demo bench bench-dialer lint fmt install-systemd clean

all: test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test,dev]'
	touch $(STAMP)

venv: $(STAMP)

# Builds (or reuses) the cached Asterisk 22 + SIPp root, outside the checkout.
sandbox: $(STAMP)
	$(PY) -m ccpbx.sandbox.prepare

# Every test but the full-size fault and load cases (each has a smaller variant here).
test: sandbox
	$(PY) -m pytest -p no:cacheprovider -m "not chaos" $(PYTEST_ARGS)

# The full-size fault and load cases (minutes each), on the real sandbox.
chaos: sandbox
	$(PY) -m pytest -p no:cacheprovider -m chaos -s $(PYTEST_ARGS)

# Unit tests only (no Asterisk): quick feedback while editing.
test-fast: $(STAMP)
	$(PY) -m pytest -p no:cacheprovider -m "not asterisk and not chaos" $(PYTEST_ARGS)

demo: sandbox
	$(PY) -m ccpbx.sandbox.demo $(DEMO_ARGS)

bench: sandbox
	$(PY) bench/run_all.py $(BENCH_ARGS)

bench-dialer: $(STAMP)
	$(PY) bench/dialer_table.py

lint: $(STAMP)
	$(VENV)/bin/ruff check ccpbx tests bench
	$(VENV)/bin/mypy

fmt: $(STAMP)
	$(VENV)/bin/ruff format ccpbx tests bench

# Installs the systemd unit and a default config (as root): see README "Running as a service".
install-systemd:
	install -D -m 0644 docker/ccpbx.service /etc/systemd/system/ccpbx.service
	test -e /etc/ccpbx/ccpbx.toml || install -D -m 0640 docker/ccpbx.toml.example /etc/ccpbx/ccpbx.toml
	systemctl daemon-reload
	@echo "edit /etc/ccpbx/ccpbx.toml, then: systemctl enable --now ccpbx"

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
