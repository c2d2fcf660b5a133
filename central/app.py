"""The central dashboard: the night nurse's one screen over every home of their team.

`create_app(store, commands=..., audit_key=...)` serves it from the centre's store (central/store.py).
The page (central/pages/central.html, central/static/central.js) polls `/api/overview` every few
seconds and ticks the alerts' ages each second; "Ik ga erheen" and "Afhandelen" go to the homes
through the core's command path (central/commands.py), and the page shows them as sent until
the home's own answer comes back up the stream. The audit viewer and account management are
central/routes_admin.py; what the routes share (state, language, pages, who is asking) is
central/web.py. Texts: the gettext catalogues' `central.*` ids.

Security, as in the home dashboard and with its functions (dashboard/security.py, dashboard/auth.py):
- a session cookie (HttpOnly, SameSite=Strict, Secure over TLS), CSRF double submit on every
  state-changing request, a strict Content-Security-Policy (no inline script, nothing from
  elsewhere), `next` after login only to a path on this site (`safe_next`);
- every API call checks the user's teams in its SQL (central/view.py): a caregiver asking for
  another team's home or alert is told it does not exist;
- every read of care data and every command is written to the audit chain (central/access_audit.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field

from central import routes_admin, view
from central.access_audit import AccessAudit
from central.accounts import SESSION_COOKIE, Accounts, CentreUser
from central.store import Store
from central.web import (
    POLL_SECONDS,
    CentreView,
    CommandPath,
    User,
    alert_title,
    lang_of,
    page,
    refuse,
    require_csrf,
    say,
    session_user,
    view_of,
)
from controller import i18n
from controller.alerts.model import ACTIVE_STATES
from controller.clock import Clock, RealClock
from controller.errors import DeliveryError, HuisError
from dashboard import routes_i18n
from dashboard.auth import CSRF_COOKIE, AuthError
from dashboard.security import safe_next, secure_for, set_csrf_cookie
from dashboard.server import serve as serve_app
from dashboard.static_files import static_bytes

if TYPE_CHECKING:
    from central.service import Centre

__all__ = ["CommandPath", "CentreView", "create_app", "serve"]

# Pages load only this site's own files; the page talks only to this site.
CSP = ("default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; "
       "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
_STATIC = {"central.css": "text/css", "central.js": "text/javascript", "login.js": "text/javascript",
           "admin.js": "text/javascript", "header.js": "text/javascript"}
# The home dashboard's files the centre serves too: one product, one copy.
_SHARED = {"icon.svg": "image/svg+xml", "common.js": "text/javascript"}


async def serve(centre: Centre) -> None:
    """`huis central run`'s dashboard (the seam in central/service.py): serve on the config's
    `dashboard` section until cancelled, reading `centre.store`, acting through `centre.commands`."""
    web = centre.config.dashboard
    app = create_app(centre.store, commands=centre.commands, audit_key=centre.config.path(web.audit_key_file),
                     wall=centre.clock, secure_cookies=web.secure_cookies, timezone=web.timezone)
    await serve_app(app, web.host, web.port, trusted_proxies=web.trusted_proxies)


def create_app(store: Store, *, commands: CommandPath | None, audit_key: Path, wall: Clock | None = None,
               secure_cookies: bool | None = None, login_limit: int = 5,
               poll_seconds: int = POLL_SECONDS, timezone: str = "Europe/Amsterdam") -> FastAPI:
    """The central dashboard on `store`.

    Args:
        commands: the core's command path; None shows the buttons but refuses them (503).
        audit_key: the audit chain's key file (made, 0600, on first start).
        wall: real time for sessions, lockouts, ages and the audit (tests may pass another).
        secure_cookies: force the cookies' Secure flag; default: set when served over TLS.
        timezone: the zone the page shows times in (the centre's, whatever the screen's zone).
    """
    clock = wall if wall is not None else RealClock()
    accounts = Accounts(store.pool, clock, limit=login_limit)
    centre = CentreView(store=store, accounts=accounts, commands=commands, wall=clock,
                        audit=AccessAudit(pool=store.pool, key_file=audit_key, wall=clock),
                        secure_cookies=secure_cookies, poll_seconds=poll_seconds, timezone=timezone)
    app = FastAPI(title="huis central", version="0.1.0", docs_url=None, redoc_url=None,
                  summary="The care centre's view over every home of a team")
    app.state.huis = centre

    @app.middleware("http")
    async def headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cache-Control", "no-store")
        if request.cookies.get(CSRF_COOKIE) is None and "text/html" in response.headers.get("content-type", ""):
            set_csrf_cookie(request, response)
        return response

    app.include_router(routes_i18n.router)  # /i18n/catalogue.js, as the home dashboard serves it
    _page_routes(app)
    _account_routes(app)
    _care_routes(app)
    routes_admin.add_routes(app)
    return app


# -- language and pages ----------------------------------------------------------------------------


def _page_routes(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False, response_model=None)
    async def home(request: Request) -> Response:
        user = await session_user(request)
        if user is None:
            asked = request.query_params.get("lang")
            return RedirectResponse("/login" + (f"?lang={asked}" if asked in i18n.LANGS else ""),
                                    status_code=303)
        if user.must_change:
            return RedirectResponse("/password", status_code=303)
        centre = view_of(request)
        return page(request, "central.html", poll=str(centre.poll_seconds), tz=centre.timezone, role=user.role)

    @app.get("/password", include_in_schema=False, response_model=None)
    async def password_page(request: Request) -> Response:
        """Choose one's own password: after a one-time one, or any time."""
        if await session_user(request) is None:
            return RedirectResponse("/login?next=/password", status_code=303)
        return page(request, "password.html")

    @app.get("/login", include_in_schema=False, response_model=None)
    async def login_page(request: Request) -> Response:
        target = request.query_params.get("next")
        if target is not None and safe_next(target) is None:
            return RedirectResponse("/login", status_code=303)
        return page(request, "login.html")

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        if name in _SHARED:
            return Response(static_bytes(name), media_type=_SHARED[name])
        if name not in _STATIC:
            raise HTTPException(404, "No such file.")
        body = resources.files("central").joinpath("static", name).read_bytes()
        return Response(body, media_type=_STATIC[name])


