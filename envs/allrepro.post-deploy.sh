#!/usr/bin/env bash
# Run by `snakemake --use-conda` once, inside the new environment (CONDA_PREFIX), from the directory Snakemake
# runs in (the project root): the pinned versions of requirements.lock and allrepro itself, by the same
# `make setup` that builds .venv. (A `pip: [-e ../]` entry in the YAML would resolve from Snakemake's copy of
# the file under .snakemake/conda/, not from the project.)
set -euo pipefail
if [ ! -f requirements.lock ] || [ ! -f Makefile ]; then
  echo "allrepro post-deploy: requirements.lock and Makefile not found in $PWD; run snakemake from the project root" >&2
  exit 1
fi
make setup VENV="${CONDA_PREFIX:?not inside a conda environment}"
