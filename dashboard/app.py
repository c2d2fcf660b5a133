"""The dashboard app: the visitor tour, the caregiver view and the technician console.

`create_app(hub, ...)` wires everything to a running hub. The app reads the hub's bus and state,
keeps its accounts in the hub's SQLite file, and serves every asset itself (no CDN: the demo
home may be offline). Routes live in one module per audience: `routes_tour`, `routes_account`,
`routes_care`, `routes_tech`; what they share is in `dashboard.context` and `dashboard.static_files`,
so none of them imports this module.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

from controller.alerts.service import AlertService
from controller.clock import Clock
from controller.config import resolve
from controller.engine import Engine
from controller.history import History
from controller.hub import Hub
from controller.routine import RoutineKeeper
from controller.store import Database
from dashboard import (
    routes_account,
    routes_care,
    routes_i18n,
    routes_onboard,
    routes_routine,
    routes_tech,
    routes_tour,
)
from dashboard.alerts_api import create_alerts_router
from dashboard.auth import CSRF_COOKIE, Auth
from dashboard.context import Dashboard, for_technicians
from dashboard.live import LiveFeed
from dashboard.narrate import Narrator
from dashboard.refusals import Refusal, refusal_handler
from dashboard.security import require_caregiver, require_technician, set_csrf_cookie
from dashboard.story_player import StoryRunner

__all__ = ["create_app"]

# Pages only load what the hub serves; WebSockets go back to the same host.
_CSP = ("default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
        "style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'")


def create_app(
    hub: Hub,
    *,
    db: Database | None = None,
    engine: Engine | None = None,
    alerts: AlertService | None = None,
    simulated_home: object | None = None,
    history: History | None = None,
    routine: RoutineKeeper | None = None,
    secure_cookies: bool | None = None,
    login_limit: int = 5,
    wall: Clock | None = None,
) -> FastAPI:
    """A FastAPI app showing `hub`'s home live.

    Args:
        db: the hub's open database; without it the file named in the config is opened on
            first use (and closed when the server stops).
        engine: the scenario engine, for the technician's scenarios, traces and reload.
        alerts: the AlertService; its router is mounted and its alerts shown.
        simulated_home: the demo's simulators, for the tour-guide buttons.
        history: the hub's History (SQLite), for event-log searches older than the memory ring.
        routine: the resident's routine keeper, for the week heat map (else learned per request).
        secure_cookies: force the cookies' Secure flag; default: the config's
            `dashboard.secure_cookies`, else set when served over TLS.
        login_limit: failed logins per user name within 15 minutes before logins are refused.
        wall: the clock of login lockouts, session windows and audit times (default: real
            time; never the hub's clock, which a demo may move).
    """
    narrator = Narrator(hub.config)
    feed = LiveFeed(hub, narrator)
    path = None if db is not None else str(resolve(hub.config, hub.config.storage.path))
    web = hub.config.dashboard
    auth = Auth(db, hub.clock, path=path, limit=login_limit, wall=wall,
                session_idle=web.session_idle, session_lifetime=web.session_lifetime)
    auth.revoked.append(feed.revoke)  # a disabled user's open live sockets stop at once
    d = Dashboard(hub=hub, auth=auth, narrator=narrator, feed=feed, engine=engine, alerts=alerts,
                  history=history, routine=routine,
                  secure_cookies=secure_cookies if secure_cookies is not None else web.secure_cookies,
                  residents=[hub.config.resident.pseudonym])
    if alerts is not None:
        _show_alerts(feed, alerts)
    if engine is not None:
        feed.presence_source = lambda: engine.presence
    if simulated_home is not None:
        # Stories play in sandboxes of their own (dashboard/tour_sandbox.py), not on the live home.
        d.stories = StoryRunner(hub.config, feed, policies=alerts.config if alerts is not None else None)
    app = _app(d)
    routes_onboard.follow_bridge(app, hub)  # Zigbee2MQTT's device list for onboarding
    if alerts is not None:
        app.include_router(create_alerts_router(alerts, require_caregiver=require_caregiver,
                                                require_technician=require_technician))
    return app


def _show_alerts(feed: LiveFeed, alerts: AlertService) -> None:
    """Let the live feed show caregivers' alerts; technician notices (a device offline, a battery
    low) are nobody's business on the tour."""
    feed.alert_source = lambda: [a.as_dict() for a in alerts.active() if not for_technicians(a)]
    staff_alerts: set[str] = set()

    def staff_only(alert_id: str) -> bool:
        for a in alerts.active():
            if a.id == alert_id and for_technicians(a):
                staff_alerts.add(a.id)
        return alert_id in staff_alerts

    feed.staff_alert = staff_only


def _app(d: Dashboard) -> FastAPI:
    """The FastAPI app with the dashboard's routes and security headers, holding `d`."""
    app = FastAPI(
        title="huis",
        version="0.1.0",
        summary="Huis van de toekomst: hub API for the tour, caregivers and technicians",
        # The bundled Swagger UI loads from a CDN; the demo home may be offline. The schema
        # itself stays at /openapi.json and the technician console links to it.
        docs_url=None,
        redoc_url=None,
    )
    app.state.huis = d
    app.add_exception_handler(Refusal, refusal_handler)

    @app.middleware("http")
    async def headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", _CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.url.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        # Every page visit hands out the CSRF token its scripts echo on POST.
        if request.cookies.get(CSRF_COOKIE) is None and "text/html" in response.headers.get(
                "content-type", ""):
            set_csrf_cookie(request, response)
        return response

    app.include_router(routes_tour.router)
    app.include_router(routes_account.router)
    app.include_router(routes_care.router)
    app.include_router(routes_tech.router)
    app.include_router(routes_routine.router)
    app.include_router(routes_onboard.router)
    app.include_router(routes_i18n.router)
    return app
