"""serve: a web page and a JSON API for predictions from an exported bundle (FastAPI + uvicorn).

    allrepro serve --bundle bundles/patel            # http://127.0.0.1:8000  (the API schema: /openapi.json; /docs is off)

    GET  /              the page: drop images, see each one's decision or abstention, probabilities,
                        every member's vote and Grad-CAM, the HSV mask when the bundle segments, and the
                        model card's warnings
    POST /api/predict   multipart `files` (one or more images) -> JSON, one result per file; images of concurrent
                        requests are scored in one batch
    POST /api/gradcam   multipart `file` (one image) -> each member's vote and Grad-CAM overlay (the page asks for
                        it after showing the decision)
    GET  /api/bundle    classes, decision rule, test metrics with intervals, warnings, limits
    GET  /model-card    the bundle's model card (HTML)
    GET  /healthz       liveness

Limits (each a command-line option): bytes per file, files per request, pixels per image (checked in the
header before decoding: decompression bombs), and requests waiting or being scored (beyond it: 503, never
a crash). A file's type is sniffed from its content; a client's file name is only echoed back as text.
"""
# no `from __future__ import annotations`: FastAPI reads the endpoints' annotations, imported in create_app
import base64
import threading
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from allrepro import gradcam, model_card
from allrepro.limits import LIMITS
from allrepro.predict import (BadImage, Bundle, decode, domain_warnings, image_size, load_bundle,
                              model_inputs, score_prepared, sniff)

DISPLAY = 224  # pixels: the size images, masks and Grad-CAM overlays are shown at


def png_data_url(rgb: np.ndarray) -> str:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) if rgb.ndim == 3 else rgb)
    return "data:image/png;base64," + base64.b64encode(buf.tobytes()).decode()


def shown(image: np.ndarray) -> np.ndarray:
    return cv2.resize(image, (DISPLAY, DISPLAY), interpolation=cv2.INTER_AREA if image.shape[0] > DISPLAY
                      else cv2.INTER_NEAREST)


class Batcher:
    """Images of concurrent requests scored together: each waits at most `max_wait` seconds for others to join it,
    then one model call per member serves the whole batch (up to `max_batch` images). One worker per event loop,
    so the models are only ever called from one thread at a time."""

    def __init__(self, bundle: Bundle, max_batch: int = 32, max_wait: float = 0.005):
        self.bundle, self.max_batch, self.max_wait = bundle, max_batch, max_wait
        self.loop = self.queue = None

    async def submit(self, prepared: dict) -> dict:
        import asyncio

        loop = asyncio.get_running_loop()
        if self.loop is not loop:  # first use on this loop (a test client may run several)
            self.loop, self.queue = loop, asyncio.Queue()
            loop.create_task(self._work())
        future = loop.create_future()
        await self.queue.put((prepared, future))
        return await future

    async def _work(self) -> None:
        import asyncio

        from fastapi.concurrency import run_in_threadpool

        while True:
            batch = [await self.queue.get()]
            deadline = self.loop.time() + self.max_wait
            while len(batch) < self.max_batch and (left := deadline - self.loop.time()) > 0:
                try:
                    batch.append(await asyncio.wait_for(self.queue.get(), left))
                except asyncio.TimeoutError:
                    break
            try:
                results = await run_in_threadpool(score_prepared, self.bundle, [p for p, _ in batch])
            except Exception as exc:  # noqa: BLE001  (every waiting request gets the error, the worker lives on)
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results):
                if not future.done():  # its client may have gone
                    future.set_result(result)


