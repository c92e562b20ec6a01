# wizevol: `make demo` runs the main job, `make test` passes the tests. Both set up .venv themselves.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(VENV)/bin/ruff check wizevol tests bench

test: install lint
	$(PY) -m pytest -q -p no:cacheprovider

bench: install
	$(PY) bench/evolve_throughput.py

clean:
	rm -rf $(VENV) runs .cache
