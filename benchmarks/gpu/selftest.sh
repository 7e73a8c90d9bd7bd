#!/usr/bin/env bash
# The GPU runner on this CPU, as on the GPU machine: a fresh venv WITHOUT TensorFlow (only what the GPU image
# has, JAX on the CPU here), the packed wheels and data parts installed by the runner, then the smoke profile
# of one experiment through the same whole DAG (report, bundle and scorecard included). Usage: bash benchmarks/gpu/selftest.sh [experiment]   (from the root)
set -euo pipefail
exp=${1:-najjar}
root=$(pwd)
work=$(mktemp -d /tmp/allrepro-gpu-selftest.XXXX)
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet numpy pandas scikit-learn opencv-python-headless matplotlib pyyaml scipy \
  pillow h5py 'jax[cpu]' typing-extensions wrapt tqdm rich absl-py ml-dtypes psutil requests jinja2 packaging attrs joblib threadpoolctl
if "$work/venv/bin/python" -c "import tensorflow" 2>/dev/null; then echo "TensorFlow is in the test venv"; exit 1; fi
py=$("$work/venv/bin/python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
.venv/bin/python benchmarks/gpu/runner.py pack --python "$py"
export ALLREPRO_GPU_STATE="$work/state" OUT="$work/out" KERAS_BACKEND=jax
# as there: a copy of the working tree, each part installed by its own command
mkdir -p "$work/tree" && git ls-files -z | xargs -0 -I{} cp --parents {} "$work/tree/" && cp -r .gpu "$work/tree/"
cd "$work/tree"
parts=$(ls -d .gpu/part* | sort -V)
last=$(echo "$parts" | tail -1)
for part in $(echo "$parts" | head -n -1); do "$work/venv/bin/python" benchmarks/gpu/runner.py install "$part"; done
"$work/venv/bin/python" benchmarks/gpu/runner.py install "$last" start wait --seconds 1500 \
  --profile smoke --experiments "$exp" --set profiles.smoke.weights=null --cores "$(nproc)"
# the whole DAG of the experiment: its report and bundle too, as the GPU run must make them
for made in "reports/$exp/report.html" "bundles/$exp/bundle.json" reports/index.html; do
  [ -s "$ALLREPRO_GPU_STATE/work/$made" ] || { echo "selftest: $made was not made"; exit 1; }
done
grep -q '"state": "finished"' "$OUT/summary.json" || { echo "selftest: the DAG did not finish"; exit 1; }
echo "selftest: ok ($work)"
