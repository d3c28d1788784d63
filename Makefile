# pdesim: every target installs what it needs into .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test test-all lint format bench data train clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest -q

test-all: install
	$(BIN)/python -m pytest -q -m "slow or not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# `make bench` runs every benchmark; `make bench-NAME` runs benchmarks/bench_NAME.py.
bench: install
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

bench-%: install
	$(BIN)/python benchmarks/bench_$*.py

data: install
	$(BIN)/pdesim data datasets/*.toml

# The tiny Walrus on 2-D KS (5-10 minutes on 2 CPU cores); resumes an interrupted run.
train: install
	$(BIN)/surrogates train --data datasets/ks2d --model walrus --config tiny \
		--out runs/ks2d-tiny --steps 600 --lr 0.001 --warmup 50 --val-every 100 --resume

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
