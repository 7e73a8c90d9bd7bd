"""`allrepro serve` against a hostile client, on a real uvicorn over loopback sockets (a toy bundle: two untrained
quick models): slow and trickling uploads, chunked bodies over the limit, validation errors that would echo the
upload, pixel bombs across one request, foreign Host and Origin headers, formula file names, empty files."""
from __future__ import annotations

import http.client
import json
import socket
import threading
import time

import cv2
import numpy as np
import pytest

from allrepro import predict
from conftest import cell_image
from test_predict import ENSEMBLE, png, toy_bundle

JPG = cv2.imencode(".jpg", cell_image(1, 1, 48))[1].tobytes()


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return predict.load_bundle(toy_bundle(tmp_path_factory.mktemp("guard") / "b", {**ENSEMBLE, "gamma": 0.0}))


@pytest.fixture(scope="module")
def server(toy):
    from allrepro.serve import create_app

    app = create_app(toy, {"max_file_mb": 1.0, "max_files": 4, "max_queue": 1, "max_request_pixels": 3_000_000})
    for mw in app.user_middleware:  # a quicker body deadline than the default, so the test waits seconds
        if mw.cls.__name__ == "BodyGuard":
            mw.kwargs.update(chunk_timeout=2.0, grace=2.0, min_rate=50_000.0)
    yield from serving(app)


def serving(app):
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", limit_concurrency=32)
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    try:
        yield port
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def multipart(parts: list[tuple[str | None, bytes]], boundary: str = "xYzBoUnDaRy") -> tuple[bytes, str]:
    body = b""
    for name, data in parts:
        disposition = 'form-data; name="files"' + (f'; filename="{name}"' if name is not None else "")
        body += (f"--{boundary}\r\nContent-Disposition: {disposition}\r\nContent-Type: image/jpeg\r\n\r\n").encode()
        body += data + b"\r\n"
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def post(port: int, parts, headers: dict | None = None, timeout: float = 60) -> tuple[int, dict, bytes]:
    body, ctype = multipart(parts)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.request("POST", "/api/predict", body=body, headers={"Content-Type": ctype, **(headers or {})})
    r = conn.getresponse()
    return r.status, dict(r.getheaders()), r.read()


def raw(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=30)


def read_status(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0


def test_stalled_uploads_hold_no_slot_and_are_cut_off(server):
    """Four clients that send headers and 100 bytes, then nothing: a normal request is still scored meanwhile,
    and each stalled one gets 408 within the body deadline (before: they held every admission slot, 503 for all)."""
    body, ctype = multipart([("x.jpg", JPG)])
    stalled = []
    for _ in range(4):
        s = raw(server)
        s.sendall(f"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {ctype}\r\n"
                  f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:100])
        stalled.append(s)
    status, _, answer = post(server, [("x.jpg", JPG)])
    assert status == 200 and "decision" in json.loads(answer)["results"][0]
    started = time.monotonic()
    assert [read_status(s) for s in stalled] == [408] * 4
    assert time.monotonic() - started < 20
    for s in stalled:
        s.close()


def test_a_trickling_upload_is_refused_for_its_rate(server):
    body, ctype = multipart([("x.jpg", JPG)])
    s = raw(server)
    s.sendall(f"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {ctype}\r\n"
              f"Content-Length: {len(body)}\r\n\r\n".encode())
    status, started = 0, time.monotonic()
    for i in range(0, len(body), 50):  # 50 bytes a second or so: far under the 50 kB/s floor, never 2 s silent
        try:
            s.sendall(body[i:i + 50])
        except OSError:
            break
        s.settimeout(1.0)
        try:
            status = read_status(s)
            break
        except (TimeoutError, socket.timeout):
            continue
    s.close()
    assert status == 408 and time.monotonic() - started < 20


