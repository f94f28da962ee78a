"""The monitoring dashboard (``rekam-hq serve``): Starlette, Jinja2 pages, htmx 2 and its SSE
extension, Chart.js, all served from the package (no CDN, no external request).

Security, in the order a request meets it:

1. :class:`SessionGate` (ASGI middleware) lets through only ``/login``, ``/static/`` and the
   language switch without a session; anything else answers a redirect to the login page
   (pages) or 401 (data, htmx fragments, the event stream).
2. Every POST carries a CSRF token (the session's, or before login the login form's
   double-submit token) and, when the browser sends one, an ``Origin`` of this site.
3. Every page and data endpoint takes the account's :class:`~hq.web.auth.Scope` into its
   queries; an area outside it answers 404 the same as an unknown one, so a Lurah's
   account learns nothing about another kelurahan, not even which codes exist there.

Responses carry a strict Content-Security-Policy (scripts and styles from this origin only),
``X-Frame-Options: DENY``, ``no-store`` on everything behind the login, and cookies that are
``Secure``, ``HttpOnly`` and ``SameSite=Strict`` under the ``__Host-`` prefix. Run it behind a
TLS reverse proxy (README: "The dashboard").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import (
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Receive, Scope, Send

from edge.errors import InvalidInput, NotFound
from hq.monitoring import coverage, flagged, views
from hq.monitoring import kits as kit_queries
from hq.monitoring import output as output_queries
from hq.monitoring.text import shown
from hq.web import auth, i18n
from hq.web.i18n import DEFAULT, LANGUAGES, translate

HERE = Path(__file__).parent
SESSION_COOKIE = "__Host-rekam-session"
LOGIN_COOKIE = "__Host-rekam-login"
LANG_COOKIE = "__Host-rekam-lang"
PUBLIC = ("/login", "/static/", "/lang", "/favicon.ico")
OUTPUT_DAYS = 7  # the kits page's recordings per day

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")


@dataclass
class Settings:
    engine: Engine
    poll_seconds: float = 2.0  # how often the event stream looks for new recordings
    keepalive_seconds: float = 15.0
    extra: dict[str, Any] = field(default_factory=dict)


# --- the gate -------------------------------------------------------------------------------


class SessionGate:
    """Resolves the session cookie for every request; refuses what needs a session."""

    def __init__(self, app: ASGIApp, engine: Engine) -> None:
        self.app = app
        self.engine = engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        token = request.cookies.get(SESSION_COOKIE)
        session = await run_in_threadpool(auth.session_for, self.engine, token) if token else None
        scope.setdefault("state", {})["session"] = session
        path = scope["path"]
        if session is None and not any(path == p or (p.endswith("/") and path.startswith(p))
                                       for p in PUBLIC):
            response: Response
            if (path.startswith(("/api/", "/events")) or "hx-request" in request.headers
                    or scope["method"] != "GET"):
                response = PlainTextResponse("login required", status_code=401)
            else:
                target = path + (f"?{scope['query_string'].decode()}"
                                 if scope["query_string"] else "")
                response = RedirectResponse(f"/login?next={quote(target)}", status_code=303)
            if token:  # a stale cookie: clear it
                response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True,
                                       samesite="strict")
            await _with_headers(response, private=True)(scope, receive, send)
            return

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                _add_security_headers(headers, private=not path.startswith("/static/"))
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _add_security_headers(headers: list[tuple[bytes, bytes]], *, private: bool) -> None:
    present = {k.lower() for k, _ in headers}
    wanted = [(b"content-security-policy", CSP.encode()), (b"x-frame-options", b"DENY"),
              (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"),
              (b"cross-origin-opener-policy", b"same-origin")]
    if private:
        wanted.append((b"cache-control", b"no-store"))
    headers.extend((k, v) for k, v in wanted if k not in present)


def _with_headers(response: Response, *, private: bool) -> Response:
    raw = list(response.raw_headers)
    _add_security_headers(raw, private=private)
    response.raw_headers = raw
    return response


# --- helpers for handlers -------------------------------------------------------------------


def session_of(request: Request) -> auth.Session:
    session = request.scope.get("state", {}).get("session")
    if session is None:  # the gate lets no such request through; be sure anyway
        raise HTTPException(401)
    return session  # type: ignore[no-any-return]


def language_of(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, DEFAULT)
    return lang if lang in LANGUAGES else DEFAULT


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def checked_form(request: Request, expected: str | None) -> FormData:
    """The POSTed form, once its CSRF token matched ``expected`` and its origin is ours."""
    form = await request.form()
    given = form.get("csrf") or request.headers.get("x-csrf-token")
    if (expected is None or not _same_origin(request)
            or not auth.csrf_matches(expected, given if isinstance(given, str) else None)):
        raise HTTPException(403, "csrf")
    return form


def _cookie(response: Response, name: str, value: str, *, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", secure=True, httponly=True,
                        samesite="strict")


class Pages:
    """The request handlers, sharing the engine and the templates."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = settings.engine
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        assert self.templates.env.autoescape  # names and addresses are data, never markup
        self.templates.env.globals["area_name"] = _area_name
        self.templates.env.globals["wib"] = _wib
        self.templates.env.globals["shown"] = shown

    def render(self, request: Request, name: str, context: dict[str, Any],
               status_code: int = 200) -> Response:
        lang = language_of(request)
        session = request.scope.get("state", {}).get("session")
        base = {
            "lang": lang, "session": session,
            "t": lambda key, **kw: translate(lang, key, **kw),
            "num": lambda v: i18n.number(lang, v), "pct": lambda v: i18n.percent(lang, v),
            "signed": lambda v: i18n.signed(lang, v),
            "flag": lambda code: flagged.flag_label(code, lang),
            "now": datetime.now(UTC),
            "csrf": session.csrf if session else context.get("csrf", ""),
        }
        return self.templates.TemplateResponse(request, name, {**base, **context},
                                               status_code=status_code)

    # --- login, logout, language ------------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        if request.scope["state"].get("session") is not None:
            return RedirectResponse("/", status_code=303)
        return self._login_form(request, message=request.query_params.get("msg", ""))

    def _login_form(self, request: Request, *, message: str = "", user_id: str = "",
                    status_code: int = 200, minutes: int = 0) -> Response:
        token = secrets.token_urlsafe(32)
        next_url = _safe_next(request.query_params.get("next", "/"))
        response = self.render(request, "login.html", {
            "csrf": token, "message": message, "user_id": user_id, "next": next_url,
            "minutes": minutes}, status_code=status_code)
        _cookie(response, LOGIN_COOKIE, token, max_age=3600)
        return response

    async def login_submit(self, request: Request) -> Response:
        try:
            form = await checked_form(request, request.cookies.get(LOGIN_COOKIE))
        except HTTPException:
            return self._login_form(request, message="login_expired", status_code=403)
        user_id = str(form.get("user_id", ""))[:64]
        password = str(form.get("password", ""))[:1024]
        try:
            session = await run_in_threadpool(
                auth.login, self.engine, user_id, password, ip=client_ip(request),
                user_agent=request.headers.get("user-agent", ""))
        except auth.LoginRefused as exc:
            if exc.reason == "wait":
                return self._login_form(request, message="login_wait", user_id=user_id,
                                        status_code=429,
                                        minutes=max(1, -(-exc.retry_after // 60)))
            return self._login_form(request, message="login_wrong", user_id=user_id,
                                    status_code=401)
        response = RedirectResponse(_safe_next(str(form.get("next", "/"))), status_code=303)
        _cookie(response, SESSION_COOKIE, session.token,
                max_age=int(auth.LIFETIME.total_seconds()))
        response.delete_cookie(LOGIN_COOKIE, path="/", secure=True, httponly=True,
                               samesite="strict")
        return response

    async def logout(self, request: Request) -> Response:
        session = session_of(request)
        await checked_form(request, session.csrf)
        await run_in_threadpool(auth.logout, self.engine, session, ip=client_ip(request))
        response = RedirectResponse("/login?msg=logged_out", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True,
                               samesite="strict")
        return response

    async def switch_language(self, request: Request) -> Response:
        session = request.scope["state"].get("session")
        expected = session.csrf if session else request.cookies.get(LOGIN_COOKIE)
        form = await checked_form(request, expected)
        lang = str(form.get("lang", DEFAULT))
        response = RedirectResponse(_safe_next(str(form.get("next", "/"))), status_code=303)
        _cookie(response, LANG_COOKIE, lang if lang in LANGUAGES else DEFAULT,
                max_age=365 * 86400)
        return response

    # --- pages -----------------------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        scope = session_of(request).user.scope
        return RedirectResponse(f"/area/{scope.code}", status_code=303)

    def _area(self, request: Request) -> coverage.Area:
        """The area a URL names, if this account may see it; 404 otherwise (the same
        answer as for an area that does not exist)."""
        scope = session_of(request).user.scope
        try:
            area = coverage.area_of(request.path_params["code"],
                                    request.path_params.get("rw", ""),
                                    request.path_params.get("rt", ""))
        except (NotFound, InvalidInput):
            raise HTTPException(404) from None
        if not scope.allows(area.code):
            raise HTTPException(404)
        return area

    async def area_page(self, request: Request) -> Response:
        area = self._area(request)
        period = _period(request)
        scope = session_of(request).user.scope
        data = await run_in_threadpool(views.area_view, self.engine, area, period,
                                       language_of(request))
        template = "area_figures.html" if _fragment(request) else "area.html"
        return self.render(request, template, {
            **data, "area": area, "period": period, "page": "coverage",
            "crumbs": [(a, scope.allows(a.code)) for a in area.path()],
            "query": request.url.query})

    async def api_coverage(self, request: Request) -> Response:
        area = self._area(request)
        period = _period(request)
        level = request.query_params.get("by") or area.child_level or area.level
        if level not in coverage.LEVELS:
            raise HTTPException(404)
        rows = await run_in_threadpool(coverage.figures, self.engine, area, level, period)
        total = await run_in_threadpool(coverage.total, self.engine, area, period)
        return JSONResponse({"area": total.to_dict(), "by": level,
                             "period": {"from": _iso(period.start), "to": _iso(period.end)},
                             "rows": [r.to_dict() for r in rows]})

    async def api_series(self, request: Request) -> Response:
        area = self._area(request)
        period = _period(request)
        weekly = request.query_params.get("per") == "week"
        points = await run_in_threadpool(coverage.series, self.engine, area, period,
                                         weekly=weekly)
        return JSONResponse([{"day": p.day.isoformat(), "must_record": p.must_record,
                              "recorded": p.recorded, "recorded_that_day": p.recorded_that_day}
                             for p in points])

    async def report_download(self, request: Request) -> Response:
        """The evaluation report of an area this account sees (clerks and admins)."""
        from hq.monitoring import report
        from hq.monitoring.evaluation import BY, evaluate

        session = session_of(request)
        if not session.user.can("clerk"):
            raise HTTPException(404)
        area = self._area(request)
        fmt = request.path_params["fmt"]
        if fmt not in report.RENDERERS or area.level in ("rw", "rt"):
            raise HTTPException(404)
        period = _period(request)
        by = request.query_params.get("by") or area.child_level or area.level
        if by not in BY:
            by = "rw"
        try:
            ev = await run_in_threadpool(
                evaluate, self.engine, by=by,
                kecamatan=area.code if area.level == "kecamatan" else None,
                kelurahan=area.code if area.level == "kelurahan" else None,
                start=period.start, end=period.end)
        except (NotFound, InvalidInput):
            raise HTTPException(400, "period") from None
        data = await run_in_threadpool(report.RENDERERS[fmt], ev)
        media = {"csv": "text/csv; charset=utf-8", "json": "application/json",
                 "pdf": "application/pdf",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
        name = f"laporan-{area.code}-{ev.first_day}-{ev.period.end}.{fmt}"
        return Response(data, media_type=media[fmt],
                        headers={"content-disposition": f'attachment; filename="{name}"'})

    async def api_residents(self, request: Request) -> Response:
        area = self._area(request)
        if area.level not in ("rw", "rt"):
            raise HTTPException(404)
        rows = await run_in_threadpool(views.not_recorded, self.engine, area)
        return JSONResponse([views.resident_json(r) for r in rows])

    async def kits_page(self, request: Request) -> Response:
        session = session_of(request)
        area = None if session.user.scope.whole_city else session.user.scope.code
        kits = await run_in_threadpool(kit_queries.kit_states, self.engine, area=area)
        first, last = output_queries.last_days(OUTPUT_DAYS)
        made = await run_in_threadpool(output_queries.output, self.engine,
                                       _scope_area(session), first, last)
        # kits serving the area, and any other kit that recorded one of its residents
        rows = [made.kit(k.device_id) or output_queries.OutputRow(
            k.device_id, "", [0] * len(made.days), [0] * len(made.days), is_kit=True)
            for k in kits]
        listed = {k.device_id for k in kits}
        rows += [k for k in made.kits if k.device_id not in listed]
        template = "kits_table.html" if _fragment(request) else "kits.html"
        return self.render(request, template, {
            "kits": kits, "summary": kit_queries.summary(kits), "page": "kits",
            "output": made, "kit_rows": rows,
            "training_kits": {k.device_id for k in kits if k.training}})

    async def output_data(self, request: Request) -> Response:
        """Each kit's and operator's recordings per day (``?from=&to=``, at most a year;
        default the last 7 days), within the account's area."""
        session = session_of(request)
        last = output_queries.last_days(1)[1]
        try:
            start = request.query_params.get("from")
            end = request.query_params.get("to")
            last = date.fromisoformat(end) if end else last
            first = date.fromisoformat(start) if start else \
                last - timedelta(days=OUTPUT_DAYS - 1)
        except ValueError:
            raise HTTPException(400, "period") from None
        if first > last or (last - first).days > 366:
            raise HTTPException(400, "period")
        made = await run_in_threadpool(output_queries.output, self.engine,
                                       _scope_area(session), first, last)
        return JSONResponse(made.to_dict())

    async def readiness_page(self, request: Request) -> Response:
        from hq.monitoring import ahead

        session = session_of(request)
        area = None if session.user.scope.whole_city else session.user.scope.code
        visits = await run_in_threadpool(lambda: ahead.visits_ahead(
            self.engine, area=area, today=views.today()))
        template = "readiness_table.html" if _fragment(request) else "readiness.html"
        return self.render(request, template, {"visits": visits, "days": ahead.DAYS_AHEAD,
                                               "page": "readiness"})

    async def readiness_data(self, request: Request) -> Response:
        from hq.monitoring import ahead

        session = session_of(request)
        area = None if session.user.scope.whole_city else session.user.scope.code
        visits = await run_in_threadpool(lambda: ahead.visits_ahead(
            self.engine, area=area, today=views.today()))
        return JSONResponse([v.to_dict() for v in visits])

    async def review_page(self, request: Request) -> Response:
        """The flagged recordings waiting for a supervisor, within the account's area."""
        within = _scope_area(session_of(request))
        queue = await run_in_threadpool(flagged.waiting, self.engine, within)
        template = "review_table.html" if _fragment(request) else "review.html"
        return self.render(request, template, {"queue": queue, "page": "review"})

    async def review_data(self, request: Request) -> Response:
        within = _scope_area(session_of(request))
        queue = await run_in_threadpool(flagged.waiting, self.engine, within)
        return JSONResponse(queue.to_dict())

    async def kits_data(self, request: Request) -> Response:
        session = session_of(request)
        area = None if session.user.scope.whole_city else session.user.scope.code
        kits = await run_in_threadpool(kit_queries.kit_states, self.engine, area=area)
        return JSONResponse([_kit_json(k) for k in kits])

    async def users_page(self, request: Request) -> Response:
        session = session_of(request)
        if not session.user.can("admin"):
            raise HTTPException(404)
        users = await run_in_threadpool(auth.list_users, self.engine)
        events = await run_in_threadpool(auth.auth_events, self.engine)
        return self.render(request, "users.html", {"users": users, "events": events,
                                                   "page": "users"})

    # --- the live stream -------------------------------------------------------------------

    async def events(self, request: Request) -> Response:
        session_of(request)
        watcher: Watcher = request.app.state.watcher
        queue = watcher.subscribe()

        async def stream() -> AsyncIterator[str]:
            try:
                yield "retry: 3000\n\n"
                while True:
                    try:
                        name = await asyncio.wait_for(
                            queue.get(), timeout=self.settings.keepalive_seconds)
                    except TimeoutError:
                        if await request.is_disconnected():
                            return
                        yield ": keepalive\n\n"
                        continue
                    if name is None:  # the server is stopping
                        return
                    yield f"event: {name}\ndata: {json.dumps({'at': _iso_now()})}\n\n"
            finally:
                watcher.unsubscribe(queue)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"X-Accel-Buffering": "no"})


def _period(request: Request) -> coverage.Period:
    """The period in the query (?from=YYYY-MM-DD&to=YYYY-MM-DD), else up to today (WIB)."""
    try:
        start = request.query_params.get("from") or None
        end = request.query_params.get("to") or None
        return coverage.Period(date.fromisoformat(start) if start else None,
                               date.fromisoformat(end) if end else views.today())
    except (ValueError, InvalidInput):
        raise HTTPException(400, "period") from None


def _scope_area(session: auth.Session) -> coverage.Area:
    """The account's whole area as a drill-down area (the kota, a kecamatan or a
    kelurahan)."""
    scope = session.user.scope
    return coverage.KOTA if scope.whole_city else coverage.Area(scope.level, scope.code)


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _fragment(request: Request) -> bool:
    return request.headers.get("hx-request") == "true" and "hx-history-restore-request" \
        not in request.headers


def _safe_next(target: str) -> str:
    """Only a path on this site (no scheme, no host, no '//'): never an open redirect."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return "/"
    return target


def _wib(value: datetime | str | None) -> str:
    """A time as Bekasi reads it: 05-12-2026 08.04 (WIB)."""
    from edge.clock import WIB

    if not value:
        return "—"
    try:
        when = datetime.fromisoformat(value) if isinstance(value, str) else value
    except ValueError:
        return "—"
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(WIB).strftime("%d-%m-%Y %H.%M")


def _area_name(code: str) -> str:
    from edge import regions

    try:
        return regions.get(code).name
    except Exception:
        return code


def _kit_json(k: kit_queries.KitState) -> dict[str, Any]:
    return {
        "device_id": k.device_id, "kelurahan": list(k.kelurahan), "state": k.state,
        "last_heartbeat": k.last_heartbeat.isoformat() if k.last_heartbeat else None,
        "silent_seconds": int(k.silent_for.total_seconds()) if k.silent_for else None,
        "queue_depth": k.queue_depth, "oldest_queued": k.oldest_queued,
        "free_disk_mb": k.free_disk_mb, "software_version": k.software_version,
        "roster_version": k.roster_version, "audit_head": k.audit_head,
        "packets": k.packets,
        "last_packet_at": k.last_packet_at.isoformat() if k.last_packet_at else None,
        "training": k.training, "readiness": k.readiness,
    }


# --- change watcher for the event stream -------------------------------------------------


class Watcher:
    """One poller per server process: every ``poll_seconds`` it asks the database for a
    cheap change stamp per topic and tells every open event stream which topics moved.
    Each browser then fetches its own (scoped) fragments again, so the stream itself
    carries no figures and needs no per-user filtering."""

    def __init__(self, stamps: Callable[[], Awaitable[dict[str, object]]],
                 poll_seconds: float) -> None:
        self._stamps = stamps
        self._poll = poll_seconds
        self._queues: set[asyncio.Queue[str | None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._last: dict[str, object] = {}

    def subscribe(self) -> asyncio.Queue[str | None]:
        queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=16)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[str | None]) -> None:
        self._queues.discard(queue)

    async def start(self) -> None:
        self._last = await self._stamps()
        self._task = asyncio.create_task(self._run(), name="dashboard-watcher")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for queue in list(self._queues):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._poll)
            try:
                current = await self._stamps()
            except Exception:  # a database hiccup: try again next round
                continue
            moved = [k for k, v in current.items() if self._last.get(k) != v]
            self._last = current
            for name in moved:
                for queue in list(self._queues):
                    with contextlib.suppress(asyncio.QueueFull):  # a stuck browser skips one
                        queue.put_nowait(name)


def create_app(settings: Settings) -> Starlette:
    from hq.monitoring.stamps import change_stamps

    pages = Pages(settings)

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
        return pages.render(request, "error.html", {"message": key}, status_code=status)

    routes = [
        Route("/", pages.home),
        Route("/login", pages.login_page, methods=["GET"]),
        Route("/login", pages.login_submit, methods=["POST"]),
        Route("/logout", pages.logout, methods=["POST"]),
        Route("/lang", pages.switch_language, methods=["POST"]),
        Route("/area/{code}", pages.area_page),
        Route("/area/{code}/rw/{rw}", pages.area_page),
        Route("/api/coverage/{code}", pages.api_coverage),
        Route("/api/coverage/{code}/rw/{rw}", pages.api_coverage),
        Route("/api/series/{code}", pages.api_series),
        Route("/api/series/{code}/rw/{rw}", pages.api_series),
        Route("/api/residents/{code}/rw/{rw}", pages.api_residents),
        Route("/report/{code}.{fmt}", pages.report_download),
        Route("/kits", pages.kits_page),
        Route("/api/kits", pages.kits_data),
        Route("/api/output", pages.output_data),
        Route("/review", pages.review_page),
        Route("/api/review", pages.review_data),
        Route("/readiness", pages.readiness_page),
        Route("/api/readiness", pages.readiness_data),
        Route("/users", pages.users_page),
        Route("/events", pages.events),
        Route("/favicon.ico", lambda request: Response(status_code=204)),
        Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={HTTPException: not_found})
    app.state.watcher = watcher
    app.add_middleware(SessionGate, engine=settings.engine)
    return app
