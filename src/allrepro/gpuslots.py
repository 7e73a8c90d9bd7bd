"""One GPU per running training job on a multi-GPU workstation.

Snakemake's `--resources gpu=N` counts GPUs but does not say which one a job gets: without this, every
training job would use GPU 0. A job that declares a GPU share (stage record `gpu`) claims a free device
before its framework starts, with a lock file per device (held for the life of the process, released by the
kernel however it ends, kill -9 included), and sees only that device through CUDA_VISIBLE_DEVICES. Under
Slurm the scheduler has already chosen (it sets CUDA_VISIBLE_DEVICES), and on a machine with one GPU or none
there is nothing to choose.
"""
from __future__ import annotations

import fcntl
import glob
import os
from pathlib import Path

SLOTS = Path(".snakemake/gpu-slots")
_held = []  # the open, locked files: closing them (process exit) frees the devices


def devices() -> list[str]:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [d.strip() for d in visible.split(",") if d.strip() not in ("", "-1")]
    return [str(i) for i in range(gpus_visible())]


def claim(slots: Path = SLOTS) -> str | None:
    """Set CUDA_VISIBLE_DEVICES to one free device and return it (None: nothing to choose)."""
    if os.environ.get("SLURM_JOB_ID"):
        return os.environ.get("CUDA_VISIBLE_DEVICES")
    candidates = devices()
    if len(candidates) < 2:
        return candidates[0] if candidates else None
    slots.mkdir(parents=True, exist_ok=True)
    for device in candidates:
        handle = open(slots / f"{device}.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        _held.append(handle)
        os.environ["CUDA_VISIBLE_DEVICES"] = device
        return device
    raise RuntimeError(f"every GPU ({', '.join(candidates)}) is taken by another job: run with "
                       f"--resources gpu={len(candidates)} at most")


def gpus_visible() -> int:
    """NVIDIA GPUs this machine shows (device files; CUDA_VISIBLE_DEVICES when set), without importing a framework."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() not in ("", "-1")])
    return len(glob.glob("/dev/nvidia[0-9]*"))