def test_a_chunked_body_stops_at_the_limit(server):
    """No Content-Length (chunked): the server stops reading at its byte limit and answers 413 while the client
    still has most of its 40 MiB to send (before: the whole body went to /tmp, then 200)."""
    s = raw(server)
    s.sendall(b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=b\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n")
    head = b'--b\r\nContent-Disposition: form-data; name="files"; filename="big.png"\r\nContent-Type: image/png\r\n\r\n'
    s.sendall(b"%x\r\n" % len(head) + head + b"\r\n")
    chunk = b"%x\r\n" % (1 << 20) + b"\0" * (1 << 20) + b"\r\n"
    sent = 0
    try:
        for _ in range(40):
            s.sendall(chunk)
            sent += 1
    except OSError:  # the server closed the connection after its answer
        pass
    s.settimeout(10)
    assert read_status(s) == 413
    assert sent < 40
    s.close()


def test_a_part_without_a_file_name_gets_a_short_422(server):
    """A `files` part with no filename is a validation error; the answer names it without echoing the 2 MiB part
    (before: FastAPI's default echoed the part, six times larger)."""
    status, _, answer = post(server, [(None, b"\x01" * (900 << 10))])
    assert status == 422 and len(answer) < 2000, answer[:300]


def test_an_empty_file_list_is_refused_by_the_schema(server):
    status, _, _ = post(server, [])
    assert status == 422


def test_a_request_has_a_pixel_budget(server):
    """Three 1200x1200 PNGs (small files, 1.44 Mpx each) in one request over a 3 Mpx budget: the third is refused
    with the reason, the first two are scored."""
    flat = png(np.full((1200, 1200, 3), 200, np.uint8))
    status, _, answer = post(server, [(f"{i}.png", flat) for i in range(3)])
    results = json.loads(answer)["results"]
    assert status == 200 and ["error" in r for r in results] == [False, False, True]
    assert "budget" in results[2]["error"]


def test_an_empty_file_is_called_empty(server):
    status, _, answer = post(server, [("e.jpg", b"")])
    assert "empty file" in json.loads(answer)["results"][0]["error"]


@pytest.mark.parametrize("headers, status", [
    ({"Host": "attacker.example"}, 400),                                          # DNS rebinding
    ({"Origin": "http://attacker.example"}, 403),                                  # a cross-site form
    ({"Origin": "null"}, 403),                                                     # a sandboxed or file: page
])
def test_foreign_host_and_origin_are_refused(server, headers, status):
    got, _, _ = post(server, [("x.jpg", JPG)], headers)
    assert got == status


def test_same_origin_post_and_security_headers(server):
    status, headers, _ = post(server, [("x.jpg", JPG)], {"Origin": f"http://127.0.0.1:{server}"})
    assert status == 200
    conn = http.client.HTTPConnection("127.0.0.1", server, timeout=30)
    conn.request("GET", "/")
    r = conn.getresponse()
    r.read()
    h = {k.lower(): v for k, v in r.getheaders()}
    assert "frame-ancestors 'none'" in h["content-security-policy"] and h["x-content-type-options"] == "nosniff"
    assert h["x-frame-options"] == "DENY"
    conn.request("GET", "/docs")  # would load Swagger from a CDN: off, the schema is at /openapi.json
    r = conn.getresponse()
    r.read()
    assert r.status == 404
    conn.request("GET", "/openapi.json")
    schema = json.loads(conn.getresponse().read())
    responses = schema["paths"]["/api/predict"]["post"]["responses"]
    assert {"200", "413", "503", "408", "422"} <= set(responses)
    assert schema["components"]["schemas"]["Body_predict_api_predict_post"]["properties"]["files"]["minItems"] == 1


def test_predict_csv_escapes_formulas_and_lists_skipped_files(tmp_path, capsys, monkeypatch):
    from allrepro.cli import main

    bundle = toy_bundle(tmp_path / "b", {"rule": "best_member", "model": "a"})
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "=1+1.jpg").write_bytes(JPG)
    (folder / "notes.txt").write_text("not an image")
    out = tmp_path / "out.csv"
    assert main(["predict", str(folder), "--bundle", str(bundle), "--out", str(out)]) == 0
    assert "notes.txt: skipped" in capsys.readouterr().err
    monkeypatch.chdir(folder)  # a path that starts like a formula: the file named on its own
    assert main(["predict", "=1+1.jpg", "--bundle", str(bundle), "--out", str(out)]) == 0
    import pandas as pd

    assert pd.read_csv(out, keep_default_na=False)["path"].tolist() == ["'=1+1.jpg"]


def test_images_far_from_the_training_data_are_answered_with_the_reason(tmp_path):
    """A 1x1 image, a 48x2000 strip and (segmenting bundle) a smear where the mask keeps nothing each get a warning
    saying why the answer means little (before: the same answer as any other image, no word of it)."""
    folder = toy_bundle(tmp_path / "b", {"rule": "best_member", "model": "a"}, segmented=True)
    spec = json.loads((folder / "bundle.json").read_text())
    spec["input_domain"] = {"images": 100, "width": [224, 224], "height": [224, 224], "aspect": [1.0, 1.0],
                            "foreground": [0.01, 0.4]}
    (folder / "bundle.json").write_text(json.dumps(spec))
    bundle = predict.load_bundle(folder)
    cell = cell_image(1, 1, 224)  # a violet cell: the mask keeps part of it
    grey = np.full((224, 224, 3), 200, np.uint8)  # nothing in the HSV interval
    strip = np.ascontiguousarray(np.tile(cell, (9, 1, 1))[:2000, :48])
    tiny = cell[:1, :1]
    results = predict.score(bundle, [cell, grey, strip, tiny])
    assert results[0]["warnings"] == [], results[0]["warnings"]
    assert any("kept 0% of this image: the model sees a black square" in w for w in results[1]["warnings"])
    assert any("aspect 0.02" in w for w in results[2]["warnings"])
    assert any(w.startswith("1x1 pixels") for w in results[3]["warnings"])


def test_concurrent_requests_are_batched_and_answer_as_one_at_a_time(toy):
    """Twelve clients at once (queue 16): every one gets 200 and exactly the probabilities `allrepro predict` gives
    the same image alone — the batch changes how many model calls serve them, not their answers."""
    from allrepro.serve import create_app

    images = [cv2.imencode(".jpg", cell_image(i % 4, i, 48))[1].tobytes() for i in range(12)]
    alone = [predict.score(toy, [predict.decode(d)])[0]["probabilities"] for d in images]
    port = next(gen := serving(create_app(toy, {"max_queue": 16})))
    answers = [None] * len(images)

    def client(i):
        answers[i] = post(port, [(f"{i}.jpg", images[i])])

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(images))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    gen.close()
    assert [a[0] for a in answers] == [200] * len(images)
    for a, expected in zip(answers, alone):
        got = json.loads(a[2])["results"][0]["probabilities"]
        assert got == pytest.approx(expected, abs=1e-6)