# -- the API ---------------------------------------------------------------------------------------


class Credentials(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=1024)
    next: str | None = Field(None, max_length=2000)


class NewPassword(BaseModel):
    current: str = Field(max_length=1024)
    new: str = Field(max_length=1024)


class ResolveBody(BaseModel):
    note: str = Field(min_length=1, max_length=2000)


def _account_routes(app: FastAPI) -> None:
    @app.post("/api/login", dependencies=[Depends(require_csrf)], response_model=None)
    async def login(body: Credentials, request: Request) -> Response:
        """Log in; the answer says where to go (`next` when it is a path on this site)."""
        centre = view_of(request)
        await centre.ready()
        address = request.client.host if request.client else "unknown"
        wait = centre.accounts.login_blocked(body.username, address)
        if wait > 0:
            return JSONResponse({"detail": say(lang_of(request), "login_blocked")}, status_code=429,
                                headers={"Retry-After": str(round(wait))})
        result = await centre.accounts.login(body.username, body.password, address)
        if result is None:
            known = await centre.accounts.known(body.username)
            # A typed password may be in the name field: only a known name is kept.
            await centre.audit.append(None, "login_failed", detail=f"from {address}",
                                      username=body.username if known else None)
            raise refuse(request, 401, "login_wrong")
        user, token = result
        await centre.audit.append(user, "login", detail=f"from {address}")
        # A one-time password: first their own (the page may not be left before).
        go = "/password" if user.must_change else safe_next(body.next) or "/"
        response = JSONResponse({"user": user.as_dict(), "go": go})
        response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", secure=secure_for(request),
                            path="/", max_age=int(centre.accounts.session_lifetime.total_seconds()))
        set_csrf_cookie(request, response)  # a fresh token with the fresh session
        return response

    @app.post("/api/logout")
    async def logout(request: Request, user: User) -> Response:
        centre = view_of(request)
        await centre.accounts.logout(request.cookies.get(SESSION_COOKIE))
        await centre.audit.append(user, "logout")
        response = JSONResponse({"ok": True})
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @app.post("/api/password")
    async def change_password(body: NewPassword, request: Request, user: User) -> dict[str, object]:
        """One's own password instead of the current (one-time or old) one; other sessions end."""
        centre = view_of(request)
        try:
            changed = await centre.accounts.change_password(user, body.current, body.new,
                                                            keep=request.cookies.get(SESSION_COOKIE))
        except AuthError as exc:  # AccountError, or check_password's
            await centre.audit.append(user, "password_changed", detail=f"refused: {exc}")
            raise HTTPException(422, exc.text(lang_of(request))) from exc
        await centre.audit.append(user, "password_changed", detail="one-time replaced" if user.must_change else "")
        return {"user": changed.as_dict(), "go": "/"}

    @app.get("/api/session")
    async def session(request: Request, user: User) -> dict[str, object]:
        return {"user": user.as_dict()}



