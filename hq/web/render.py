"""How the dashboard renders a page: the Jinja2 templates (``hq/web/templates/``) and what
every template gets (the language, the session, its CSRF token, number and time formats),
and :class:`Handlers`, the base of each group of request handlers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from hq.monitoring import flagged
from hq.monitoring.text import shown
from hq.web import i18n
from hq.web.gate import LANG_COOKIE
from hq.web.i18n import DEFAULT, LANGUAGES, translate

HERE = Path(__file__).parent


class Renderer:
    """The templates, shared by every handler."""

    def __init__(self) -> None:
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


class Handlers:
    """A group of request handlers: the database they read and the renderer of their pages."""

    def __init__(self, engine: Engine, renderer: Renderer) -> None:
        self.engine = engine
        self.renderer = renderer

    def render(self, request: Request, name: str, context: dict[str, Any],
               status_code: int = 200) -> Response:
        return self.renderer.render(request, name, context, status_code)


def language_of(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, DEFAULT)
    return lang if lang in LANGUAGES else DEFAULT


def fragment(request: Request) -> bool:
    """An htmx request for the part of a page that changes (not a history restore)."""
    return request.headers.get("hx-request") == "true" and "hx-history-restore-request" \
        not in request.headers


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
