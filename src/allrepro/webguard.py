"""What `allrepro serve` puts between a client and the scoring: bounds on everything a client controls before a
request reaches the model (pure ASGI middleware, so it holds for chunked bodies too).

- BodyGuard: a request body is counted while it streams — over the byte limit the read stops there and the client
  gets 413, whatever Content-Length said or whether it sent one; each chunk must arrive within `chunk_timeout`
  seconds and, after a grace period, the body must average at least `min_rate` bytes/s — a client that trickles
  gets 408 and its connection closed, so slow uploads cannot hold the server.
- HostGuard: the Host header must name an allowed host (DNS rebinding), and a request that changes something (POST)
  must come from the page's own origin when the browser says where it comes from (a cross-site form).
- Security headers on every answer: a Content-Security-Policy that allows only the page's own script and
  data: images, no framing, no MIME sniffing, no referrer.
"""
from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException

SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; "
                               "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
                               "frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}
CHANGES = {"POST", "PUT", "PATCH", "DELETE"}


async def send_json(send, status: int, detail: str, headers: dict | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"), *((k.encode(), v.encode()) for k, v in (headers or {}).items())]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})


class BodyRefused(HTTPException):
    """Raised inside the app's body read; an HTTPException so that FastAPI's body parsing passes it on as it is
    (any other exception there becomes a 400) and Starlette answers it with its status and detail."""

    def __init__(self, status: int, detail: str):
        super().__init__(status, detail, headers={"connection": "close"})
        self.status = status


class BodyGuard:
    def __init__(self, app, max_bytes: int, chunk_timeout: float = 10.0, min_rate: float = 20_000.0,
                 grace: float = 5.0):
        self.app, self.max_bytes = app, max_bytes
        self.chunk_timeout, self.min_rate, self.grace = chunk_timeout, min_rate, grace

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in CHANGES:
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            return await send_json(send, 413, f"request body over the limit of {self.max_bytes / 2**20:.1f} MiB")
        started, received, answered = time.monotonic(), 0, False

        async def guarded_receive():
            nonlocal received
            try:
                message = await asyncio.wait_for(receive(), self.chunk_timeout)
            except asyncio.TimeoutError:
                raise BodyRefused(408, f"no data for {self.chunk_timeout:g} s: upload abandoned") from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyRefused(413, f"request body over the limit of {self.max_bytes / 2**20:.1f} MiB")
                elapsed = time.monotonic() - started
                if message.get("more_body") and elapsed > self.grace and received / elapsed < self.min_rate:
                    raise BodyRefused(408, f"upload slower than {self.min_rate / 1000:g} kB/s: abandoned")
            return message

        async def tracking_send(message):
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = True
            await send(message)

        try:
            await self.app(scope, guarded_receive, tracking_send)
        except BodyRefused as exc:
            if not answered:
                await send_json(send, exc.status, exc.detail)


class HostGuard:
    def __init__(self, app, allowed_hosts: list[str]):
        self.app, self.allowed = app, {h.lower() for h in allowed_hosts}

    def _host_ok(self, host: str) -> bool:
        name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
        return "*" in self.allowed or name.lower() in self.allowed

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers") or []}
        host = headers.get("host", "")
        if not self._host_ok(host):
            return await send_json(send, 400, "unknown Host header: this server answers only to "
                                   + ", ".join(sorted(self.allowed)) + " (allrepro serve --allow-host)")
        origin = headers.get("origin")
        if scope["method"] in CHANGES and origin and origin != "null":
            if urlsplit(origin).netloc.lower() != host.lower():
                return await send_json(send, 403, "cross-origin request refused: post from this server's own page")
        elif scope["method"] in CHANGES and origin == "null":
            return await send_json(send, 403, "cross-origin request refused: post from this server's own page")

        async def with_headers(message):
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *((k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()
                                        if k.encode() not in present)]
            await send(message)

        await self.app(scope, receive, with_headers)


def allowed_hosts(host: str, extra: list[str] | None = None) -> list[str]:
    """The Host names the server answers to: loopback names, and the address it binds when that is not a wildcard."""
    hosts = ["127.0.0.1", "localhost", "[::1]"]
    if host not in ("0.0.0.0", "::", "127.0.0.1", "localhost"):
        hosts.append(f"[{host}]" if ":" in host else host)
    return hosts + list(extra or [])
