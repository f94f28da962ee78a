"""The dashboard's pages on the work rather than the coverage: the kits and what each kit and
operator recorded, the visits ahead and whether their kits are ready, the review queue of
flagged recordings, and (admins only) the accounts; each within the account's area."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hq.monitoring import coverage, flagged, views
from hq.monitoring import kits as kit_queries
from hq.monitoring import output as output_queries
from hq.web import auth
from hq.web.gate import session_of
from hq.web.render import Handlers, fragment

OUTPUT_DAYS = 7  # the kits page's recordings per day


class OperationsPages(Handlers):
    """``/kits``, ``/readiness``, ``/review``, ``/users`` and their ``/api/`` data."""

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
        template = "kits_table.html" if fragment(request) else "kits.html"
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
        template = "readiness_table.html" if fragment(request) else "readiness.html"
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
        template = "review_table.html" if fragment(request) else "review.html"
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


def _scope_area(session: auth.Session) -> coverage.Area:
    """The account's whole area as a drill-down area (the kota, a kecamatan or a
    kelurahan)."""
    scope = session.user.scope
    return coverage.KOTA if scope.whole_city else coverage.Area(scope.level, scope.code)


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
