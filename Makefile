# Every target installs what it needs into .venv, so a fresh clone needs only Python 3 and pip.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The Pythons pyproject.toml declares; `make test-all` runs the suite on each one pyenv has.
PYTHONS ?= 3.10 3.11 3.12 3.13

.PHONY: demo test test-all wheel lint typecheck docs bench clean install

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev,local,arrow]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/quickstart.py

lint: $(STAMP)
	$(BIN)/ruff check bloop tests examples benchmarks

# Settings in pyproject.toml ([tool.mypy]).
typecheck: $(STAMP)
	$(BIN)/mypy bloop

docs: $(STAMP)
	$(BIN)/sphinx-build -q -n -W --keep-going -b html docs docs/_build/html

test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest -q tests
	$(MAKE) docs

# The wheel users install: name, licence, py.typed and metadata as built from this checkout.
wheel:
	rm -rf dist
	$(PYTHON) -m pip wheel -q --no-deps -w dist .

# For each declared Python pyenv has: a fresh venv with the wheel (not editable) and its local extra
# runs the quickstart, then the whole suite runs there. PYTHONS="3.10" narrows it.
test-all: wheel
	PYTHONS="$(PYTHONS)" bash .ci/test-all

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .venv-py* dist build docs/_build .pytest_cache
