# Two commands on a fresh clone: `make demo` (train and report on synthetic demo data) and
# `make test` (the test suite). Each creates the virtual environment when it is missing, with the
# versions pinned in $(LOCK). Another Python: `make test PYTHON=python3.13 VENV=.venv-3.13`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LOCK := requirements/lock.txt
WORKERS ?= 2
export KEDRO_DISABLE_TELEMETRY := true

.PHONY: install lock demo lint test test-fast viz mlflow-ui docs docs-build builtin-model

# A reinstall (after pyproject.toml or the lock changed) keeps the environment's own Python.
$(VENV)/.installed: pyproject.toml $(LOCK)
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is needed (set PYTHON=python3.11)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e ".[test,docs]"
	touch $@

install: $(VENV)/.installed

# Re-resolve $(LOCK) from pyproject.toml to the newest releases, for Linux on Python 3.11 to 3.13
# (the environments in [tool.uv]); commit the result, then `make install` picks it up.
lock:
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet "uv>=0.9"
	.venv-lock/bin/uv pip compile pyproject.toml --extra test --extra docs --universal --python-version 3.11 --upgrade --quiet --custom-compile-command "make lock" -o $(LOCK)

demo: install
	$(BIN)/pediatric-pneumonia demo-data
	$(BIN)/kedro run --env demo

lint: install
	$(BIN)/ruff check src tests benchmarks

# Two workers (pytest-xdist), each module on one worker so its fixtures are built once: the suite
# keeps about one core busy per worker. More cores: `make test WORKERS=4` (each worker can take ~5 GB).
test: install
	$(BIN)/python -m pytest -n $(WORKERS) --dist loadfile --durations=25

# The tier a contributor runs while working: everything but the tests marked slow.
test-fast: install
	$(BIN)/python -m pytest -n $(WORKERS) --dist loadfile -m "not slow"

viz: install
	$(BIN)/kedro viz run --host 127.0.0.1 --port 4141

mlflow-ui: install
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db --host 127.0.0.1 --port 5000

# The manual (docs/, mkdocs.yml): `make docs` serves it at http://127.0.0.1:8000 with live reload;
# `make docs-build` builds site/ and fails on any warning (a broken link, a missing page), as CI does.
docs: install
	$(BIN)/mkdocs serve

docs-build: install
	$(BIN)/mkdocs build --strict

# Maintainers: retrain the built-in model (src/pediatric_pneumonia/builtin_model/) with the default
# `baseline` on RAW, a public layout whose train/ holds the whole public train split (5,216 images),
# and replace it with the new package, its model card and provenance (docs/use-a-model.md).
RAW ?= data/01_raw/chest_xray
SEED ?= 42
BUILTIN_DATA ?= the public Kermany et al. train split (5,216 pediatric X-rays; 15% of patients held out for validation)
builtin-model: install
	$(BIN)/kedro run --pipeline baseline --params "raw_data.root=$(RAW),training.seed=$(SEED)"
	$(BIN)/python -c "from pediatric_pneumonia.inference.builtin import main; main()" \
		"$$(ls -d data/06_models/baseline/predictor/*/predictor | sort | tail -1)" \
		--model-card "$$(ls -d data/06_models/baseline/model_card.md/*/model_card.md | sort | tail -1)" \
		--data "$(BUILTIN_DATA)" --commit "$$(git rev-parse --short HEAD)" --seed $(SEED) \
		--command 'make builtin-model RAW=<train split> SEED=$(SEED)'
