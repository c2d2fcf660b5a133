# The two commands a fresh machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-ha lint typecheck bench clean

# A real Home Assistant for `make test-ha`, in its own venv (it needs Python 3.13 and pins
# hundreds of packages of its own). Installed once, then reused: ~5 min the first time.
HA_VERSION  := 2025.4.4
HA_PYTHON   ?= $(firstword $(wildcard /root/.pyenv/versions/3.13.*/bin/python3) $(shell command -v python3.13))
HA_VENV     := .ha-venv
HA_STAMP    := $(HA_VENV)/.installed-$(HA_VERSION)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/huis demo --config config/home.yaml

lint: $(STAMP)
	$(BIN)/ruff check controller devices simulators dashboard huis central tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: $(STAMP) lint
	$(BIN)/pytest

$(HA_STAMP):
	@test -n "$(HA_PYTHON)" || { echo "make test-ha: Home Assistant $(HA_VERSION) needs Python 3.13 (pyenv install 3.13.0, or set HA_PYTHON=...)"; exit 1; }
	@test -x $(HA_VENV)/bin/python || $(HA_PYTHON) -m venv $(HA_VENV)
	$(HA_VENV)/bin/pip install --quiet --upgrade pip
	# What the integrations the test loads would otherwise install at Home Assistant's first start.
	$(HA_VENV)/bin/pip install --quiet homeassistant==$(HA_VERSION) paho-mqtt==2.1.0 home-assistant-frontend==20250411.0
	@touch $(HA_STAMP)

# Not part of `make test` (pytest deselects the marker there); `.ci/run` runs both.
test-ha: $(STAMP) $(HA_STAMP)
	$(BIN)/pytest -m homeassistant -p no:cacheprovider tests/integration/test_ha_real.py

# Compiled first: as installed (pip compiles the package; a PYTHONDONTWRITEBYTECODE=1 shell would
# otherwise compile every module of the checkout again at each start the benchmarks time).
bench: $(STAMP)
	$(BIN)/python -m compileall -q controller devices simulators dashboard huis central
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) $(HA_VENV) .pytest_cache .mypy_cache .ruff_cache
