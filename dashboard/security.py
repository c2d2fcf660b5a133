"""FastAPI dependencies for roles and CSRF, and the cookies that carry them.

`require_caregiver` and `require_technician` are what every protected route (and the alerts
router) depends on. They refuse a visitor with 403, check the CSRF header on state-changing
requests, and write caregiver access to the audit log, because every read of a resident's care
data must leave a trace.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, HTTPException, Request, Response, WebSocket

from dashboard.auth import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, User, check_csrf, new_csrf_token

if TYPE_CHECKING:
    from dashboard.context import Dashboard

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CARE_ROLES = ("caregiver", "admin")
TECH_ROLES = ("technician", "admin")


def dashboard_of(conn: Request | WebSocket) -> Dashboard:
    d: Dashboard = conn.app.state.huis
    return d


async def current_user(conn: Request | WebSocket) -> User | None:
    """The logged-in user of this request, or None for a visitor."""
    return await dashboard_of(conn).auth.session_user(conn.cookies.get(SESSION_COOKIE))


def csrf_ok(request: Request) -> bool:
    return check_csrf(request.cookies.get(CSRF_COOKIE), request.headers.get(CSRF_HEADER))


async def require_csrf(request: Request) -> None:
    """Refuse a state-changing request that does not echo the CSRF cookie in its header."""
    if request.method not in SAFE_METHODS and not csrf_ok(request):
        raise HTTPException(403, detail="Missing or wrong CSRF token: reload the page and try again.")


def require_roles(*roles: str, audit: bool = False) -> Callable[[Request], Awaitable[User]]:
    """A dependency admitting only users with one of `roles`."""

    async def dependency(request: Request) -> User:
        user = await current_user(request)
        if user is None or user.role not in roles:
            raise HTTPException(403, detail="Not allowed: log in with an account that has access.")
        await require_csrf(request)
        if audit:
            # Caregiver routes serve care data; the log says who looked at what, and when.
            d = dashboard_of(request)
            action = "read" if request.method in SAFE_METHODS else "write"
            seen: list[str | None] = [r for r in d.residents if user.can_see(r)]
            for resident in seen or [None]:
                await d.auth.audit(user, action, resident=resident,
                                   detail=f"{request.method} {request.url.path}")
        return user

    dependency.__name__ = f"require_{'_or_'.join(roles)}"
    return dependency


require_caregiver = require_roles(*CARE_ROLES, audit=True)
require_technician = require_roles(*TECH_ROLES)
require_admin = require_roles("admin")


def secure_for(conn: Request | WebSocket) -> bool:
    """Whether cookies get the Secure flag: as configured, else when the request came over TLS."""
    forced = dashboard_of(conn).secure_cookies
    return forced if forced is not None else conn.url.scheme in ("https", "wss")


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
