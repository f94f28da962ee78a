"""The dashboard's security, in the order a request meets it:

1. :class:`SessionGate` (ASGI middleware) lets through only ``/login``, ``/static/`` and the
   language switch without a session; anything else answers a redirect to the login page
   (pages) or 401 (data, htmx fragments, the event stream).
2. Every POST carries a CSRF token (the session's, or before login the login form's
   double-submit token) and, when the browser sends one, an ``Origin`` of this site
   (:func:`checked_form`).
3. Every page and data endpoint takes the account's :class:`~hq.web.auth.Scope` into its
   queries; an area outside it answers 404 the same as an unknown one, so a Lurah's
   account learns nothing about another kelurahan, not even which codes exist there.

Responses carry a strict Content-Security-Policy (scripts and styles from this origin only),
``X-Frame-Options: DENY``, ``no-store`` on everything behind the login, and cookies that are
``Secure``, ``HttpOnly`` and ``SameSite=Strict`` under the ``__Host-`` prefix. Run it behind a
TLS reverse proxy (README: "The dashboard").
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any
from urllib.parse import quote, urlsplit

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from hq.web import auth

SESSION_COOKIE = "__Host-rekam-session"
LOGIN_COOKIE = "__Host-rekam-login"
LANG_COOKIE = "__Host-rekam-lang"
PUBLIC = ("/login", "/static/", "/lang", "/favicon.ico")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")


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


# --- what the handlers check ----------------------------------------------------------------


def session_of(request: Request) -> auth.Session:
    session = request.scope.get("state", {}).get("session")
    if session is None:  # the gate lets no such request through; be sure anyway
        raise HTTPException(401)
    return session  # type: ignore[no-any-return]


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
