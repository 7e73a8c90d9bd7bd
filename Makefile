# make setup: .venv with the project and its test extras (idempotent: reinstalls only when pyproject.toml changes)
# make run:   the pipeline, quick profile, on the data source in params.yaml or $ALLREPRO_DATA_SOURCE
# make test:  the test suite
VENV    ?= .venv
PY      := $(VENV)/bin/python
CORES   ?= all
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: setup run test dvc-repro dvc-yaml clean
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

run: setup
	$(VENV)/bin/snakemake --cores $(CORES) --resources gpu=1 --config profile=quick

test: setup
	$(VENV)/bin/python -m pytest -q

dvc-yaml: setup
	$(VENV)/bin/allrepro dvc-yaml

dvc-repro: setup
	$(VENV)/bin/allrepro dvc-yaml --check
	$(VENV)/bin/dvc repro

clean:
	rm -rf data/raw data/interim data/processed logs .snakemake
	find models reports -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +
