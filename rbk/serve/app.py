"""The ASGI app (Starlette) over :class:`AlertService`. Imported only by ``rbk serve``."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from rbk.serve import auth
from rbk.serve.service import AlertService


def create_app(service: AlertService) -> Starlette:
    async def hook(request: Request) -> Response:
        source = request.path_params["source"]
        length = request.headers.get("content-length")
        limit = service.config.max_body
        if length is not None and (not length.isdigit() or int(length) > limit):
            return JSONResponse({"error": "body too large"}, status_code=413)
        body = bytearray()
        async for chunk in request.stream():  # also caps chunked bodies
            body += chunk
            if len(body) > limit:
                return JSONResponse({"error": "body too large"}, status_code=413)
        status, answer = await asyncio.to_thread(service.handle, source,
                                                 dict(request.headers), bytes(body))
        return JSONResponse(answer, status_code=status)

    def authorized(request: Request) -> bool:
        if not service.config.tokens:
            return service.config.allow_unauthenticated
        try:
            auth.check_token({k.lower(): v for k, v in request.headers.items()},
                             service.config.tokens)
            return True
        except auth.Rejected:
            return False

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True, "pending": service.store.pending(),
                             "runbooks": [r.name for r in service.runbooks]})

    async def runs(request: Request) -> Response:
        if not authorized(request):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        try:
            limit = min(int(request.query_params.get("limit", 200)), 100_000)
        except ValueError:
            return JSONResponse({"error": "limit must be a number"}, status_code=400)
        return JSONResponse({"alerts": service.store.list(limit)})

    async def run(request: Request) -> Response:
        if not authorized(request):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        from rbk.engine import load_events
        from rbk.errors import RbkError
        from rbk.report.model import build_report

        try:
            _, events = load_events(request.path_params["run_id"], service.state_dir)
        except RbkError as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)
        report = build_report(events)
        if request.query_params.get("format") == "html":
            return HTMLResponse(service.registry.reporters["html"](report))
        return JSONResponse(report.to_dict())

    async def approve(request: Request) -> Response:
        if not authorized(request):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        from rbk.approve import approve_run
        from rbk.errors import RbkError

        try:
            result: Any = await asyncio.to_thread(
                approve_run, request.path_params["run_id"], service.registry,
                service.state_dir, service.config.inventory)
        except RbkError as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        return JSONResponse(result, status_code=200 if result["applied"] else 409)

    return Starlette(routes=[
        Route("/hooks/{source}", hook, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/runs", runs, methods=["GET"]),
        Route("/runs/{run_id}", run, methods=["GET"]),
        Route("/runs/{run_id}/approve", approve, methods=["POST"]),
    ])


def serve(service: AlertService, host: str, port: int) -> None:
    import sys

    import uvicorn

    # A short GIL switch interval keeps webhook answers prompt while the worker
    # thread waits on the run process and writes results.
    sys.setswitchinterval(0.0005)
    service.start()
    try:
        uvicorn.run(create_app(service), host=host, port=port, log_level="warning",
                    timeout_graceful_shutdown=30)
    finally:
        service.stop()
