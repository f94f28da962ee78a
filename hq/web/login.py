"""The dashboard's login, logout and language switch: the handlers that set its cookies,
and the only ones a browser without a session may POST to (with the login form's
double-submit CSRF token, :mod:`hq.web.gate`)."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hq.web import auth
from hq.web.gate import LANG_COOKIE, LOGIN_COOKIE, SESSION_COOKIE, checked_form, session_of
from hq.web.i18n import DEFAULT, LANGUAGES
from hq.web.render import Handlers


class LoginPages(Handlers):
    """``/login``, ``/logout`` and ``/lang``."""

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


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def _cookie(response: Response, name: str, value: str, *, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", secure=True, httponly=True,
                        samesite="strict")


def _safe_next(target: str) -> str:
    """Only a path on this site (no scheme, no host, no '//'): never an open redirect."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return "/"
    return target
