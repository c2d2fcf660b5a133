"""The technician console: device health, event log, scenarios and traces, reload, audit logs."""

from __future__ import annotations

import inspect
from dataclasses import asdict, is_dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from controller.config import resolve
from controller.engine import check_paths
from controller.errors import ConfigError, Problem
from dashboard.context import Dashboard, for_technicians
from dashboard.refusals import Refusal
from dashboard.routes_care import forbidden_page
from dashboard.security import TECH_ROLES, Technician, current_user, dashboard_of
from dashboard.static_files import page
from dashboard.tech_views import collapse, scenario_why

router = APIRouter()


@router.get("/technicus", response_class=HTMLResponse, include_in_schema=False)
async def tech_page(request: Request) -> HTMLResponse:
    user = await current_user(request)
    if user is None or user.role not in TECH_ROLES:
        return forbidden_page(request, "tech")
    return page("tech.html")


@router.get("/api/tech/presence", tags=["technician"])
async def tech_presence(request: Request, user: Technician) -> dict[str, object]:
    """The presence the engine holds, since when and why, and whether it is inferred
    ({"presence": null} without an engine)."""
    engine = dashboard_of(request).engine
    return {"presence": None} if engine is None else engine.presence_info()


@router.get("/api/tech/devices", tags=["technician"])
async def device_health(request: Request,
                        user: Technician) -> list[dict[str, object]]:
    """Every device's health: online, last seen, battery, link quality, payload errors."""
    hub = dashboard_of(request).hub
    now = hub.clock.now()
    out = []
    for st in hub.state.all():
        bound = hub.devices[st.device]
        dev = hub.config.devices[st.device]
        out.append({
            "id": st.device,
            "name": dev.name or st.device,
            "kind": st.kind,
            "room": st.room,
            "room_name": hub.config.rooms[st.room].name if st.room in hub.config.rooms else None,
            "power": bound.power,
            "available": st.available,
            "last_seen": st.last_seen.isoformat() if st.last_seen else None,
            "silent_seconds": (now - st.last_seen).total_seconds() if st.last_seen else None,
            "offline_after_seconds": allowance.total_seconds() if (allowance := hub.offline_after(bound)) else None,
            "battery": st.attributes.get("battery"),
            "linkquality": st.attributes.get("linkquality"),
            "payload_errors": st.payload_errors,
            "last_error": st.last_error,
            "attributes": st.as_dict()["attributes"],
        })
    return out


@router.get("/api/tech/storage", tags=["technician"])
async def storage(request: Request, user: Technician) -> dict[str, object]:
    """The database's writes per component: commits, failures, rows waiting for a retry, lost."""
    auth = dashboard_of(request).auth
    await auth.ready()
    return auth.db.health.as_dict()


@router.get("/api/tech/events", tags=["technician"])
async def events(request: Request, user: Technician, device: str | None = None,
                 type: str | None = None, text: str | None = None,
                 since: datetime | None = None, until: datetime | None = None,
                 source: str = "recent", limit: int = 200,
                 repeats: bool = False) -> list[dict[str, object]]:
    """Hub events, newest first, filtered by device, type, free text and time.

    `source=recent` reads the in-memory ring (the last 2,000 events, with full detail);
    `source=history` searches the SQLite history (one row per changed attribute, kept 30 days).
    Repeated sightings (a tag's every few seconds) are one row with `count` and `first` time,
    unless `repeats` asks for every one.
    """
    d = dashboard_of(request)
    limit = max(1, min(limit, 2000))
    if not repeats:
        every = await events(request, user, device, type, text, since, until, source, 2000, True)
        return collapse(every, limit)
    if source == "history":
        if d.history is None:
            raise Refusal(501, "api.no_history")
        rows = await d.history.query(since=since, until=until, devices=[device] if device else (),
                                     types=[type] if type else (), limit=limit if not text else 10_000)
        out = []
        needle = text.lower() if text else None
        for r in reversed(rows):
            data = {"attribute": r.attribute, "value": r.value}
            if needle and needle not in f"{r.device} {data} {r.cause}".lower():
                continue
            out.append({"seq": None, "time": r.time.isoformat(), "type": r.type,
                        "device": r.device, "data": _plain(data), "cause": r.cause})
            if len(out) >= limit:
                break
        return out
    if source != "recent":
        raise Refusal(422, "api.bad_source")
    return [r.as_dict() for r in d.feed.events(device=device, type=type, text=text, since=since,
                                               limit=limit)]


