# pdesim: every target installs what it needs into .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test test-all lint format bench bench-peers data train train-ks2d eval ablate-jitter clean

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

# `make bench` runs every benchmark but bench_peers (`make bench-peers`, its own venv);
# `make bench-NAME` runs benchmarks/bench_NAME.py.
bench: install
	for script in benchmarks/bench_*.py; do \
		[ $$script = benchmarks/bench_peers.py ] || $(BIN)/python $$script || exit 1; done

bench-%: install
	$(BIN)/python benchmarks/bench_$*.py

# pdesim against exponax (JAX) on the cases of issue 20, in an environment of its own:
# exponax and jax[cpu] from PyPI, pdesim editable with its solver dependencies (torch,
# which only the surrogates use, left out); .venv is never touched.
PEERS_VENV  := .venv-peers
PEERS_BIN   := $(PEERS_VENV)/bin
PEERS_STAMP := $(PEERS_VENV)/.installed

bench-peers: $(PEERS_STAMP)
	$(PEERS_BIN)/python benchmarks/bench_peers.py

$(PEERS_STAMP): pyproject.toml
	test -x $(PEERS_BIN)/python || $(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_BIN)/python -m pip install --quiet --upgrade pip
	@$(PEERS_BIN)/python -m pip install --quiet exponax 'jax[cpu]' || { \
		echo "make bench-peers: could not install exponax and jax[cpu] into $(PEERS_VENV)" >&2; \
		exit 1; }
	$(PEERS_BIN)/python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; print('\n'.join(d for d in deps if not d.startswith('torch')))" > $(PEERS_VENV)/requirements.txt
	$(PEERS_BIN)/python -m pip install --quiet -r $(PEERS_VENV)/requirements.txt
	$(PEERS_BIN)/python -m pip install --quiet --no-deps -e .
	touch $(PEERS_STAMP)

data: install
	$(BIN)/pdesim data datasets/*.toml

# The headline KS1D surrogate: the tiny Walrus trained for long rollouts (input noise,
# 4-step pushforward loss grown by a curriculum, weight EMA, weights kept by the valid
# split's closed-loop VPT, changes scaled by the state's RMS so that no steady state is
# absorbing, then per Fourier mode by train-split statistics with a loss in those
# whitened coordinates, the window's log RMS as an input; two frames in; peak learning
# rate 2e-3; docs/experiments_ks1d.md). About 23-25 minutes on 2 CPU cores; an
# interrupted run resumes (with the same recipe only).
KS1D_RECIPE := --data datasets/ks1d --model walrus --config tiny --steps 6000 \
	--batch-size 32 --lr 0.002 --warmup 100 --rollout-steps 4 --rollout-curriculum 2000 \
	--input-noise 0.01 --ema 0.999 --delta-scale state --spectral-head --whitened-loss 0.01 \
	--scale-input --n-steps-input 2 --val-every 250 --val-horizon 200 --val-starts 32
# The README's numbers were trained on the CPU; `make train TRAIN_DEVICE=auto` uses a GPU
# where torch finds one (different kernels: the numbers will differ).
TRAIN_DEVICE ?= cpu
train: install
	$(BIN)/surrogates train $(KS1D_RECIPE) --device $(TRAIN_DEVICE) --out runs/ks1d --resume

# The tiny Walrus on the 2-D KS dataset (about 10 minutes on 2 CPU cores).
train-ks2d: install
	$(BIN)/surrogates train --data datasets/ks2d --model walrus --config tiny \
		--out runs/ks2d-tiny --steps 600 --lr 0.001 --warmup 50 --val-every 100 --resume

# Long-horizon evaluation of the trained runs against the reservoir, persistence,
# climatology, DMD and the solver's twin: report.json, rollouts.hdf5, PNGs and
# summary.md in RUN_DIR/eval/<dataset>/.
EVAL_RUNS ?= runs/ks1d
eval: install
	@for run in $(EVAL_RUNS); do \
		if [ ! -f $$run/best.pt ]; then \
			echo "make eval: $$run has no trained model yet: run 'make train' first" >&2; \
			exit 1; \
		fi; \
		$(BIN)/surrogates eval $$run || exit 1; \
	done

# The Walrus paper's jitter ablation on KS1D: the recipe of `make train` without
# jittering, at the same steps and batch; evaluates both runs (after `make train`).
ablate-jitter: install
	$(BIN)/surrogates train $(KS1D_RECIPE) --no-jitter --device $(TRAIN_DEVICE) \
		--out runs/ks1d-no-jitter --resume
	$(BIN)/python benchmarks/jitter_ablation.py runs/ks1d runs/ks1d-no-jitter

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