class Scorer:
    """The bundle, its Grad-CAM cuts and its batcher. Decoding and segmenting run in worker threads, at most
    `decoders` images at once (each bounded by the pixel limits); scoring goes through the batcher; an admission
    count refuses overload rather than queueing without end."""

    def __init__(self, bundle: Bundle, limits: dict, decoders: int = 2):
        self.bundle, self.limits = bundle, limits
        self.parts = {}
        for name, model in bundle.models.items():
            try:
                self.parts[name] = gradcam.split(model)
            except (StopIteration, NotImplementedError):  # no backbone to cut at: no Grad-CAM for it
                self.parts[name] = None
        self.lock = threading.Lock()  # Grad-CAM: one at a time
        self.batcher = Batcher(bundle)
        self.decoders = threading.BoundedSemaphore(decoders)
        self.active = 0

    def info(self) -> dict:
        spec = self.bundle.spec
        return {"experiment": spec["experiment"], "paper": spec["paper"], "profile": spec["profile"],
                "classes": spec["classes"], "decision": spec["decision"], "test": spec["test"],
                "members": [{k: m[k] for k in ("name", "backbone", "input_size", "params_total")} for m in spec["members"]],
                "segmented": self.bundle.segmented, "warnings": model_card.warnings(spec), "limits": self.limits,
                "conformal_confidence": next((c["conformal"]["confidence"] for c in spec.get("calibration", {}).values()
                                              if c and c.get("conformal")), None)}

    def check(self, data: bytes, pixel_budget: int | None) -> None:
        """The limits a file must meet before any pixel is decoded (BadImage with the reason)."""
        if len(data) > int(self.limits["max_file_mb"] * 2**20):
            raise BadImage(f"larger than the limit of {self.limits['max_file_mb']:g} MiB per file")
        if data and sniff(data):
            width, height = image_size(data)
            if width * height > self.limits["max_pixels"]:
                raise BadImage(f"{width}x{height} pixels is over the limit of {self.limits['max_pixels']:,} pixels")
            if pixel_budget is not None and width * height > pixel_budget:
                raise BadImage(f"{width}x{height} pixels: over what is left of this request's budget of "
                               f"{self.limits['max_request_pixels']:,} pixels")

    def prepare(self, data: bytes) -> tuple[np.ndarray, dict, np.ndarray | None]:
        """Decode, segment (when the bundle does) and resize once: (BGR image, {input size: array}, mask)."""
        with self.decoders:
            bgr = decode(data, self.limits["max_pixels"])
            inputs, mask = model_inputs(bgr, self.bundle)
        return bgr, inputs, mask

    async def one(self, name: str, data: bytes, pixel_budget: int | None = None) -> tuple[dict, int]:
        """The answer for one uploaded file — an error with its reason, or the prediction, its warnings and the
        pictures (Grad-CAM apart: `gradcams`, on request) — and the pixels it used of the request's budget."""
        from fastapi.concurrency import run_in_threadpool

        try:
            self.check(data, pixel_budget)
            bgr, inputs, mask = await run_in_threadpool(self.prepare, data)
        except BadImage as exc:
            return {"name": name, "error": str(exc)}, 0
        result = await self.batcher.submit(inputs)
        result.update(name=name, warnings=domain_warnings(self.bundle, bgr, mask),
                      image=png_data_url(shown(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))),
                      mask=png_data_url(shown(mask)) if mask is not None else None)
        return result, int(bgr.shape[0] * bgr.shape[1])

    def gradcams(self, name: str, data: bytes) -> dict:
        """Each member's vote and Grad-CAM overlay for one file (what the page asks for after the decision)."""
        try:
            self.check(data, None)
            _, inputs, _ = self.prepare(data)
        except BadImage as exc:
            return {"name": name, "error": str(exc)}
        out = {}
        with self.lock:
            result = score_prepared(self.bundle, [inputs])[0]
            for m in self.bundle.members:
                cut, vote = self.parts[m["name"]], result["members"][m["name"]]["vote"]
                image = inputs[m["input_size"]]
                cam = None if cut is None else gradcam.heatmap(self.bundle.models[m["name"]], image,
                                                               self.bundle.classes.index(vote), cut)
                out[m["name"]] = {"vote": vote,
                                  "gradcam": None if cam is None else png_data_url(shown(gradcam.overlay(image, cam)))}
        return {"name": name, "members": out}


