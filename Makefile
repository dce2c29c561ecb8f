# Two commands on a fresh clone: `make demo` (train and report on synthetic demo data) and
# `make test` (the test suite). Each creates the virtual environment when it is missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export KEDRO_DISABLE_TELEMETRY := true

.PHONY: install demo lint test viz mlflow-ui

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is needed (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/pediatric-pneumonia demo-data
	$(BIN)/kedro run --env demo

lint: install
	$(BIN)/ruff check src tests benchmarks

test: install
	$(BIN)/python -m pytest

viz: install
	$(BIN)/kedro viz run --host 127.0.0.1 --port 4141

mlflow-ui: install
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db --host 127.0.0.1 --port 5000
