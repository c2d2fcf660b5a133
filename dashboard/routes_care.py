"""The caregiver view: their residents, today's timeline. Alerts come from the alerts router.

Every route here depends on `require_caregiver`, which writes each access to the audit log.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from controller import i18n
from controller.alerts import texts
from controller.alerts.model import Alert
from controller.alerts.service import AlertService
from controller.events import COMMAND_SENT, DEVICE_EVENT, STATE_CHANGED, Context
from dashboard.auth import User
from dashboard.context import for_technicians
from dashboard.narrate import Narrator, events_from_history
from dashboard.refusals import Refusal
from dashboard.security import CARE_ROLES, Caregiver, current_user, dashboard_of
from dashboard.static_files import page, static_text

router = APIRouter()




def forbidden_page(request: Request, audience: str = "care") -> HTMLResponse:
    """403 with a way forward: a visitor is shown where to log in, someone logged in with
    another role where their own page is (the page's script asks who it is)."""
    html = static_text("forbidden.html")
    target = escape(quote(request.url.path, safe="/"))
    return HTMLResponse(html.replace("{next}", target).replace("{audience}", audience)
                        .replace("{text}", escape(i18n.text("nl", f"account.forbidden_{audience}"))), status_code=403)


@router.get("/zorg", response_class=HTMLResponse, include_in_schema=False)
async def care_page(request: Request) -> HTMLResponse:
    user = await current_user(request)
    if user is None or user.role not in CARE_ROLES:
        return forbidden_page(request)
    return page("care.html")


@router.get("/api/care/me", tags=["care"])
async def me(request: Request, user: Caregiver) -> dict[str, object]:
    """The caregiver and the residents they may see (by pseudonym)."""
    d = dashboard_of(request)
    caregiver = d.hub.config.caregivers.get(user.caregiver or "")
    name = user.display_name or (caregiver.name if caregiver else user.username)
    return {"user": {**user.as_dict(), "name": name},
            "residents": [r for r in d.residents if user.can_see(r)],
            "home": d.hub.config.home.name}


@router.get("/api/care/timeline", tags=["care"])
async def timeline(request: Request, user: Caregiver,
                   resident: str | None = None) -> dict[str, object]:
    """Today's events (local time) in the home of a resident this caregiver is assigned to."""
    d = dashboard_of(request)
    mine = [r for r in d.residents if user.can_see(r)]
    if resident is None:
        if not mine:
            raise Refusal(403, "api.no_resident")
        resident = mine[0]
    if resident not in mine:
        raise Refusal(403, "api.not_your_resident")
    tz = ZoneInfo(d.hub.config.home.location.timezone)
    now = d.hub.clock.now().astimezone(tz)
    midnight = datetime(now.year, now.month, now.day, tzinfo=tz)
    told = [n for n in d.feed.narrations if n.time >= midnight]
    if d.history is not None:
        # What happened today before this hub (re)started, or before the memory ring's start.
        until = told[0].time if told else d.hub.clock.now()
        rows = await d.history.query(since=midnight, until=until,
                                     types=[STATE_CHANGED, DEVICE_EVENT, COMMAND_SENT], limit=5000)
        narrator = Narrator(d.hub.config)
        told = [n for e in events_from_history(rows) if (n := narrator.narrate(e))] + told
    items = [n.as_dict() for n in reversed(told)]
    return {"resident": resident, "date": now.date().isoformat(), "items": items}


# -- presence: home, away or unknown, since when and why ------------------------------------------


class PresenceBody(BaseModel):
    presence: Literal["home", "away", "unknown"]
    note: str = Field("", max_length=200)


def presence_of(request: Request) -> dict[str, object]:
    """The engine's presence with since when, why, and an override; without an engine the hub
    keeps no presence ({"presence": null}), which pages show as nothing rather than an error."""
    engine = dashboard_of(request).engine
    return {"presence": None} if engine is None else engine.presence_info()


@router.get("/api/care/presence", tags=["care"])
async def care_presence(request: Request, user: Caregiver) -> dict[str, object]:
    """Whether the resident is home, since when and why (the hub's inference or a person's word)."""
    return presence_of(request)


@router.post("/api/care/presence", tags=["care"])
async def care_set_presence(body: PresenceBody, request: Request, user: Caregiver) -> dict[str, object]:
    """Set the presence by hand; it holds for `presence.override_for` (config/home.yaml)."""
    engine = dashboard_of(request).engine
    if engine is None:
        raise Refusal(501, "api.no_engine")
    engine.set_presence(body.presence, Context(origin=f"user:{_who(user)}",
                                               description=body.note or "dashboard"))
    return presence_of(request)


# -- alerts, through the AlertService, limited to the caregiver's own residents ------------------


class ResolveBody(BaseModel):
    note: str = Field(min_length=1, max_length=2000)


def _alerts(request: Request) -> AlertService:
    service = dashboard_of(request).alerts
    if service is None:
        raise Refusal(501, "api.no_alert_service")
    return service


def _who(user: User) -> str:
    """How the alert service knows this person: their caregiver id, else their user name."""
    return user.caregiver or user.username


async def _alert_view(service: AlertService, alert: Alert) -> dict[str, object]:
    item: dict[str, object] = dict(alert.as_dict())
    paged = await service.store.paged(alert.id)
    relation = {cid: r.relation for cid, r in service.caregivers.items()}
    # How far it got to each: 'device' (their phone's push service took it), 'page' (shown only)...
    reach = await service.reached(alert.id)
    item["notified"] = [{"id": p, "name": service.name_of(p), "relation": relation.get(p),
                         "reach": reach.get(p, "pending")} for p in paged]
    item["acknowledged_by_name"] = service.name_of(alert.acknowledged_by) or None
    item["resolved_by_name"] = service.name_of(alert.resolved_by) or None
    item["messages"] = {lang: texts.alert_message(alert, lang) for lang in i18n.LANGS}
    return item


async def _own_alert(request: Request, user: User, alert_id: str) -> Alert:
    service = _alerts(request)
    alert = await service.get(alert_id)
    # Someone else's resident reads as "no such alert": do not confirm it exists.
    if alert is None or not user.can_see(alert.resident):
        raise Refusal(404, "api.no_such_alert")
    return alert


@router.get("/api/care/alerts", tags=["care"])
async def care_alerts(request: Request, user: Caregiver) -> dict[str, object]:
    """Active alerts and today's closed ones for this caregiver's residents, with who was
    notified and who acknowledged."""
    service = _alerts(request)
    await service.open()
    d = dashboard_of(request)
    tz = ZoneInfo(d.hub.config.home.location.timezone)
    now = d.hub.clock.now().astimezone(tz)
    midnight = datetime(now.year, now.month, now.day, tzinfo=tz)
    active = [a for a in service.active() if user.can_see(a.resident) and not for_technicians(a)]
    recent = [a for a in await service.recent(50)
              if user.can_see(a.resident) and not a.active and a.raised_at >= midnight
              and not for_technicians(a)]
    await service.record_view(None, user=_who(user), channel="dashboard",
                              detail=f"{len(active)} active alert(s) listed")
    return {"active": [await _alert_view(service, a) for a in active],
            "recent": [await _alert_view(service, a) for a in recent]}


@router.post("/api/care/alerts/{alert_id}/acknowledge", tags=["care"])
async def care_acknowledge(alert_id: str, request: Request,
                           user: Caregiver) -> dict[str, object]:
    """"Ik ga erheen": stop the escalation and tell the others who is going."""
    await _own_alert(request, user, alert_id)
    service = _alerts(request)
    outcome = await service.acknowledge(alert_id, by=_who(user), channel="dashboard")
    alert = outcome.alert
    return {"ok": outcome.ok, "reason": outcome.reason, "by": service.name_of(outcome.by) or None,
            "alert": await _alert_view(service, alert) if alert is not None else None}


@router.post("/api/care/alerts/{alert_id}/resolve", tags=["care"])
async def care_resolve(alert_id: str, body: ResolveBody, request: Request,
                       user: Caregiver) -> dict[str, object]:
    """Close the alert with a note; everyone who was paged is told."""
    await _own_alert(request, user, alert_id)
    service = _alerts(request)
    alert = await service.resolve(alert_id, by=_who(user), note=body.note, channel="dashboard")
    if alert is None:
        raise Refusal(409, "api.alert_not_active")
    return {"ok": True, "alert": await _alert_view(service, alert)}
