# make setup: .venv with the pinned versions of requirements.lock and the project (idempotent: reinstalls only
#             when pyproject.toml or the lock changes)
# make lock:  re-resolve requirements.lock after a dependency change
# make run:   the pipeline, quick profile, on the data source in params.yaml or $ALLREPRO_DATA_SOURCE
# make seeds: the quick profile of idrees and patel trained over five seeds (42 and REPEATS), with their spread
# make smoke: every paper network of every experiment end to end, work cut (profile smoke), offline, on a CPU
# make test:  the module layers (.importlinter), then the test suite on two workers, longest first (tests/conftest.py SCHEDULE)
# make test-cluster: the workflow on a real Slurm (bash cluster/slurm.sh install && bash cluster/slurm.sh start)
VENV    ?= .venv
PY      := $(VENV)/bin/python
CORES   ?= all
LOCK    := requirements.lock
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: setup lock run seeds smoke test test-xla test-cluster dvc-repro dvc-yaml exp-show clean
setup: $(VENV)/.installed

# Exact versions with hashes from requirements.lock, then the project itself without resolving anything.
$(VENV)/.installed: pyproject.toml $(LOCK)
	test -x $(PY) || python3 -m venv $(VENV)
	@echo "make setup: installing the pinned versions of $(LOCK) into $(VENV) (once: 2 to 8 minutes, quietly)"
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	$(VENV)/bin/allrepro dvc-plots
	touch $@

# After changing dependencies in pyproject.toml: re-resolve, keeping every pin that still fits
# (UPGRADE=1: newest versions). Python 3.11 on x86-64 Linux, the platform CI and `make setup` run on.
lock:
	test -x $(VENV)/bin/uv || $(PY) -m pip install --quiet uv
	$(VENV)/bin/uv pip compile pyproject.toml --extra test --generate-hashes --python-version 3.11.7 \
	  --python-platform x86_64-manylinux_2_28 --no-header $(if $(UPGRADE),--upgrade) -o $(LOCK)

run: setup
	$(VENV)/bin/snakemake --cores $(CORES) --resources gpu=1 --config profile=quick
	@$(VENV)/bin/allrepro results --set profile=quick

# Each experiment's models trained once per seed (train.seed and REPEATS), evaluated, ensembled and audited per
# seed; reports/<exp>/spread.{csv,json} and the report's "Over training seeds" section gather them.
SEED_EXPERIMENTS ?= idrees patel
REPEATS          ?= [1,2,3,4]
seeds: setup
	for exp in $(SEED_EXPERIMENTS); do \
	  $(VENV)/bin/snakemake --cores $(CORES) --resources gpu=1 --config profile=quick experiment=$$exp 'repeats=$(REPEATS)' || exit 1; \
	done

# CPU only, so no `gpu` limit (nor the default profile's) and one core per training job: two networks train side by side on two cores
# (most of a smoke job is building and tracing the graph, which one core does). pushpalatha's C-NMC 2019 needs a Kaggle account: a generated C-NMC layout stands in (its params overrides
# beside it). SMOKE_EXPERIMENTS: every paper network once (idrees_grouped and patel_val train idrees' and patel's
# networks on other splits; SMOKE_EXPERIMENTS=all runs them too).
CNMC_GENERATED   := data/cnmc-generated
SMOKE_EXPERIMENTS ?= idrees,patel,najjar,pushpalatha
smoke: setup
	$(PY) -m allrepro.datasets.synthetic cnmc $(CNMC_GENERATED).zip $(CNMC_GENERATED).yaml
	ALLREPRO_DATA_SOURCE_CNMC=file:$(abspath $(CNMC_GENERATED).zip) $(VENV)/bin/snakemake --cores $(CORES) \
	  --workflow-profile none --show-failed-logs --set-threads train=1 --configfile $(CNMC_GENERATED).yaml \
	  --config profile=smoke experiment=$(SMOKE_EXPERIMENTS)

# one training step of every backbone, head and augmentation with XLA and mixed precision forced on, under
# TensorFlow and JAX (slow on a CPU: XLA compiles each network, about 20 minutes; not part of `make test`)
test-xla: setup
	$(VENV)/bin/python -m pytest -q -m xla --timeout 1800

test: setup
	$(VENV)/bin/lint-imports
	$(VENV)/bin/python -m pytest -q --durations=15 -n 2 --dist loadgroup --no-loadscope-reorder

# -rP: the sacct table and `dvc exp show` the tests print stay in the log
test-cluster: setup
	$(VENV)/bin/python -m pytest -q -m cluster -rP --durations=0

# `dvc exp show` narrowed to what a reader compares: the metrics (headline.json) and params that differ
exp-show: setup
	$(VENV)/bin/dvc exp show --only-changed --drop '.*/|Created'

dvc-yaml: setup
	$(VENV)/bin/allrepro dvc-yaml

# DVC runs the selection of params.yaml; Snakemake's metadata then records DVC's outputs (nothing runs)
dvc-repro: setup
	$(VENV)/bin/allrepro dvc-yaml --check
	$(VENV)/bin/dvc repro
	$(VENV)/bin/snakemake --touch --cores 1 --quiet

clean:
	rm -rf data/raw data/interim data/processed logs .snakemake
	find models reports -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +
