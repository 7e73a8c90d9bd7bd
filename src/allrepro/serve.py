"""serve: a web page and a JSON API for predictions from an exported bundle (FastAPI + uvicorn).

    allrepro serve --bundle bundles/patel            # http://127.0.0.1:8000  (API docs: /docs, /openapi.json)

    GET  /              the page: drop images, see each one's decision or abstention, probabilities,
                        every member's vote and Grad-CAM, the HSV mask when the bundle segments, and the
                        model card's warnings
    POST /api/predict   multipart `files` (one or more images) -> JSON, one result per file
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
from allrepro.predict import MAX_PIXELS, BadImage, Bundle, decode, load_bundle, model_inputs, score

LIMITS = {  # option name -> (default, help)
    "max_file_mb": (10.0, "largest accepted image, MiB"),
    "max_files": (32, "images per request"),
    "max_pixels": (MAX_PIXELS, "width x height per image, read from the header before decoding"),
    "max_queue": (4, "requests waiting or being scored at once; more are answered 503"),
}
DISPLAY = 224  # pixels: the size images, masks and Grad-CAM overlays are shown at


def png_data_url(rgb: np.ndarray) -> str:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) if rgb.ndim == 3 else rgb)
    return "data:image/png;base64," + base64.b64encode(buf.tobytes()).decode()


def shown(image: np.ndarray) -> np.ndarray:
    return cv2.resize(image, (DISPLAY, DISPLAY), interpolation=cv2.INTER_AREA if image.shape[0] > DISPLAY
                      else cv2.INTER_NEAREST)


class Scorer:
    """The bundle and its Grad-CAM cuts; one scoring at a time (the models are not re-entrant), with an
    admission count so that overload is refused rather than queued without end."""

    def __init__(self, bundle: Bundle, limits: dict):
        self.bundle, self.limits = bundle, limits
        self.parts = {}
        for name, model in bundle.models.items():
            try:
                self.parts[name] = gradcam.split(model)
            except (StopIteration, NotImplementedError):  # no backbone to cut at: no Grad-CAM for it
                self.parts[name] = None
        self.lock = threading.Lock()
        self.active = 0

    def info(self) -> dict:
        spec = self.bundle.spec
        return {"experiment": spec["experiment"], "paper": spec["paper"], "profile": spec["profile"],
                "classes": spec["classes"], "decision": spec["decision"], "test": spec["test"],
                "members": [{k: m[k] for k in ("name", "backbone", "input_size", "params_total")} for m in spec["members"]],
                "segmented": self.bundle.segmented, "warnings": model_card.warnings(spec), "limits": self.limits,
                "conformal_confidence": next((c["conformal"]["confidence"] for c in spec.get("calibration", {}).values()
                                              if c and c.get("conformal")), None)}

    def one(self, name: str, data: bytes) -> dict:
        """The full answer for one uploaded file: an error with its reason, or the prediction and pictures."""
        limit = int(self.limits["max_file_mb"] * 2**20)
        try:
            if len(data) > limit:
                raise BadImage(f"larger than the limit of {self.limits['max_file_mb']:g} MiB per file")  # read no further
            bgr = decode(data, self.limits["max_pixels"])
        except BadImage as exc:
            return {"name": name, "error": str(exc)}
        with self.lock:
            result = score(self.bundle, [bgr])[0]
            inputs, mask = model_inputs(bgr, self.bundle)
            for m in self.bundle.members:
                cut, member = self.parts[m["name"]], result["members"][m["name"]]
                image = inputs[m["input_size"]]
                if cut is None:
                    member["gradcam"] = None
                    continue
                cam = gradcam.heatmap(self.bundle.models[m["name"]], image,
                                      self.bundle.classes.index(member["vote"]), cut)
                member["gradcam"] = png_data_url(shown(gradcam.overlay(image, cam)))
        result.update(name=name, image=png_data_url(shown(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))),
                      mask=png_data_url(shown(mask)) if mask is not None else None)
        return result


def create_app(bundle: Bundle, limits: dict | None = None):
    from fastapi import FastAPI, Request, UploadFile
    from fastapi.concurrency import run_in_threadpool
    from fastapi.responses import HTMLResponse, JSONResponse

    limits = {k: v for k, (v, _) in LIMITS.items()} | (limits or {})
    scorer = Scorer(bundle, limits)
    app = FastAPI(title="allrepro predictions", version=bundle.spec["format"],
                  description=f"Bundle {bundle.spec['experiment']}: research and teaching, not diagnosis.")
    request_limit = int(limits["max_files"] * (limits["max_file_mb"] + 1) * 2**20)  # + multipart overhead

    @app.middleware("http")
    async def refuse_overload(request: Request, call_next):
        if request.url.path != "/api/predict":
            return await call_next(request)
        length = request.headers.get("content-length")
        if length and int(length) > request_limit:  # refused before the body is read
            return JSONResponse({"detail": f"request of {int(length) / 2**20:.1f} MiB is over the limit of "
                                 f"{limits['max_files']} files x {limits['max_file_mb']:g} MiB"}, status_code=413)
        if scorer.active >= limits["max_queue"]:
            return JSONResponse({"detail": f"busy: {limits['max_queue']} requests already waiting; retry shortly"},
                                status_code=503, headers={"Retry-After": "2"})
        scorer.active += 1  # one event loop: no other coroutine runs between the test and the increment
        try:
            return await call_next(request)
        finally:
            scorer.active -= 1

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

    @app.get("/model-card", response_class=HTMLResponse)
    async def card():
        return (bundle.path / "model_card.html").read_text()

    @app.post("/api/predict")
    async def predict(files: list[UploadFile]):
        if len(files) > limits["max_files"]:
            return JSONResponse({"detail": f"{len(files)} files: the limit is {limits['max_files']} per request"},
                                status_code=413)
        results = []
        for f in files:
            data = await f.read(int(limits["max_file_mb"] * 2**20) + 1)  # never more than the limit + 1 byte
            results.append(await run_in_threadpool(scorer.one, Path(f.filename or "upload").name, data))
        return {"results": results}

    return app


def main(args) -> int:
    import uvicorn

    bundle = load_bundle(args.bundle)
    limits = {k: getattr(args, k) for k in LIMITS}
    print(f"allrepro serve: bundle {bundle.spec['experiment']} on http://{args.host}:{args.port}", flush=True)
    uvicorn.run(create_app(bundle, limits), host=args.host, port=args.port, log_level="warning")
    return 0

