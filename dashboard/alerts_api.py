"""The alert API the dashboard uses, plus the public acknowledgement-link pages.

Caregiver endpoints (`require_caregiver`): active and recent alerts, one alert with its
timeline, acknowledge, resolve with a note, and a live Server-Sent-Events stream of changes.
Technician endpoints (`require_technician`): cancel, a test alert to one caregiver, the audit
log and its integrity check.

Public endpoints (no login; the signed token is the credential):

- `GET  /alerts/ack/{token}` shows the alert and a confirm button. A GET never acknowledges:
  mail scanners and chat apps fetch links to preview them, and that must not count as
  "I'm going".
- `POST /alerts/ack/{token}` acknowledges. ntfy's "Ik ga erheen" button POSTs here straight
  from the phone; the confirm page's button posts the same form. The answer is a small page
  either way, with the status saying what happened: 200 acknowledged, 409 someone else is
  already going or the link was used before, 410 expired or the alert is over, 403 forged.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.params import Depends as Dependency
from fastapi.responses import HTMLResponse, StreamingResponse

from controller import i18n
from controller.alerts import texts
from controller.alerts.model import AckOutcome, Alert
from controller.alerts.service import AlertService
from controller.alerts.tokens import AckClaims
from controller.events import ALERT_CHANGED, AlertChanged, Event
from dashboard.refusals import Refusal

log = logging.getLogger(__name__)


def _user_id(user: object) -> str:
    # The dashboard's auth dependency may return a plain id or a user object; a caregiver's
    # account names their caregiver id in home.yaml, which is who the alert system knows.
    for attr in ("caregiver", "username", "id", "name"):
        value = getattr(user, attr, None)
        if isinstance(value, str):
            return value
    return str(user)


def visible(user: object, alert: Alert) -> bool:
    """Whether `user` may see `alert`: caregivers only their own residents' care alerts.

    Technician notices (a flat battery) are for technicians and admins, not for family.
    A plain id (tests, other front ends) has no roles and sees everything it was let through for.
    """
    role = getattr(user, "role", None)
    if role is None or role == "admin":
        return True
    if alert.data.get("audience") == "technician":
        return bool(role == "technician")
    can_see = getattr(user, "can_see", None)
    return bool(can_see(alert.resident)) if can_see is not None else False


def create_alerts_router(service: AlertService, *, require_caregiver: Callable[..., object],
                         require_technician: Callable[..., object]) -> APIRouter:
    """Routes for `service`; the two dependencies come from the dashboard's auth."""
    router = APIRouter()
    # Plain defaults, not Annotated aliases: with postponed annotations FastAPI resolves
    # annotation strings in module globals, where a local alias would not be found.
    caregiver = Depends(require_caregiver)
    technician = Depends(require_technician)
    # Registration order matters: fixed paths (recent, stream, audit, test) before /{alert_id}.
    _list_routes(router, service, caregiver)
    _technician_routes(router, service, technician)
    _alert_routes(router, service, caregiver)
    _link_routes(router, service)
    return router


def _view(service: AlertService, alert: Alert) -> dict[str, object]:
    out = alert.as_dict()
    out["acknowledged_by_name"] = service.name_of(alert.acknowledged_by) or None
    out["resolved_by_name"] = service.name_of(alert.resolved_by) or None
    out["messages"] = {lang: texts.alert_message(alert, lang) for lang in i18n.LANGS}
    return out


async def _found(service: AlertService, alert_id: str, user: object = None) -> Alert:
    alert = await service.get(alert_id)
    if alert is None or (user is not None and not visible(user, alert)):
        # Not 403: whether an alert about someone else exists is itself care data.
        raise Refusal(404, "api.no_alert_id", id=alert_id)
    return alert


