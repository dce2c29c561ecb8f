"""The web app: upload a chest X-ray, get the predictor's answer and a Grad-CAM overlay.

Uploads stay in memory (see ``upload.py``); the page is static package data; images go back to the
browser as data: URLs, so nothing is ever written to disk. Errors a user can cause are answered
with a 4xx and ``{"detail": "<message>"}``, which the page shows as is:

- 400: not a multipart upload, no ``file`` field, or an empty file;
- 401: a token is required (``serve --token``) and the request has none or another;
- 413: the upload is over ``max_upload_bytes``, or the image header announces more pixels or a
  larger decoded array than ``DecodeLimits`` allows (a decompression bomb; it is not decoded);
- 415: not a JPEG, PNG, BMP, TIFF or DICOM image (sniffed from the bytes, never the file name),
  or a DICOM compression with no decoder installed;
- 422: a recognised format that cannot be decoded (truncated or corrupt);
- 503 with ``Retry-After``: ``ServeLimits.concurrent`` analyses are running and
  ``ServeLimits.waiting`` more wait already.

Memory is bounded by those limits: at most ``concurrent + waiting`` uploads are held at once, and at
most ``concurrent`` decodes of at most ``max_decoded_bytes`` each run (``benchmarks/serve_memory.py``
measures the peak).
"""

import asyncio
import base64
import contextlib
import ipaddress
import logging
import secrets
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated

import anyio
import cv2
import numpy as np
import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.datastructures import Headers
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from ..explain import overlay_heatmap
from ..imaging.decode import (
    DEFAULT_DECODE_LIMITS,
    DecodeLimits,
    ImageDecodeError,
    ImageTooLargeError,
    UnsupportedImageError,
)
from ..inference import Predictor
from .upload import UploadError, read_upload

DEFAULT_MAX_UPLOAD_BYTES = 20 * 2**20
# The Host names a request may carry by default: this machine's own (--allowed-host adds others).
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")
NOT_LOOPBACK_WARNING = (
    "Serving on %s: anyone who can reach this machine can upload images and read predictions%s. This app "
    "has no TLS: serve it on 127.0.0.1 behind a reverse proxy that adds it (docs/serve-safely.md). "
    "Requests must name this machine as their Host: add the names others use with --allowed-host."
)
NO_TOKEN_ADVICE = " (no token is required: see serve --help, --token)"
TOKEN_ADVICE = " who has the token; the token crosses the network in clear without TLS"
UPLOAD_FIELD = "file"
STATIC_PACKAGE = ("pediatric_pneumonia.webapp", "static")
DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc")

# The page's own files only; images arrive as data: URLs. Swagger UI (/docs) loads its script from a
# CDN and runs inline script, so it keeps FastAPI's defaults instead.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

logger = logging.getLogger(__name__)


class PredictionResponse(BaseModel):
    source: str = Field(description="The uploaded file's name (display only; never used otherwise).")
    label: str = Field(
        description="The predicted class: the positive class when probability >= threshold (the most probable class of a "
        "model of more than two classes)."
    )
    probability: float = Field(description="Calibrated probability of pneumonia (of a K-class model: 1 - P(NORMAL)).")
    probabilities: dict[str, float] | None = Field(
        None, description="Each class's calibrated probability, for a model of more than two classes; null for two."
    )
    threshold: float = Field(description="The validation-chosen decision threshold.")
    ood_score: float | None = Field(
        None,
        description="How unlike the model's validation images this image is (0-100: the percentile of its nearest-neighbour "
        "distance among theirs); null for a model without a shift reference.",
    )
    ood_warning: str | None = Field(None, description="A plain warning when ood_score is over the model's cut-off, else null.")
    classes: list[str]
    model: str = Field(description="The predictor that answered.")
    caveats: list[str] = Field(
        description="What the model's recalibration says its operating point cannot be trusted for (empty when nothing)."
    )
    image: str | None = Field(
        description="data:image/png URL of the image the model saw (before intensity normalisation); null with explain=false."
    )
    overlay: str | None = Field(description="data:image/png URL of the Grad-CAM heat map over that image; null with explain=false.")


class ErrorResponse(BaseModel):
    detail: str


@dataclass(frozen=True)
class ServeLimits:
    """What the app accepts and how much it does at once; each is a ``serve`` option."""

    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    decode: DecodeLimits = DEFAULT_DECODE_LIMITS
    concurrent: int = 2  # analyses (decode, model, Grad-CAM) running at once
    waiting: int = 8  # further requests admitted to wait for one; beyond them, 503


class ServerBusyError(Exception):
    """Every analysis slot is taken and the waiting room is full."""


