"""The bounds on what a client controls: `allrepro serve`'s options (and their defaults) and the decoder's pixel cap.

Kept apart from the server so that building the command line (every `allrepro` command) imports none of it."""
from __future__ import annotations

MAX_PIXELS = 40_000_000  # decompression bombs: a 20 kB PNG can claim 50,000 x 50,000 pixels

LIMITS = {  # option name -> (default, help)
    "max_file_mb": (10.0, "largest accepted image, MiB"),
    "max_files": (32, "images per request"),
    "max_pixels": (MAX_PIXELS, "width x height per image, read from the header before decoding"),
    "max_queue": (4, "requests being scored at once (counted once their upload is read); more are answered 503"),
    "max_request_pixels": (64_000_000, "pixels per request, all its images together"),
    "max_connections": (64, "open connections at once; more are answered 503 before anything is read"),
}
