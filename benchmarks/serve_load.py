"""A bounded load run of `allrepro serve` over loopback: N clients each sending R single-image predictions, one
after another, against this checkout and (--compare REF) a git worktree of another commit, side by side in one run.

    python benchmarks/serve_load.py --bundle bundles/idrees [--compare 4f7f022] [--clients 50 --requests 20]

Each server runs in its own process on 127.0.0.1 (`python -m allrepro.cli serve`, PYTHONPATH set to the
variant's src/), with the same bundle and `--max-queue`. Printed per variant: images/s over the run, p50/p95/p99
latency of the answered requests, status counts (503s carry Retry-After), and the server's peak RSS. The run stops by
itself: at most --time-limit seconds per variant; what is not sent by then is counted as not sent.
"""
from __future__ import annotations

import argparse
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SMEAR = "Original/Early/WBC-Malignant-Early-001.jpg"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def an_image() -> bytes:
    archive = ROOT.parent / "shared/datasets/mehradaria-leukemia/archive.zip"
    if archive.is_file():
        with zipfile.ZipFile(archive) as z:
            return z.read(SMEAR)
    import cv2
    import numpy as np

    rng = np.random.default_rng(0)
    return cv2.imencode(".jpg", rng.integers(0, 255, (224, 224, 3), dtype=np.uint8))[1].tobytes()


def body(data: bytes) -> tuple[bytes, str]:
    boundary = "allreproLoadRun"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="smear.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n").encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start(src: Path, bundle: Path, port: int, queue: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(src), "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen([sys.executable, "-m", "allrepro.cli", "serve", "--bundle", str(bundle), "--port", str(port),
                             "--max-queue", str(queue)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
        if proc.poll() is not None:
            raise SystemExit(f"the server of {src} exited")
    proc.kill()
    raise SystemExit(f"the server of {src} did not answer in 120 s")


def load(port: int, payload: bytes, ctype: str, clients: int, requests: int, limit: float) -> dict:
    statuses, latencies, lock = Counter(), [], threading.Lock()
    stop = time.monotonic() + limit

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=limit)
        for _ in range(requests):
            if time.monotonic() > stop:
                with lock:
                    statuses["not sent"] += 1
                continue
            t0 = time.monotonic()
            try:
                conn.request("POST", "/api/predict", body=payload, headers={"Content-Type": ctype})
                r = conn.getresponse()
                r.read()
                status = r.status
                if r.getheader("connection", "").lower() == "close":
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=limit)
            except OSError as exc:
                status = type(exc).__name__
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=limit)
            with lock:
                statuses[status] += 1
                if status == 200:
                    latencies.append(time.monotonic() - t0)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    latencies.sort()

    def q(p):
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else float("nan")

    return {"wall": wall, "ok": statuses[200], "images/s": statuses[200] / wall, "p50": q(0.50), "p95": q(0.95),
            "p99": q(0.99), "statuses": dict(statuses)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", default="bundles/idrees")
    ap.add_argument("--compare", help="a git ref to run side by side (a temporary worktree of it)")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--max-queue", type=int, default=64)
    ap.add_argument("--time-limit", type=float, default=300.0, help="seconds per variant at most")
    args = ap.parse_args()
    bundle = Path(args.bundle).resolve()
    payload, ctype = body(an_image())
    variants = [("this checkout", ROOT / "src")]
    tmp = None
    if args.compare:
        tmp = tempfile.mkdtemp(prefix="serve-load-")
        subprocess.run(["git", "worktree", "add", "--detach", tmp, args.compare], cwd=ROOT, check=True,
                       capture_output=True)
        variants.insert(0, (args.compare, Path(tmp) / "src"))
    try:
        rows = []
        for name, src in variants:
            port = free_port()
            proc = start(src, bundle, port, args.max_queue)
            try:
                result = load(port, payload, ctype, args.clients, args.requests, args.time_limit)
                result["rss"] = peak_rss_mib(proc.pid)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
            rows.append((name, result))
    finally:
        if tmp:
            subprocess.run(["git", "worktree", "remove", "--force", tmp], cwd=ROOT, capture_output=True)
    print(f"bundle {bundle.name}, {args.clients} clients x {args.requests} requests of one image, --max-queue "
          f"{args.max_queue}, {os.cpu_count()} CPUs")
    print(f"{'variant':16s} {'images/s':>9s} {'p50 s':>7s} {'p95 s':>7s} {'p99 s':>7s} {'peak RSS MiB':>13s}  statuses")
    for name, r in rows:
        print(f"{name:16s} {r['images/s']:9.2f} {r['p50']:7.2f} {r['p95']:7.2f} {r['p99']:7.2f} {r['rss']:13.0f}  "
              f"{r['statuses']}")
    if len(rows) == 2:
        print(f"ratio (this checkout / {rows[0][0]}): {rows[1][1]['images/s'] / max(rows[0][1]['images/s'], 1e-9):.1f}x "
              "images/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
