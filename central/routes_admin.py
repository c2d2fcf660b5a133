"""The centre's own oversight, in the browser: the audit viewer (coordinators and admins) and
account management (admins), the same operations as `huis central user ...` and `huis central
audit verify`.

Roles are the ones central/accounts.py has: a coordinator oversees care across every home, so
they may read who read what; only an admin changes accounts. A caregiver gets 403 on both pages
and on their API. Every request here is itself written to the audit chain (reading the audit
too), state changes need the CSRF token (`require_user`), and a password the centre makes is
returned once and kept only as its argon2 hash.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from central.accounts import ALL_HOMES_ROLES, AccountError, CentreUser, one_time_password
from central.web import User, lang_of, page, refuse, say, session_user, view_of
from dashboard.auth import AuthError

AUDIT_ROLES = ALL_HOMES_ROLES  # coordinator and admin
ACCOUNT_ROLES = ("admin",)
AUDIT_PAGE = 50


class NewUser(BaseModel):
    username: str = Field(max_length=64)
    role: str = Field(max_length=20)
    teams: list[str] = Field(default_factory=list, max_length=50)
    display_name: str | None = Field(None, max_length=100)


class Disabled(BaseModel):
    disabled: bool = True


def require_role(*roles: str) -> Callable[[Request, CentreUser], Awaitable[CentreUser]]:
    """A dependency: the logged-in user when their role is one of `roles`, else 403."""

    async def check(request: Request, user: User) -> CentreUser:
        if user.role not in roles:
            await view_of(request).audit.append(user, "refused", detail=f"{request.method} {request.url.path}")
            raise refuse(request, 403, "err_role")
        return user

    return check


def iso(t: object) -> str | None:
    return t.isoformat() if isinstance(t, datetime) else None


def _refused(request: Request, exc: AuthError, status: int = 422) -> HTTPException:
    return HTTPException(status, exc.text(lang_of(request)))


def _day_bounds(request: Request, day: str | None) -> tuple[datetime | None, datetime | None]:
    """Midnight to midnight of `day` in the centre's time zone (the page shows times in it)."""
    if not day:
        return None, None
    try:
        d = date.fromisoformat(day)
    except ValueError as exc:
        raise refuse(request, 422, "err_day") from exc
    start = datetime.combine(d, time(0), tzinfo=ZoneInfo(view_of(request).timezone))
    # The next midnight, not 24 h on: a day with a clock change has 23 or 25 hours.
    end = datetime.combine(d + timedelta(days=1), time(0), tzinfo=start.tzinfo)
    return start, end


def add_routes(app: FastAPI) -> None:
    """The two pages and their API."""
    _pages(app)
    _audit_api(app)
    _account_api(app)


def _pages(app: FastAPI) -> None:
    async def oversight_page(request: Request, name: str, roles: tuple[str, ...], why: str) -> Response:
        user = await session_user(request)
        if user is None:
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        if user.must_change:
            return RedirectResponse("/password", status_code=303)
        centre = view_of(request)
        if user.role not in roles:
            await centre.audit.append(user, "refused", detail=f"GET {request.url.path}")
            return page(request, "forbidden.html", status=403, why=say(lang_of(request), why))
        return page(request, name, tz=centre.timezone, role=user.role)

    @app.get("/audit", include_in_schema=False, response_model=None)
    async def audit_page(request: Request) -> Response:
        return await oversight_page(request, "audit.html", AUDIT_ROLES, "forbidden_audit")

    @app.get("/accounts", include_in_schema=False, response_model=None)
    async def accounts_page(request: Request) -> Response:
        return await oversight_page(request, "accounts.html", ACCOUNT_ROLES, "forbidden_accounts")


Auditor = Depends(require_role(*AUDIT_ROLES))
Admin = Depends(require_role(*ACCOUNT_ROLES))


