"""A bounded soak of `allrepro serve` over loopback: clients send single-image predictions (and, one request in ten,
a Grad-CAM) without pause for --seconds, while the server's resident memory is sampled; a leak shows as RSS that
keeps climbing after the warm-up.

    python benchmarks/serve_soak.py --bundle bundles/idrees --seconds 600
"""
from __future__ import annotations

import argparse
import http.client
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_load import ROOT, an_image, body, free_port, start  # noqa: E402


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", default="bundles/idrees")
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--warm-up", type=float, default=60)
    args = ap.parse_args()
    port = free_port()
    proc = start(ROOT / "src", Path(args.bundle).resolve(), port, 64)
    image = an_image()
    predict_body, predict_type = body(image)
    cam_body = predict_body.replace(b'name="files"', b'name="file"')
    stop = time.monotonic() + args.seconds
    statuses, lock, samples = Counter(), threading.Lock(), []

    def client(k):
        conn, i = http.client.HTTPConnection("127.0.0.1", port, timeout=60), 0
        while time.monotonic() < stop:
            i += 1
            path, payload = ("/api/gradcam", cam_body) if (i + k) % 10 == 0 else ("/api/predict", predict_body)
            try:
                conn.request("POST", path, body=payload, headers={"Content-Type": predict_type})
                r = conn.getresponse()
                r.read()
                status = r.status
            except OSError as exc:
                status = type(exc).__name__
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            with lock:
                statuses[status] += 1

    threads = [threading.Thread(target=client, args=(k,)) for k in range(args.clients)]
    t0 = time.monotonic()
    samples.append((0.0, rss_mib(proc.pid)))
    for t in threads:
        t.start()
    try:
        while time.monotonic() < stop:
            time.sleep(min(10, max(0.0, stop - time.monotonic())))
            samples.append((time.monotonic() - t0, rss_mib(proc.pid)))
        for t in threads:
            t.join()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    warm = min(samples, key=lambda s: abs(s[0] - args.warm_up))
    after = [r for t, r in samples if t >= warm[0]]
    print(f"soak: {args.seconds:.0f} s, {args.clients} clients, bundle {Path(args.bundle).name}; requests {dict(statuses)}")
    print(f"RSS MiB: at start {samples[0][1]:.0f}, after warm-up ({warm[0]:.0f} s) {warm[1]:.0f}, at the end "
          f"{samples[-1][1]:.0f}; after warm-up min {min(after):.0f}, max {max(after):.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
