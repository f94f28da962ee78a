"""The monitoring dashboard (``rekam-hq serve``): Starlette, Jinja2 pages, htmx 2 and its SSE
extension, Chart.js, all served from the package (no CDN, no external request).

This module wires it: :class:`Settings` and :func:`create_app` (the routes, the error page,
the event stream's watcher, the session gate). The security every request meets is in
:mod:`hq.web.gate`; the handlers are in :mod:`hq.web.login` (login, logout, language),
:mod:`hq.web.areas` (coverage by area, the report's downloads), :mod:`hq.web.operations`
(kits, readiness, review, accounts) and :mod:`hq.web.events` (live updates); pages render
through :mod:`hq.web.render`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from hq.web.areas import AreaPages
from hq.web.events import EventStream, Watcher
from hq.web.gate import SessionGate
from hq.web.login import LoginPages
from hq.web.operations import OperationsPages
from hq.web.render import HERE, Renderer


@dataclass
class Settings:
    engine: Engine
    poll_seconds: float = 2.0  # how often the event stream looks for new recordings
    keepalive_seconds: float = 15.0
    extra: dict[str, Any] = field(default_factory=dict)


def create_app(settings: Settings) -> Starlette:
    from hq.monitoring.stamps import change_stamps

    renderer = Renderer()
    login = LoginPages(settings.engine, renderer)
    areas = AreaPages(settings.engine, renderer)
    work = OperationsPages(settings.engine, renderer)
    stream = EventStream(settings.keepalive_seconds)

    async def stamps() -> dict[str, object]:
        return await run_in_threadpool(change_stamps, settings.engine)

    watcher = Watcher(stamps, settings.poll_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.watcher = watcher
        await watcher.start()
        try:
            yield
        finally:
            await watcher.stop()

    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 500)
        detail = getattr(exc, "detail", "")
        if status == 403 and detail == "csrf":
            key = "csrf_failed"
        elif status == 400:
            key = "bad_period"
        elif status == 401:
            return PlainTextResponse("login required", status_code=401)
        else:
            key = "not_found"
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": key}, status_code=status)
        return renderer.render(request, "error.html", {"message": key}, status_code=status)

    routes = [
        Route("/", areas.home),
        Route("/login", login.login_page, methods=["GET"]),
        Route("/login", login.login_submit, methods=["POST"]),
        Route("/logout", login.logout, methods=["POST"]),
        Route("/lang", login.switch_language, methods=["POST"]),
        Route("/area/{code}", areas.area_page),
        Route("/area/{code}/rw/{rw}", areas.area_page),
        Route("/api/coverage/{code}", areas.api_coverage),
        Route("/api/coverage/{code}/rw/{rw}", areas.api_coverage),
        Route("/api/series/{code}", areas.api_series),
        Route("/api/series/{code}/rw/{rw}", areas.api_series),
        Route("/api/residents/{code}/rw/{rw}", areas.api_residents),
        Route("/report/{code}.{fmt}", areas.report_download),
        Route("/kits", work.kits_page),
        Route("/api/kits", work.kits_data),
        Route("/api/output", work.output_data),
        Route("/review", work.review_page),
        Route("/api/review", work.review_data),
        Route("/readiness", work.readiness_page),
        Route("/api/readiness", work.readiness_data),
        Route("/users", work.users_page),
        Route("/events", stream.events),
        Route("/favicon.ico", lambda request: Response(status_code=204)),
        Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={HTTPException: not_found})
    app.state.watcher = watcher
    app.add_middleware(SessionGate, engine=settings.engine)
    return app