def _audit_api(app: FastAPI) -> None:
    @app.get("/api/audit")
    async def audit_rows(request: Request, user: CentreUser = Auditor,
                         username: Annotated[str | None, Query(max_length=64)] = None,
                         home: Annotated[str | None, Query(max_length=64)] = None,
                         day: Annotated[str | None, Query(max_length=10)] = None,
                         before: int | None = None) -> dict[str, object]:
        """One page of the audit, newest first, filtered by user, home and day; `next_before`
        asks for the page after it (null on the last)."""
        centre = view_of(request)
        since, until = _day_bounds(request, day)
        rows = await centre.audit.rows(username=username or None, home=home or None, since=since, until=until,
                                       before=before, limit=AUDIT_PAGE + 1)
        more = len(rows) > AUDIT_PAGE
        rows = rows[:AUDIT_PAGE]
        asked = " ".join(f"{k}={v}" for k, v in (("user", username), ("home", home), ("day", day),
                                                  ("before", before)) if v)
        await centre.audit.append(user, "audit_read", homes=[home] if home else [],
                                  detail=f"GET /api/audit {asked}".strip())
        return {"rows": [{**{k: r[k] for k in ("seq", "username", "role", "action", "homes", "detail")},
                          "time": iso(r["time"])} for r in rows],
                "next_before": rows[-1]["seq"] if more else None,
                "usernames": [u.username for u in await centre.accounts.users()]}

    @app.get("/api/audit/chain")
    async def audit_chain(request: Request, user: CentreUser = Auditor) -> dict[str, object]:
        """Recompute the whole chain with its key (as `huis central audit verify` does)."""
        centre = view_of(request)
        verdict = await centre.audit.verify()
        outcome = "intact" if verdict.ok else f"first bad row {verdict.bad}"
        await centre.audit.append(user, "audit_verify", detail=outcome)
        return {"ok": verdict.ok, "rows": verdict.rows, "bad": verdict.bad, "problem": verdict.problem,
                "checked_at": centre.wall.now().isoformat()}


def _account_api(app: FastAPI) -> None:
    @app.get("/api/admin/users")
    async def users(request: Request, admin: CentreUser = Admin) -> dict[str, object]:
        """Every account, disabled ones too, with its open sessions; the teams homes belong to."""
        centre = view_of(request)
        sessions = await centre.accounts.sessions()
        async with centre.store.pool.connection() as conn:
            cur = await conn.execute("SELECT DISTINCT team FROM homes WHERE team IS NOT NULL ORDER BY team")
            teams = [r["team"] for r in await cur.fetchall()]
        await centre.audit.append(admin, "users_read")
        return {"users": [{**u.as_dict(), "disabled": u.disabled, "sessions": sessions.get(u.username, 0)}
                          for u in await centre.accounts.users()],
                "teams": teams}

    @app.post("/api/admin/users", status_code=201)
    async def add_user(body: NewUser, request: Request, admin: CentreUser = Admin) -> dict[str, object]:
        """A new account with a one-time password, returned this once."""
        centre = view_of(request)
        password = one_time_password()
        try:
            user = await centre.accounts.create_user(username=body.username, password=password, role=body.role,
                                                     one_time=True,
                                                     teams=[t.strip() for t in body.teams if t.strip()],
                                                     display_name=(body.display_name or "").strip() or None)
        except AuthError as exc:  # AccountError, or check_password's (never for a password made here)
            raise _refused(request, exc) from exc
        await centre.audit.append(admin, "user_added",
                                  detail=f"{user.username} as {user.role}" + (f" of {','.join(user.teams)}"
                                                                              if user.teams else ""))
        return {"user": user.as_dict(), "password": password}

    @app.post("/api/admin/users/{username}/disabled")
    async def disable(username: str, body: Disabled, request: Request, admin: CentreUser = Admin) -> dict[str, object]:
        """Disable an account (its sessions end at once) or enable it again."""
        centre = view_of(request)
        if body.disabled and username.lower() == admin.username.lower():
            raise refuse(request, 409, "err_self")
        try:
            user = await centre.accounts.set_disabled(username, body.disabled)
        except AccountError as exc:
            raise _refused(request, exc, 404) from exc
        await centre.audit.append(admin, "user_disabled" if body.disabled else "user_enabled", detail=user.username)
        return {"user": user.as_dict(), "disabled": user.disabled}

    @app.post("/api/admin/users/{username}/password")
    async def reset_password(username: str, request: Request, admin: CentreUser = Admin) -> dict[str, object]:
        """A new one-time password, returned this once; the account's sessions end."""
        centre = view_of(request)
        try:
            user, password = await centre.accounts.reset_password(username)
        except AccountError as exc:
            raise _refused(request, exc, 404) from exc
        await centre.audit.append(admin, "password_reset", detail=user.username)
        return {"user": user.as_dict(), "password": password}