def _plain(value: object) -> object:
    """A JSON-friendly copy of whatever a service returns (dataclasses, datetimes, mappings)."""
    if is_dataclass(value) and not isinstance(value, type):
        as_dict = getattr(value, "as_dict", None)
        return _plain(as_dict() if callable(as_dict) else asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


async def _maybe(value: object) -> object:
    return await value if inspect.isawaitable(value) else value


@router.get("/api/tech/audit", tags=["technician"])
async def audit(request: Request, user: Technician, limit: int = 200) -> dict[str, object]:
    """The dashboard's audit log (logins, care-data reads) and the alert audit log."""
    d = dashboard_of(request)
    limit = max(1, min(limit, 2000))
    out: dict[str, object] = {"dashboard": await d.auth.audit_log(limit=limit), "alerts": None}
    if d.alerts is not None:
        for name in ("audit_log", "audit"):
            method = getattr(d.alerts, name, None)
            if callable(method):
                out["alerts"] = _plain(await _maybe(method(limit=limit)))
                break
    return out


class NoteBody(BaseModel):
    note: str = Field(min_length=1, max_length=2000)


@router.get("/api/tech/alerts", tags=["technician"])
async def tech_alerts(request: Request, user: Technician) -> list[dict[str, object]]:
    """Active technician notices (device offline, battery low, refill): nobody is paged for
    these; they wait here until someone deals with them."""
    service = dashboard_of(request).alerts
    if service is None:
        return []
    return [a.as_dict() for a in service.active() if for_technicians(a)]


@router.post("/api/tech/alerts/{alert_id}/resolve", tags=["technician"])
async def tech_resolve(alert_id: str, body: NoteBody, request: Request,
                       user: Technician) -> dict[str, object]:
    """Close a technician notice with a note (what was fixed)."""
    service = dashboard_of(request).alerts
    if service is None:
        raise Refusal(501, "api.no_alert_service")
    alert = await service.get(alert_id)
    if alert is None or not for_technicians(alert):
        raise Refusal(404, "api.no_notice")
    done = await service.resolve(alert_id, by=user.username, note=body.note, channel="dashboard")
    if done is None:
        raise Refusal(409, "api.notice_not_active")
    return dict(done.as_dict())


def problem_dict(p: Problem) -> dict[str, object]:
    return {"file": p.file, "line": p.line, "path": p.path, "message": p.message,
            "hint": p.hint, "text": str(p)}


def scenario_paths(d: Dashboard) -> list[str]:
    """The scenario files and folders the running engine loads (else the configured ones)."""
    paths = d.engine.paths if d.engine is not None else None
    if paths:
        return [str(p) for p in paths]
    return [str(resolve(d.hub.config, p)) for p in d.hub.config.scenarios]


def _no_engine() -> HTTPException:
    return Refusal(501, "api.no_engine")


@router.get("/api/tech/scenarios", tags=["technician"])
async def scenarios(request: Request, user: Technician) -> dict[str, object]:
    """The running scenarios: id, description, file:line, runs and pending timers."""
    d = dashboard_of(request)
    if d.engine is None:
        return {"engine": False, "scenarios": [], "paths": scenario_paths(d)}
    return {"engine": True, "scenarios": _plain(d.engine.status()), "paths": scenario_paths(d)}


@router.get("/api/tech/scenarios/{scenario}/traces", tags=["technician"])
async def traces(scenario: str, request: Request, user: Technician,
                 limit: int = 20) -> dict[str, object]:
    """The last runs of a scenario: trigger, each condition, each action and the cause chain,
    including the runs that did not happen and why."""
    d = dashboard_of(request)
    if d.engine is None:
        raise _no_engine()
    from controller.engine import render_traces

    why = await scenario_why(d.engine, d.hub, scenario_paths(d), scenario)
    found = await d.engine.traces(scenario, max(1, min(limit, 100)))
    if not why.known and not found:
        raise HTTPException(404, {"scenario": scenario, "why": why.as_dict()})
    tz = ZoneInfo(d.hub.config.home.location.timezone)
    return {"scenario": scenario, "why": why.as_dict(), "traces": _plain(found),
            "text": render_traces(found, tz)}


@router.post("/api/tech/scenarios/check", tags=["technician"])
async def check(request: Request, user: Technician) -> dict[str, object]:
    """Validate the configuration and scenario files on disk without loading them."""
    d = dashboard_of(request)
    problems = check_paths([d.hub.config.source, *scenario_paths(d)], d.hub.kinds)
    return {"ok": not problems, "problems": [problem_dict(p) for p in problems]}


@router.post("/api/tech/scenarios/reload", tags=["technician"], response_model=None)
async def reload(request: Request, user: Technician) -> Response:
    """Load changed scenario files into the running hub. Atomic: with any problem the running
    set stays as it was and the problems come back (422) as file:line."""
    d = dashboard_of(request)
    if d.engine is None:
        raise _no_engine()
    try:
        result = await d.engine.reload()
    except ConfigError as exc:
        await d.auth.audit(user, "scenarios_reload_refused", detail=f"{len(exc.problems)} problem(s)")
        return JSONResponse({"ok": False, "problems": [problem_dict(p) for p in exc.problems]},
                            status_code=422)
    await d.auth.audit(user, "scenarios_reloaded")
    return JSONResponse({"ok": True, "problems": [], "result": _plain(result)})
