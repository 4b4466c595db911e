# ahnpl-lightning: `make demo` trains the default run, `make test` runs the suite. Each installs what it needs first.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CONFIG ?= configs/ahnpl.yaml
EVAL_ROOT ?=
PYTEST_ARGS ?=
export PYTHONHASHSEED := 0

.PHONY: install demo test test-fast eval bench bench-quality gpu-check gpu-wheels lint clean wordnet notebook

$(PY):
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required ($(PYTHON) not found); set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# torch/torchvision are pinned exactly (they install from this machine's local wheel store); the stamp makes a
# second `make install` a no-op unless setup.cfg changed.
$(STAMP): setup.cfg pyproject.toml | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q --upgrade pip setuptools wheel
	$(PY) -m pip install --disable-pip-version-check -q torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install --disable-pip-version-check -q -e '.[dev]'
	$(MAKE) --no-print-directory wordnet
	touch $(STAMP)

# WordNet for nltk, offline: Debian's wordnet-base when root and missing, then nltk's layout (+ lexnames) in a cache.
wordnet: | $(PY)
	@if [ ! -e /usr/share/wordnet/data.noun ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's wordnet-base for nltk"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wordnet-base wordnet-sense-index >/dev/null; \
	fi
	$(PY) -m ahnpl_lightning.data.negatives.lexicon.wordnet

install: $(STAMP)

demo: install
	$(VENV)/bin/lightning fit --config $(CONFIG)

test: install
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest -q -m "not slow and not gpu" $(PYTEST_ARGS)

# Evaluate the latest checkpoint of the default run on the synthetic world's test sets (written once to
# data/world_eval), or on real benchmark data with EVAL_ROOT=/path/to/root. CKPT=... picks another checkpoint;
# EVAL_ARGS=--allow-partial accepts a root that lacks some of EVAL_BENCHMARKS.
EVAL_BENCHMARKS ?= aro,sugarcrepe,valse,winoground,vl_checklist,retrieval
eval: install
	@ckpt="$(CKPT)"; [ -n "$$ckpt" ] || ckpt=$$(ls -t runs/ahnpl/version_*/checkpoints/last.ckpt 2>/dev/null | head -n 1); \
	[ -n "$$ckpt" ] || { echo "no checkpoint under runs/ahnpl: run 'make demo' first or pass CKPT=path.ckpt"; exit 1; }; \
	root="$(EVAL_ROOT)"; if [ -z "$$root" ]; then root=data/world_eval; \
		[ -f $$root/world_manifest.json ] || $(VENV)/bin/ahnpl world --output $$root --size 200; fi; \
	mkdir -p results; \
	$(VENV)/bin/ahnpl eval --benchmarks $(EVAL_BENCHMARKS) --data-root $$root --ckpt-path $$ckpt \
		--output results/eval.json --csv results/eval.csv --markdown results/eval.md $(EVAL_ARGS)

# The margin-dynamics notebook, headless. RUNS (comma-separated, relative to the repository root) and SMOOTHING (0-1,
# TensorBoard's) are optional: `make notebook RUNS=runs/ahnpl,runs/negclip SMOOTHING=0.6`; figures: notebooks/figures.
RUNS ?=
SMOOTHING ?=
notebook: install
	AHNPL_RUNS="$(RUNS)" AHNPL_SMOOTHING="$(SMOOTHING)" $(VENV)/bin/jupyter nbconvert --to notebook --execute \
		notebooks/margin_dynamics.ipynb --output margin_dynamics.out.ipynb

bench: install
	$(PY) -m benchmarks

bench-quality: install
	$(PY) -m benchmarks.quality $(QUALITY_ARGS)

# The GPU check (benchmarks/gpu_check.py): tests marked `gpu`, ViT-B/32 fits, MFU, loader, evaluation throughput ->
# benchmarks/out/gpu.{json,md}; DEVICE=cpu runs the same path with the tiny model. On a machine whose python3 already
# has torch (the device image), skip the venv: `make gpu-check PY=python3`; benchmarks/gpu_device.sh does that too.
DEVICE ?= cuda
GPU_CHECK_ARGS ?=
gpu-check: $(if $(filter $(VENV)/bin/python,$(PY)),install)
	PYTHONPATH=$(CURDIR)/src$${PYTHONPATH:+:$$PYTHONPATH} PYTHONUNBUFFERED=1 $(PY) -m benchmarks.gpu_check --device $(DEVICE) $(GPU_CHECK_ARGS)

# Wheels the GPU machine's image lacks (open_clip, jsonargparse, ...), into .whl/ for the device call's carry.
gpu-wheels: install
	$(PY) -m benchmarks.gpu_wheels

lint: install
	$(VENV)/bin/ruff check src tests benchmarks

clean:
	rm -rf runs lightning_logs .pytest_cache
