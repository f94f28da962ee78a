"""The dashboard's coverage by area: the drill-down pages (kota, kecamatan, kelurahan, RW),
their data endpoints (figures, progress series, the residents not yet recorded) and the
evaluation report's downloads, each within the account's area."""

from __future__ import annotations

from datetime import date

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from edge.errors import InvalidInput, NotFound
from hq.monitoring import coverage, views
from hq.web.gate import session_of
from hq.web.render import Handlers, fragment, language_of


class AreaPages(Handlers):
    """``/``, ``/area/...``, ``/api/coverage|series|residents/...`` and ``/report/...``."""

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
        template = "area_figures.html" if fragment(request) else "area.html"
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



def _period(request: Request) -> coverage.Period:
    """The period in the query (?from=YYYY-MM-DD&to=YYYY-MM-DD), else up to today (WIB)."""
    try:
        start = request.query_params.get("from") or None
        end = request.query_params.get("to") or None
        return coverage.Period(date.fromisoformat(start) if start else None,
                               date.fromisoformat(end) if end else views.today())
    except (ValueError, InvalidInput):
        raise HTTPException(400, "period") from None


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()
