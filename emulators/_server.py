"""One local server for every emulated provider and both judge APIs; background or foreground."""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from adapters.webhooks import jwks_for
from emulators.routes import (
    accounts,
    elevenlabs,
    fal,
    google,
    images_fal,
    images_gemini,
    images_openai,
    kling,
    luma,
    openai,
    replicate,
    runway,
    vertex,
)
from emulators.scenario import Scenario, load_scenario
from emulators.state import Emulator
from emulators.webhooks import fal_key

PROVIDER_PATHS = {
    "google": "/google",
    "runway": "/runway",
    "kling": "/kling",
    "luma": "/luma",
    "fal": "/fal",
    "replicate": "/replicate",
    "openai": "/openai",
    "elevenlabs": "/elevenlabs",
}
JUDGE_PATHS = {"gemini": "/google/v1beta", "openai": "/openai/v1"}


def urls_for(root: str) -> tuple[dict[str, str], dict[str, str]]:
    """Per-provider and per-judge base URLs of an emulator served at ``root``."""
    root = root.rstrip("/")
    providers = {provider: root + path for provider, path in PROVIDER_PATHS.items()}
    return providers, {name: root + path for name, path in JUDGE_PATHS.items()}


EXPIRED_XML = (
    "<?xml version='1.0' encoding='UTF-8'?><Error><Code>AccessDenied</Code>"
    "<Message>Request has expired</Message></Error>"
)


def create_app(scenario: Scenario, media_dir: Path) -> FastAPI:
    app = FastAPI(title="shotline provider emulator", docs_url=None, redoc_url=None)
    app.state.emulator = Emulator(scenario, media_dir)
    # the image APIs first: fal's and Gemini's catch-all routes would take their paths
    for images in (images_fal, images_gemini, images_openai):
        app.include_router(images.router)
    # the account/catalog endpoints first: fal's queue routes catch every path under /fal
    for module in (
        accounts,
        google,
        vertex,
        runway,
        kling,
        luma,
        replicate,
        openai,
        elevenlabs,
        fal,
    ):
        app.include_router(module.router)

    @app.get("/_emulator/stats")
    async def stats(request: Request) -> JSONResponse:
        return JSONResponse(request.app.state.emulator.stats.as_dict())

    @app.get("/_emulator/fal-jwks.json")
    async def fal_jwks(request: Request) -> JSONResponse:
        return JSONResponse(jwks_for(fal_key(request.app.state.emulator.scenario.seed)))

    @app.get("/_emulator/health")
    async def health() -> JSONResponse:
        return JSONResponse({"ok": True, "emulated": True})

    @app.get("/_files/{job_id}/{name}")
    async def files(job_id: str, name: str, exp: int, request: Request) -> Response:
        emu: Emulator = request.app.state.emulator
        job = emu.jobs.get(job_id)
        if exp < time.time() or (job is not None and emu.expire_download(job)):
            return Response(EXPIRED_XML, status_code=403, media_type="application/xml")
        if job is None or job.render is None or not job.render.done():
            return Response("not found", status_code=404, media_type="text/plain")
        return FileResponse(emu.clip_path(job), media_type="video/mp4")

    return app


class EmulatorHandle:
    """A running emulator: base URLs for ``build_adapter``, stats, and ``stop`` (which removes the
    media it rendered)."""

    def __init__(
        self,
        server: uvicorn.Server,
        thread: threading.Thread | None,
        root: str,
        emu: Emulator,
        remove_media: Callable[[], object],
    ) -> None:
        self._server = server
        self._thread = thread
        self._remove_media = remove_media
        self.base_url = root
        self.base_urls, self.judge_base_urls = urls_for(root)
        self.emulator = emu

    def stats(self) -> dict[str, Any]:
        """Submissions (and when each arrived, in monotonic seconds) and accepted jobs per model,
        creates, repeated bodies and repeated client tags per provider (``Stats``)."""
        return self.emulator.stats.as_dict()

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.emulator.shutdown()
        self._remove_media()

    def __enter__(self) -> EmulatorHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _server(
    scenario: Scenario | Path | None, host: str, port: int
) -> tuple[uvicorn.Server, Emulator]:
    loaded = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    media_dir = Path(tempfile.mkdtemp(prefix="shotline-emulator-"))
    app = create_app(loaded, media_dir)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    return uvicorn.Server(config), app.state.emulator


def start_emulator(
    scenario: Scenario | Path | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> EmulatorHandle:
    """Run the emulator in a background thread (``port=0``: a free port); return once it serves.

    Its media directory goes on ``stop``, when it fails to start, or at the latest when the
    interpreter exits.
    """
    server, emu = _server(scenario, host, port)
    remove_media = weakref.finalize(emu, shutil.rmtree, emu.media_dir, True)
    try:
        thread, bound = _serve_in_thread(server, host, port)
    except BaseException:
        server.should_exit = True
        emu.shutdown()
        remove_media()
        raise
    netloc = f"[{host}]" if ":" in host else host
    return EmulatorHandle(server, thread, f"http://{netloc}:{bound}", emu, remove_media)


def _serve_in_thread(server: uvicorn.Server, host: str, port: int) -> tuple[threading.Thread, int]:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    bound: int = sock.getsockname()[1]
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="shotline-emulator", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the emulator did not start")
        time.sleep(0.01)
    return thread, bound