def _care_routes(app: FastAPI) -> None:
    @app.get("/api/overview")
    async def overview(request: Request, user: User) -> dict[str, object]:
        """Homes, open alerts (in the order the page shows them), silent hubs and device trouble
        of the user's teams."""
        centre = view_of(request)
        async with centre.store.pool.connection() as conn:
            data = await view.overview(conn, user, centre.wall.now())
        await centre.audit.read(user, "GET /api/overview", data.home_ids)
        lang = lang_of(request)
        body = data.as_dict()
        for a in body["alerts"]:
            a["title"] = alert_title(lang, a["scenario"], a["title"])
        return {"user": user.as_dict(), "poll_seconds": centre.poll_seconds, **body}

    @app.get("/api/homes/{home}/timeline")
    async def timeline(home: str, request: Request, user: User) -> dict[str, object]:
        """One home's last 24 hours, newest first."""
        centre = view_of(request)
        now = centre.wall.now()
        async with centre.store.pool.connection() as conn:
            found = await view.visible_home(conn, user, home)
            if found is None:
                raise refuse(request, 404, "err_no_home")
            items = await view.timeline(conn, home, now)
        lang = lang_of(request)
        for item in items:
            if item["kind"] == "alert":
                item["title"] = alert_title(lang, item["scenario"] or "", item["title"])
        await centre.audit.read(user, f"GET /api/homes/{home}/timeline", [home])
        return {"home": found["id"], "pseudonym": found["pseudonym"], "team": found["team"],
                "now": now.isoformat(), "items": items}

    @app.post("/api/homes/{home}/alerts/{alert_id}/acknowledge")
    async def acknowledge(home: str, alert_id: str, request: Request, user: User) -> dict[str, object]:
        """"Ik ga erheen": sent to the home, which stops its escalation and answers up the stream."""
        return await _command(request, user, home, alert_id, "acknowledge", None)

    @app.post("/api/homes/{home}/alerts/{alert_id}/resolve")
    async def resolve(home: str, alert_id: str, body: ResolveBody, request: Request,
                      user: User) -> dict[str, object]:
        """Close the alert with a note (the note goes to the home, not to this screen)."""
        return await _command(request, user, home, alert_id, "resolve", body.note)


async def _command(request: Request, user: CentreUser, home: str, alert_id: str,
                   action: Literal["acknowledge", "resolve"], note: str | None) -> dict[str, object]:
    centre = view_of(request)
    async with centre.store.pool.connection() as conn:
        alert = await view.visible_alert(conn, user, home, alert_id)
    if alert is None:
        # Another team's alert reads as no alert at all: do not confirm it exists.
        raise refuse(request, 404, "err_no_alert")
    if alert["state"] not in ACTIVE_STATES:
        raise refuse(request, 409, "err_closed")
    if action == "acknowledge" and alert["acknowledged_by"]:
        raise refuse(request, 409, "err_already", who=alert["acknowledged_by"])
    if centre.commands is None:
        raise refuse(request, 503, "err_no_path")
    try:
        await centre.commands.give(home, alert_id, action, user=user.username, note=note)
    except HuisError as exc:
        # Not sent: no node of the cluster took it (DeliveryError), or the core refused it (its
        # reason, in English, goes to the audit; the page says it in its own language).
        await centre.audit.append(user, action, homes=[home], detail=f"alert {alert_id}: not sent ({exc})")
        if isinstance(exc, DeliveryError):
            raise refuse(request, 502, "err_command") from exc
        raise refuse(request, 409, "err_refused") from exc
    await centre.audit.append(user, action, homes=[home], detail=f"alert {alert_id}: sent")
    return {"ok": True, "outcome": "sent", "action": action, "home": home, "alert": alert_id}