def _list_routes(router: APIRouter, service: AlertService, caregiver: Dependency) -> None:
    @router.get("/api/alerts", tags=["alerts"])
    async def active_alerts(user: object = caregiver) -> list[dict[str, object]]:
        """Alerts not yet resolved or cancelled, oldest first."""
        return [_view(service, a) for a in service.active() if visible(user, a)]

    @router.get("/api/alerts/recent", tags=["alerts"])
    async def recent_alerts(limit: Annotated[int, Query(ge=1, le=500)] = 50,
                            user: object = caregiver) -> list[dict[str, object]]:
        """The latest alerts in any state, newest first."""
        return [_view(service, a) for a in await service.recent(limit) if visible(user, a)]

    @router.get("/api/alerts/stream", tags=["alerts"])
    async def stream(user: object = caregiver) -> StreamingResponse:
        """Server-Sent Events: a `snapshot` of active alerts, then one `alert` event per change."""
        return StreamingResponse(_events(service, user), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _technician_routes(router: APIRouter, service: AlertService, technician: Dependency) -> None:
    @router.get("/api/alerts/audit", tags=["alerts"])
    async def audit_log(alert: str | None = None, limit: Annotated[int, Query(ge=1, le=5000)] = 200,
                        before: int | None = None, user: object = technician) -> list[Mapping[str, object]]:
        """The append-only audit log, newest first (page back with `before=<seq>`)."""
        entries = await service.audit(alert_id=alert, limit=limit, before=before)
        await service.record_view(alert, user=_user_id(user), channel="dashboard", detail="audit log")
        return list(entries)

    @router.get("/api/alerts/audit/verify", tags=["alerts"])
    async def audit_verify(user: object = technician) -> dict[str, object]:
        """Recompute the audit log's hash chain."""
        broken = await service.store.verify_audit()
        return {"intact": broken is None, "first_broken_seq": broken}

    @router.post("/api/alerts/test", tags=["alerts"])
    async def send_test(caregiver: Annotated[str, Body(embed=True)],
                        user: object = technician) -> dict[str, object]:
        """Send an urgent test alert to one caregiver (no escalation) to check their phone."""
        try:
            alert_id = await service.send_test(caregiver, by=_user_id(user))
        except KeyError:
            raise Refusal(404, "api.no_caregiver", id=caregiver) from None
        return _view(service, await _found(service, alert_id))

    @router.post("/api/alerts/{alert_id}/cancel", tags=["alerts"])
    async def cancel(alert_id: str, reason: Annotated[str, Body(embed=True, min_length=1, max_length=2000)],
                     user: object = technician) -> dict[str, object]:
        """Withdraw an alert (false alarm, test); those paged are told."""
        await _found(service, alert_id)
        done = await service.cancel(alert_id, by=_user_id(user), reason=reason.strip())
        if done is None:
            raise Refusal(409, "api.alert_not_active")
        return _view(service, done)


def _alert_routes(router: APIRouter, service: AlertService, caregiver: Dependency) -> None:
    @router.get("/api/alerts/{alert_id}", tags=["alerts"])
    async def one_alert(alert_id: str, user: object = caregiver) -> dict[str, object]:
        """One alert, in any state; `reached` says per caregiver paged how far it got.

        'device': a push service for their phone took it (the alert is "delivered"); 'page' or
        'system': only shown; 'unknown': a server may have it; 'pending', 'failed', 'skipped'.
        """
        alert = await _found(service, alert_id, user)
        await service.record_view(alert_id, user=_user_id(user), channel="dashboard")
        return {**_view(service, alert), "reached": await service.reached(alert_id)}

    @router.get("/api/alerts/{alert_id}/timeline", tags=["alerts"])
    async def timeline(alert_id: str, user: object = caregiver) -> dict[str, object]:
        """The alert with every transition and delivery attempt, in time order."""
        alert = await _found(service, alert_id, user)
        await service.record_view(alert_id, user=_user_id(user), channel="dashboard", detail="timeline")
        return {"alert": _view(service, alert), "reached": await service.reached(alert_id),
                "timeline": await service.timeline(alert_id)}

    @router.post("/api/alerts/{alert_id}/acknowledge", tags=["alerts"])
    async def acknowledge(alert_id: str, user: object = caregiver) -> dict[str, object]:
        """The signed-in caregiver is going: escalation stops and the others are told."""
        await _found(service, alert_id, user)
        outcome = await service.acknowledge(alert_id, by=_user_id(user), channel="dashboard")
        if not outcome.ok:
            who = service.name_of(outcome.by)
            if outcome.reason == "already":
                raise Refusal(409, "api.already_going", name=who)
            raise Refusal(409, "api.alert_not_active")
        assert outcome.alert is not None
        return _view(service, outcome.alert)

    @router.post("/api/alerts/{alert_id}/resolve", tags=["alerts"])
    async def resolve(alert_id: str, note: Annotated[str, Body(embed=True, min_length=1, max_length=2000)],
                      user: object = caregiver) -> dict[str, object]:
        """Close the alert with a note saying what happened; those paged are told."""
        await _found(service, alert_id, user)
        done = await service.resolve(alert_id, by=_user_id(user), note=note.strip())
        if done is None:
            raise Refusal(409, "api.alert_not_active")
        return _view(service, done)


def _link_routes(router: APIRouter, service: AlertService) -> None:
    @router.get("/alerts/ack/{token}", response_class=HTMLResponse, include_in_schema=False)
    async def ack_page(token: str, request: Request, lang: str = "nl") -> HTMLResponse:
        return await _ack_page(service, token, lang, _address(request))

    @router.post("/alerts/ack/{token}", response_class=HTMLResponse, include_in_schema=False)
    async def ack_link(token: str, request: Request, lang: str = "nl") -> HTMLResponse:
        t = _texts(lang)
        outcome = await service.acknowledge_link(token, address=_address(request))
        if outcome.ok:
            name = html.escape(service.name_of(outcome.by))
            return _page(t["title_thanks"], _p(t["thanks"].format(name=name)), t)
        return _refusal(service, outcome, t)


def _address(request: Request) -> str:
    """Who sent a link (for the refused-link count per address)."""
    return request.client.host if request.client else "unknown"


async def _ack_page(service: AlertService, token: str, lang: str, address: str | None = None) -> HTMLResponse:
    t = _texts(lang)
    checked = await service.check_link(token, address=address)
    if isinstance(checked, AckOutcome):
        return _refusal(service, checked, t)
    claims: AckClaims = checked
    alert = await service.get(claims.alert_id)
    if alert is None:
        return _page(t["title_unknown"], t["unknown"], t, status=404)
    await service.record_view(alert.id, user=claims.recipient, channel=f"link:{claims.channel}")
    info = _alert_html(service, alert, t)
    if not alert.active:
        return _page(t["title_closed"], info + _p(t["closed"]), t, status=200)
    if await service.store.nonce_used(claims.nonce):
        return _page(t["title_done"], info + _p(t["used"]), t)
    if alert.acknowledged_by:
        going = t["already"].format(name=html.escape(service.name_of(alert.acknowledged_by)))
        return _page(t["title_going"], info + _p(going), t)
    suffix = "?lang=en" if lang == "en" else ""
    form = (f'<form method="post" action="{html.escape(token)}{suffix}">'
            f'<button type="submit">{t["button"]}</button></form>')
    return _page(t["title_alert"], info + form, t)


async def _events(service: AlertService, user: object) -> AsyncIterator[str]:
    queue: asyncio.Queue[Event[AlertChanged]] = asyncio.Queue(maxsize=1000)

    def on_event(event: Event[AlertChanged]) -> None:
        try:
            queue.put_nowait(event)
        except asyncio.QueueFull:
            # A stalled client must not grow memory without bound; EventSource reconnects and
            # gets a fresh snapshot.
            log.warning("alert stream client is not reading; dropped an event")

    unsubscribe = service.bus.subscribe(on_event, ALERT_CHANGED)
    seq = itertools.count(1)
    try:
        snapshot = {"alerts": [a.as_dict() for a in service.active() if visible(user, a)]}
        yield f"id: {next(seq)}\nevent: snapshot\ndata: {json.dumps(snapshot, default=str)}\n\n"
        while True:
            event = await queue.get()
            change = event.data
            alert = await service.get(change["id"])
            if alert is None or not visible(user, alert):
                continue
            data = {**change, "time": event.time.isoformat(), "cause": event.context.explain()}
            yield f"id: {next(seq)}\nevent: alert\ndata: {json.dumps(data, default=str)}\n\n"
    finally:
        unsubscribe()


# -- the pages a caregiver sees on a phone ------------------------------------------------------

class _Texts:
    """The link pages' texts in one language (ids `link.*` in the catalogues)."""

    def __init__(self, lang: str) -> None:
        self.lang = texts.lang_of(lang)

    def __getitem__(self, key: str) -> str:
        if key == "lang":
            return self.lang
        if key == "button":
            return texts.ack_label(self.lang)
        return i18n.text(self.lang, f"link.{key}")


def _texts(lang: str) -> _Texts:
    return _Texts(lang)


def _p(text: str) -> str:
    return f"<p>{text}</p>"


def _alert_html(service: AlertService, alert: Alert, t: _Texts) -> str:
    when = alert.raised_at.astimezone(service.tz).strftime("%H:%M")
    message = texts.alert_message(alert, t.lang)
    return (f'<p class="msg {html.escape(alert.severity)}">{html.escape(message)}</p>'
            f'<p class="meta">{t["raised"]} {when} · {t["state"]}: '
            f'{html.escape(texts.state_name(t.lang, alert.state))}</p>')


def _refusal(service: AlertService, outcome: AckOutcome, t: _Texts) -> HTMLResponse:
    reason = outcome.reason
    if reason == "already":
        going = t["already"].format(name=html.escape(service.name_of(outcome.by)))
        return _page(t["title_going"], _p(going), t, status=409)
    if reason == "reused":
        return _page(t["title_reused"], _p(t["reused"]), t, status=409)
    if reason == "expired":
        return _page(t["title_expired"], _p(t["expired"]), t, status=410)
    if reason == "closed":
        return _page(t["title_closed"], _p(t["closed"]), t, status=410)
    if reason == "unknown":
        return _page(t["title_unknown"], _p(t["unknown"]), t, status=404)
    return _page(t["title_forged"], _p(t["forged"]), t, status=403)


def _page(title: str, body: str, t: _Texts, *, status: int = 200) -> HTMLResponse:
    doc = f"""<!doctype html>
<html lang="{t['lang']}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{html.escape(title)} · Huis van de toekomst</title>
<style>
body {{ font: 1.2rem/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 32rem; padding: 1.5rem; }}
h1 {{ font-size: 1.6rem; }}
.msg {{ font-size: 1.4rem; font-weight: 600; }}
.msg.urgent {{ color: #b00020; }}
.meta {{ color: #555; }}
button {{ font-size: 1.4rem; padding: 1rem 2rem; width: 100%; border: 0; border-radius: .5rem;
          background: #0a7d32; color: #fff; }}
</style></head>
<body><h1>{html.escape(title)}</h1>
{body}
</body></html>"""
    # Links carry a credential: keep the pages out of caches and referrers. The page's own CSP
    # allows its inline style and nothing else (no scripts at all).
    return HTMLResponse(doc, status_code=status, headers={
        "Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                                   "frame-ancestors 'none'; base-uri 'none'"})
