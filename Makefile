# pdesim: every target installs what it needs into .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test test-all lint format bench data train eval clean

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

# The tiny Walrus on the default 1-D and 2-D KS datasets (about 4 + 10 minutes on 2 CPU
# cores); an interrupted run resumes from its last checkpoint.
train: install
	$(BIN)/surrogates train --data datasets/ks1d --model walrus --config tiny \
		--out runs/ks1d-tiny --steps 1000 --lr 0.001 --warmup 50 --val-every 100 --resume
	$(BIN)/surrogates train --data datasets/ks2d --model walrus --config tiny \
		--out runs/ks2d-tiny --steps 600 --lr 0.001 --warmup 50 --val-every 100 --resume

# Long-horizon evaluation of the trained runs and the baselines (persistence, climatology,
# DMD, the solver's twin): report.json, PNGs and summary.md in RUN_DIR/eval/<dataset>/.
EVAL_RUNS ?= runs/ks1d-tiny runs/ks2d-tiny
eval: install
	@for run in $(EVAL_RUNS); do \
		if [ ! -f $$run/checkpoint.pt ]; then \
			echo "make eval: $$run has no trained model yet: run 'make train' first" >&2; \
			exit 1; \
		fi; \
		$(BIN)/surrogates eval $$run || exit 1; \
	done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