class AnalysisSlots:
    """Admission to the app's analyses: ``waiting`` requests beyond the ``concurrent`` running ones
    may wait (their uploads held in memory), any further one is refused at once."""

    def __init__(self, concurrent: int, waiting: int) -> None:
        self.concurrent = concurrent
        self.capacity = concurrent + waiting
        self.admitted = 0
        self._limiter: anyio.CapacityLimiter | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @contextlib.contextmanager
    def admission(self) -> Iterator[None]:
        """Hold one place (running or waiting) for the request; ServerBusyError when none is free.
        Counted in the event loop's one thread, so no lock is needed."""
        if self.admitted >= self.capacity:
            raise ServerBusyError(f"The server is busy ({self.capacity} requests in progress). Retry in a moment.")
        self.admitted += 1
        try:
            yield
        finally:
            self.admitted -= 1

    async def run(self, function, *args):
        """``function(*args)`` in a worker thread, at most ``concurrent`` at once (the others queue)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a limiter belongs to its event loop (a test client starts its own)
            self._limiter, self._loop = anyio.CapacityLimiter(self.concurrent), loop
        return await anyio.to_thread.run_sync(function, *args, limiter=self._limiter)


class HealthResponse(BaseModel):
    status: str
    model: str
    classes: list[str]
    caveats: list[str]


ERROR_RESPONSES = {
    400: {"model": ErrorResponse, "description": "Not a multipart upload, no 'file' field, or an empty file."},
    401: {"model": ErrorResponse, "description": "The server needs a token (Authorization: Bearer <token>)."},
    413: {"model": ErrorResponse, "description": "Upload over the size limit, or an image over the pixel or decoded-size limit."},
    415: {"model": ErrorResponse, "description": "Not a JPEG, PNG, BMP, TIFF or DICOM image."},
    422: {"model": ErrorResponse, "description": "A truncated or corrupt image."},
    503: {"model": ErrorResponse, "description": "Busy: every analysis slot and waiting place is taken; see Retry-After."},
}
UPLOAD_REQUEST_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": [UPLOAD_FIELD],
                "properties": {UPLOAD_FIELD: {"type": "string", "format": "binary", "description": "The X-ray image."}},
            }
        }
    },
}


def png_data_url(image: np.ndarray) -> str:
    """A (H, W) gray or (H, W, 3) RGB uint8 image as a data:image/png URL."""
    pixels = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    encoded, png = cv2.imencode(".png", pixels)
    if not encoded:
        raise RuntimeError(f"OpenCV could not encode a {image.shape} image as PNG.")
    return "data:image/png;base64," + base64.b64encode(png.tobytes()).decode("ascii")


def decode_error_status(error: ImageDecodeError) -> int:
    if isinstance(error, ImageTooLargeError):
        return 413
    if isinstance(error, UnsupportedImageError):
        return 415
    return 422


def shown_model_name(predictor: Predictor) -> str:
    """The model's name as the app shows it: a package folder by its strategy and version folder
    (``data/06_models/baseline/predictor/<version>/predictor`` -> ``baseline <version>``) or its own
    folder name, never the server's path; other names (the built-in model, an MLflow URI) as they are."""
    path = Path(predictor.name)
    if not path.is_absolute() and len(path.parts) == 1:
        return predictor.name
    if path.parent.parent.name == path.name:  # Kedro's versioned layout: <dataset>/<version>/<dataset>
        return f"{path.parent.parent.parent.name} {path.parent.name}"
    return path.name