def create_app(bundle: Bundle, limits: dict | None = None, hosts: list[str] | None = None):
    """The app, wrapped in its guards (allrepro.webguard): Host and Origin checked and security headers added
    outermost, then the body read bounded in bytes, time and rate; scoring admitted `max_queue` requests at a time."""
    from typing import Annotated

    from fastapi import FastAPI, File, Request, UploadFile
    from fastapi.concurrency import run_in_threadpool
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, JSONResponse

    from allrepro.webguard import BodyGuard, HostGuard, allowed_hosts

    limits = {k: v for k, (v, _) in LIMITS.items()} | (limits or {})
    scorer = Scorer(bundle, limits)
    refusals = {413: {"description": "over a limit: bytes, files or pixels per request"},
                400: {"description": "a Host this server does not answer to"},
                403: {"description": "a cross-origin POST"},
                408: {"description": "an upload that stalled or trickled"},
                503: {"description": "busy: `max_queue` requests already being scored; retry after Retry-After s"}}
    # /docs and /redoc load Swagger UI and ReDoc from a CDN: blank on a lab network without Internet, so they are
    # off; the schema itself is served at /openapi.json
    app = FastAPI(title="allrepro predictions", version=bundle.spec["format"], docs_url=None, redoc_url=None,
                  description=f"Bundle {bundle.spec['experiment']}: research and teaching, not diagnosis. "
                              "The OpenAPI schema is at /openapi.json (no interactive docs: they need a CDN).")
    request_limit = int(limits["max_files"] * (limits["max_file_mb"] + 1) * 2**20)  # + multipart overhead
    app.add_middleware(BodyGuard, max_bytes=request_limit)
    app.add_middleware(HostGuard, allowed_hosts=hosts or allowed_hosts("127.0.0.1"))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        # FastAPI's default echoes the offending input (a whole upload part); this names the field and the problem
        problems = [{"loc": [str(x) for x in e.get("loc", ())][:4], "msg": str(e.get("msg", ""))[:200],
                     "type": str(e.get("type", ""))[:60]}
                    for e in exc.errors()[:5]]
        return JSONResponse({"detail": problems}, status_code=422)

    page_html = resources.files("allrepro").joinpath("web/index.html").read_text()

    @app.get("/", response_class=HTMLResponse)
    async def page():
        return page_html

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok", "experiment": bundle.spec["experiment"], "busy": scorer.active}

    @app.get("/api/bundle")
    async def bundle_info():
        return scorer.info()

    @app.get("/model-card", response_class=HTMLResponse, responses={404: {"description": "the bundle has no card"}})
    async def card():
        path = bundle.path / "model_card.html"
        if not path.is_file():
            return JSONResponse({"detail": "this bundle carries no model_card.html (re-export it)"}, status_code=404)
        return path.read_text()

    @app.post("/api/predict", responses=refusals)
    async def predict(request: Request,
                      files: Annotated[list[UploadFile], File(min_length=1, max_length=limits["max_files"])]):
        # a slot is taken only now, with the body read: a slow upload holds none
        if scorer.active >= limits["max_queue"]:
            return JSONResponse({"detail": f"busy: {limits['max_queue']} requests already being scored; retry shortly"},
                                status_code=503, headers={"Retry-After": "2"})
        scorer.active += 1  # one event loop: no other coroutine runs between the test and the increment
        try:
            results, budget = [], limits["max_request_pixels"]
            for f in files:
                if await request.is_disconnected():  # the client hung up: score nothing more for it
                    break
                data = await f.read(int(limits["max_file_mb"] * 2**20) + 1)  # never more than the limit + 1 byte
                result, used = await scorer.one(Path(f.filename or "upload").name, data, budget)
                budget -= used
                results.append(result)
            return {"results": results}
        finally:
            scorer.active -= 1

    @app.post("/api/gradcam", responses=refusals)
    async def gradcam_overlays(file: UploadFile):
        """Each member's Grad-CAM overlay for one image: what the page asks for once it shows the decision."""
        if scorer.active >= limits["max_queue"]:
            return JSONResponse({"detail": f"busy: {limits['max_queue']} requests already being scored; retry shortly"},
                                status_code=503, headers={"Retry-After": "2"})
        scorer.active += 1
        try:
            data = await file.read(int(limits["max_file_mb"] * 2**20) + 1)
            return await run_in_threadpool(scorer.gradcams, Path(file.filename or "upload").name, data)
        finally:
            scorer.active -= 1

    return app


def main(args) -> int:
    import uvicorn

    from allrepro.webguard import allowed_hosts

    bundle = load_bundle(args.bundle)
    limits = {k: getattr(args, k) for k in LIMITS}
    hosts = allowed_hosts(args.host, args.allow_host)
    print(f"allrepro serve: bundle {bundle.spec['experiment']} on http://{args.host}:{args.port} "
          f"(answers to Host: {', '.join(hosts)})", flush=True)
    # connections beyond limit_concurrency get 503 from uvicorn before anything is read: the intake is bounded
    uvicorn.run(create_app(bundle, limits, hosts), host=args.host, port=args.port, log_level="warning",
                limit_concurrency=limits["max_connections"], timeout_keep_alive=5)
    return 0

