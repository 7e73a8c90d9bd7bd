#!/usr/bin/env bash
# A stand-in for the slow CI machine (2 cores without AVX-512, about half as fast) on a faster 2-core machine,
# for timing a command as that machine would run it. Root only (it makes a cgroup). Three parts:
#  - each core at half speed: one busy loop pinned to each core, outside the command, takes half of that core
#    whenever the command's processes want it;
#  - never more than one core's worth in all: the command runs in a cgroup with a CPU quota of 100 ms per 100 ms
#    (the busy loops alone would give three or more runnable processes more than half the machine);
#  - no AVX-512: each library that picks its instructions when it starts is told not to use it (NumPy, OpenBLAS,
#    OpenCV, oneDNN inside TensorFlow, XLA).
# What it cannot change: the cores' clock, caches and memory, and code compiled for AVX-512 only. So it is a
# stand-in, not the machine; --calibrate shows how far it slows plain Python work.
#
#   sudo bash benchmarks/slow_machine.sh make test     # the command's exit status; its wall time at the end
#   sudo bash benchmarks/slow_machine.sh --calibrate   # one and two CPU-bound processes, free and slowed: ratios
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "slow_machine.sh: needs root (a cgroup for the CPU quota)" >&2; exit 2; }
[ $# -gt 0 ] || { echo "usage: slow_machine.sh COMMAND... | --calibrate" >&2; exit 2; }
cores=$(nproc)
[ "$cores" = 2 ] || echo "slow_machine.sh: made for 2 cores, this machine has $cores" >&2

hogs=()
group=""
cleanup() {
  for pid in "${hogs[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ -n "$group" ]; then
    while read -r pid; do echo "$pid" > "$(dirname "$group")/cgroup.procs" 2>/dev/null || true; done < "$group/cgroup.procs"
    rmdir "$group" 2>/dev/null || true
  fi
}
trap cleanup EXIT

if [ -d /sys/fs/cgroup/cpu ] && [ -f /sys/fs/cgroup/cpu/cgroup.procs ]; then  # cgroup v1
  group=/sys/fs/cgroup/cpu/allrepro-slow-$$
  mkdir "$group"
  echo 100000 > "$group/cpu.cfs_period_us"
  echo 100000 > "$group/cpu.cfs_quota_us"
else  # cgroup v2
  grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control || echo +cpu > /sys/fs/cgroup/cgroup.subtree_control
  group=/sys/fs/cgroup/allrepro-slow-$$
  mkdir "$group"
  echo "100000 100000" > "$group/cpu.max"
fi
for ((c = 0; c < cores; c++)); do
  taskset -c "$c" bash -c 'while :; do :; done' &
  hogs+=($!)
done

slowed() {  # COMMAND...: in the cgroup, with AVX-512 hidden
  bash -c 'echo $$ > "$0/cgroup.procs"; shift; exec "$@"' "$group" _ env \
    NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512_ICL AVX512_SPR" OPENBLAS_CORETYPE=Haswell \
    OPENCV_CPU_DISABLE=AVX512F,AVX512-SKX,AVX512-COMMON ONEDNN_MAX_CPU_ISA=AVX2 \
    XLA_FLAGS="${XLA_FLAGS:+$XLA_FLAGS }--xla_cpu_max_isa=AVX2" "$@"
}

if [ "$1" = --calibrate ]; then
  count='import time; t = time.perf_counter(); i = 0
while i < 30_000_000: i += 1
print(round(time.perf_counter() - t, 2))'
  timed() { local start=$(date +%s.%N); "$@" > /dev/null; echo "$(date +%s.%N) - $start" | bc; }
  both() { python3 -c "$count" & python3 -c "$count"; wait; }
  for hog in "${hogs[@]}"; do kill -STOP "$hog"; done  # the free machine first
  free1=$(timed python3 -c "$count"); free2=$(timed both)
  for hog in "${hogs[@]}"; do kill -CONT "$hog"; done
  slow1=$(timed slowed python3 -c "$count"); slow2=$(timed slowed bash -c "$(declare -f both); count='$count'; both")
  printf 'one CPU-bound process:  %.2f s free, %.2f s slowed, ratio %.2f\n' "$free1" "$slow1" "$(echo "$slow1 / $free1" | bc -l)"
  printf 'two at once:            %.2f s free, %.2f s slowed, ratio %.2f\n' "$free2" "$slow2" "$(echo "$slow2 / $free2" | bc -l)"
  exit 0
fi

start=$(date +%s.%N)
rc=0
slowed "$@" || rc=$?
printf 'slow_machine.sh: %s: %.1f s wall (exit %d)\n' "$*" "$(echo "$(date +%s.%N) - $start" | bc)" "$rc" >&2
exit "$rc"