def create_app(
    predictor: Predictor,
    limits: ServeLimits = ServeLimits(),
    allowed_hosts: Sequence[str] = LOOPBACK_HOSTS,
    token: str | None = None,
) -> FastAPI:
    """The FastAPI app serving ``predictor``: the page at ``/``, the API under ``/api``, docs at ``/docs``.

    Requests whose ``Host`` is not one of ``allowed_hosts`` are refused (400; DNS rebinding), and so
    is a POST from a page of another origin (403), whatever the host. With a ``token``, the API
    answers only requests with ``Authorization: Bearer <token>`` (401 otherwise); the page asks for it.
    ``limits`` bound the uploads, the decodes and how many run at once."""
    app = FastAPI(
        title="Pediatric pneumonia X-ray classifier",
        description="Research software: not a diagnostic device. Upload a chest X-ray for a prediction and a Grad-CAM map.",
        version="1",
    )
    model_name = shown_model_name(predictor)
    page = resources.files(STATIC_PACKAGE[0]).joinpath(STATIC_PACKAGE[1], "index.html").read_text(encoding="utf-8")
    slots = AnalysisSlots(limits.concurrent, limits.waiting)
    bearer = HTTPBearer(auto_error=False, description="Only when the server was started with a token.")

    def require_token(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
        if token is None:
            return
        # compare_digest: the time taken does not tell how much of a guess was right.
        if credentials is None or not secrets.compare_digest(credentials.credentials.encode(), token.encode()):
            raise HTTPException(
                401,
                "This server needs an access token: send it as 'Authorization: Bearer <token>' (the page asks for it).",
                headers={"WWW-Authenticate": "Bearer"},
            )

    def analyse(content: bytes, source: str, explain: bool) -> PredictionResponse:
        if explain:
            explanation = predictor.explain(content, source, limits.decode)
            prediction = explanation.prediction
            pictures = {
                "image": png_data_url(explanation.stored_image),
                "overlay": png_data_url(overlay_heatmap(explanation.stored_image, explanation.heatmap)),
            }
        else:
            prediction, pictures = predictor.predict(content, source, limits.decode), {"image": None, "overlay": None}
        return PredictionResponse(
            source=source,
            label=prediction.label,
            probability=prediction.probability,
            probabilities=prediction.probabilities,
            threshold=prediction.threshold,
            ood_score=prediction.ood_score,
            ood_warning=prediction.ood_warning,
            classes=predictor.classes,
            model=model_name,
            caveats=predictor.caveats,
            **pictures,
        )

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        if request.url.path not in DOCS_PATHS:
            response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        if request.url.path.startswith("/api/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.exception_handler(UploadError)
    async def upload_error(request: Request, error: UploadError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=error.status_code)

    @app.exception_handler(ServerBusyError)
    async def busy(request: Request, error: ServerBusyError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=503, headers={"Retry-After": "1"})

    @app.exception_handler(ImageDecodeError)
    async def decode_error(request: Request, error: ImageDecodeError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=decode_error_status(error))

    @app.exception_handler(Exception)
    async def internal_error(request: Request, error: Exception) -> JSONResponse:
        logger.error("Request to %s failed", request.url.path, exc_info=error)
        return JSONResponse(
            {"detail": "The server failed while processing this request (the error is in its log). Try again or report it."},
            status_code=500,
        )

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get(
        "/api/health",
        response_model=HealthResponse,
        summary="Whether the server is up, and which model it serves",
        dependencies=[Depends(require_token)],
    )
    def health() -> HealthResponse:
        return HealthResponse(status="ok", model=model_name, classes=predictor.classes, caveats=predictor.caveats)

    @app.post(
        "/api/predict",
        response_model=PredictionResponse,
        responses=ERROR_RESPONSES,
        summary="Classify one chest X-ray (JPEG, PNG, BMP, TIFF or DICOM) and explain it with Grad-CAM (unless explain=false)",
        openapi_extra={"requestBody": UPLOAD_REQUEST_BODY},
        dependencies=[Depends(require_token)],
    )
    async def predict(
        request: Request,
        explain: Annotated[bool, Query(description="Draw the Grad-CAM map and return the images (slower).")] = True,
    ) -> PredictionResponse:
        with slots.admission():  # before the body is read: a refused request holds no upload
            upload = await read_upload(request, UPLOAD_FIELD, limits.max_upload_bytes)
            # Decoding, the model and Grad-CAM run in a worker thread, so the server keeps answering.
            return await slots.run(analyse, upload.content, upload.filename, explain)

    app.add_middleware(SameOriginPostMiddleware)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    app.mount("/static", StaticFiles(packages=[STATIC_PACKAGE]), name="static")
    return app


class SameOriginPostMiddleware:
    """Refuse (403) a POST whose ``Origin`` header names another origin than the app's own: a page
    elsewhere cannot make a visitor's browser upload to it. A plain ASGI middleware: it reads the
    headers only and passes the request body through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            headers = Headers(scope=scope)
            origin = headers.get("origin")
            if origin is not None and origin != f"{scope['scheme']}://{headers.get('host')}":
                response = JSONResponse({"detail": f"Cross-origin request from {origin} refused."}, status_code=403)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class AddressInUseError(OSError):
    """The address to serve at cannot be bound (taken, or not an address of this machine)."""


def bound_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host``:``port``, so that a taken port is reported before anything
    announces the address; raises AddressInUseError with the reason."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        raise AddressInUseError(
            f"Cannot serve at {host}:{port}: {error.strerror or error}. Choose another --port, or stop what listens there."
        ) from error
    return listener


@contextlib.contextmanager
def serving_in_background(app: ASGIApp, start_timeout: float = 20.0) -> Iterator[str]:
    """``app`` on a real uvicorn server on a free port of 127.0.0.1, in a background thread, for as
    long as the context lasts (a notebook, a benchmark, a test): its URL. RuntimeError if it has not
    started within ``start_timeout`` seconds."""
    listener = bound_socket("127.0.0.1", 0)  # uvicorn is handed the bound socket: no one else takes the port
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"The uvicorn server did not start within {start_timeout:g} s.")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run_server(
    predictor: Predictor,
    host: str = "127.0.0.1",
    port: int = 8000,
    limits: ServeLimits = ServeLimits(),
    allowed_hosts: Sequence[str] = (),
    token: str | None = None,
) -> None:
    """Serve the app with uvicorn until interrupted (no reload, no debug). The address is bound
    first: a taken port raises AddressInUseError before the address is announced. Requests must
    name this machine (``LOOPBACK_HOSTS``), the address served at, or one of ``allowed_hosts``."""
    own = () if host in ("0.0.0.0", "::") else (host,)
    app = create_app(predictor, limits, (*LOOPBACK_HOSTS, *own, *allowed_hosts), token)
    listener = bound_socket(host, port)
    shown_host = f"[{host}]" if ":" in host else host
    if not is_loopback(host):
        logger.warning(NOT_LOOPBACK_WARNING, host, TOKEN_ADVICE if token else NO_TOKEN_ADVICE)
    print(f"Serving {predictor.name} at http://{shown_host}:{port}/ (API docs at /docs). Press Ctrl+C to stop.", flush=True)
    uvicorn.Server(uvicorn.Config(app, reload=False, log_level="info")).run(sockets=[listener])
