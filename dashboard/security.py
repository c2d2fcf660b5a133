"""FastAPI dependencies for roles and CSRF, and the cookies that carry them.

`require_caregiver` and `require_technician` are what every protected route (and the alerts
router) depends on. They refuse a visitor with 403, check the CSRF header on state-changing
requests, and write every staff request to the audit log (who, when, what, which resident),
because every read of a resident's care data must leave a trace. The same view read again by
the same user within `REPEAT_WINDOW` (a console that refreshes itself) is one row, not hundreds.

Proxies: behind a TLS proxy, list its address in `dashboard.trusted_proxies`; uvicorn then takes
the client address and scheme from X-Forwarded-For and X-Forwarded-Proto of that proxy only,
and cookies get their Secure flag (or force it with `dashboard.secure_cookies`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request, Response, WebSocket

from controller import i18n
from dashboard.auth import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, User, check_csrf, new_csrf_token
from dashboard.live import Subscriber
from dashboard.refusals import Refusal

if TYPE_CHECKING:
    from dashboard.context import Dashboard

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CARE_ROLES = ("caregiver", "admin")
TECH_ROLES = ("technician", "admin")
REPEAT_WINDOW = timedelta(seconds=60)
_REMEMBERED_READS = 2000


def dashboard_of(conn: Request | WebSocket) -> Dashboard:
    d: Dashboard = conn.app.state.huis
    return d


async def current_user(conn: Request | WebSocket) -> User | None:
    """The logged-in user of this request, or None for a visitor."""
    return await dashboard_of(conn).auth.session_user(conn.cookies.get(SESSION_COOKIE))


async def subscribe_live(ws: WebSocket, user: User | None, staff: bool) -> Subscriber:
    """The live feed's inbox for this socket; a staff socket (raw events of the home) is
    audited as a read and ends at once when its user's sessions are revoked."""
    d = dashboard_of(ws)
    if not staff or user is None:
        return d.feed.subscribe(staff=False)
    sub = d.feed.subscribe(staff=True, user_id=user.id, token=ws.cookies.get(SESSION_COOKIE))
    await audit_access(d, user, "GET", "/ws/live (live event feed)")
    return sub


def csrf_ok(request: Request) -> bool:
    return check_csrf(request.cookies.get(CSRF_COOKIE), request.headers.get(CSRF_HEADER))


async def require_csrf(request: Request) -> None:
    """Refuse a state-changing request that does not echo the CSRF cookie in its header."""
    if request.method not in SAFE_METHODS and not csrf_ok(request):
        raise Refusal(403, "api.csrf")


def residents_read(d: Dashboard, user: User) -> list[str | None]:
    """Whose care data a staff request of `user` reads: a caregiver's own residents, the whole
    home's for technicians and admins (devices, events and traces are the home's)."""
    if user.role == "caregiver":
        return [r for r in d.residents if user.can_see(r)] or [None]
    return list(d.residents) or [None]


async def audit_access(d: Dashboard, user: User, method: str, what: str,
                       residents: Sequence[str | None] | None = None) -> None:
    """Write who read (or changed) what, for which resident, now; a read repeated within
    REPEAT_WINDOW is written once."""
    action = "read" if method in SAFE_METHODS else "write"
    if action == "read":
        now = d.auth.wall.now()
        key = (user.id, what)
        last = d.recent_reads.get(key)
        if last is not None and now - last < REPEAT_WINDOW:
            return
        if len(d.recent_reads) >= _REMEMBERED_READS:
            d.recent_reads.clear()
        d.recent_reads[key] = now
    await d.auth.audit_many(user, action, residents if residents is not None else residents_read(d, user),
                            f"{method} {what}")


def _forbidden(user: User | None, roles: Sequence[str]) -> HTTPException:
    # Say which accounts may, and who you are: a technician is not told to "log in" again.
    need = "admin" if roles == ("admin",) else ("care" if "caregiver" in roles else "tech")
    if user is None:
        return Refusal(403, f"api.forbidden_{need}")
    return Refusal(403, f"api.forbidden_{need}_as", role=i18n.both(f"auth.role.{user.role}"))


def require_roles(*roles: str, audit: bool = False) -> Callable[[Request], Awaitable[User]]:
    """A dependency admitting only users with one of `roles`; with `audit`, each request is
    written to the audit log."""

    async def dependency(request: Request) -> User:
        user = await current_user(request)
        if user is None or user.role not in roles:
            raise _forbidden(user, roles)
        await require_csrf(request)
        if audit:
            query = request.url.query
            await audit_access(dashboard_of(request), user, request.method,
                               request.url.path + (f"?{query}" if query else ""))
        return user

    dependency.__name__ = f"require_{'_or_'.join(roles)}"
    return dependency


require_caregiver = require_roles(*CARE_ROLES, audit=True)
require_technician = require_roles(*TECH_ROLES, audit=True)
require_admin = require_roles("admin")


def secure_for(conn: Request | WebSocket) -> bool:
    """Whether cookies get the Secure flag: as configured, else when the request came over TLS."""
    forced = dashboard_of(conn).secure_cookies
    return forced if forced is not None else conn.url.scheme in ("https", "wss")


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this hub, else None: never a redirect to another site.

    Browsers read '/\\host', '//host' and '/%5Chost' (once decoded) as another host, and skip
    tabs and newlines inside a URL; all of those are refused.
    """
    if not target or not target.startswith("/") or len(target) > 2000:
        return None
    if any(c in target for c in "\\\t\r\n") or target[1:2] in ("/", "\\"):
        return None
    if "%5c" in target.lower() or "%2f%2f" in target.lower():
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict",
                        secure=secure_for(request), path="/",
                        max_age=int(dashboard_of(request).auth.session_lifetime.total_seconds()))


def set_csrf_cookie(request: Request, response: Response, token: str | None = None) -> str:
    """Give the browser a CSRF token it can read and echo (not HttpOnly, on purpose)."""
    token = token or new_csrf_token()
    response.set_cookie(CSRF_COOKIE, token, httponly=False, samesite="strict",
                        secure=secure_for(request), path="/")
    return token

# For route signatures: `user: Caregiver` admits caregivers and admins, and so on.
Caregiver = Annotated[User, Depends(require_caregiver)]
Technician = Annotated[User, Depends(require_technician)]
Admin = Annotated[User, Depends(require_admin)]
