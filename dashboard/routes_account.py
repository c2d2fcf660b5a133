"""Logging in and out, first-run setup of the admin, and user management (add, disable,
delete, reset a password, end sessions: the admin page; `huis accounts` does the same)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from controller import i18n
from dashboard.auth import ROLES, SESSION_COOKIE, AuthError, SetupDone, User
from dashboard.refusals import Refusal, lang_of
from dashboard.security import (
    Admin,
    current_user,
    dashboard_of,
    require_csrf,
    safe_next,
    set_csrf_cookie,
    set_session_cookie,
)
from dashboard.static_files import page

router = APIRouter()

HOME_OF_ROLE = {"caregiver": "/zorg", "technician": "/technicus", "admin": "/technicus"}


class Credentials(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=1024)


class NewUser(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=1024)
    role: str = "caregiver"
    display_name: str | None = Field(None, max_length=100)
    caregiver: str | None = Field(None, max_length=64)
    residents: list[str] = Field(default_factory=list)


class Setup(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=1024)
    display_name: str | None = Field(None, max_length=100)


def refused(request: Request, exc: AuthError, status: int = 422) -> HTTPException:
    """An account change refused, said in the page's language."""
    return HTTPException(status, exc.text(lang_of(request)))


class Password(BaseModel):
    password: str = Field(max_length=1024)


class Disabled(BaseModel):
    disabled: bool = True


@router.get("/login", include_in_schema=False, response_model=None)
async def login_page(request: Request) -> Response:
    # The page sends the user on to `next` after login; anything but a path on this hub is
    # dropped here already (the page's script checks again).
    target = request.query_params.get("next")
    if target is not None and safe_next(target) is None:
        return RedirectResponse("/login", status_code=303)
    return page("login.html")


@router.get("/setup", include_in_schema=False, response_model=None)
async def setup_page(request: Request) -> Response:
    if not await dashboard_of(request).auth.setup_needed():
        return RedirectResponse("/login", status_code=303)
    return page("setup.html")


@router.get("/api/session", tags=["account"])
async def session(request: Request) -> dict[str, object]:
    """Who is logged in (null for a visitor), and whether first-run setup is still open."""
    d = dashboard_of(request)
    user = await current_user(request)
    return {
        "user": user.as_dict() if user else None,
        "home": HOME_OF_ROLE.get(user.role) if user else "/",
        "setup_needed": await d.auth.setup_needed(),
        "home_name": d.hub.config.home.name,
    }


async def _start_session(request: Request, user: User, token: str) -> JSONResponse:
    response = JSONResponse({"user": user.as_dict(), "home": HOME_OF_ROLE[user.role]})
    set_session_cookie(request, response, token)
    # A fresh CSRF token with the fresh session: nothing from before login carries over.
    set_csrf_cookie(request, response)
    return response


@router.post("/api/login", tags=["account"], dependencies=[Depends(require_csrf)],
             response_model=None)
async def login(body: Credentials, request: Request) -> Response:
    """Log in; sets an HttpOnly session cookie. Too many failures: 429 with Retry-After."""
    d = dashboard_of(request)
    address = request.client.host if request.client else "unknown"
    wait = d.auth.login_blocked(body.username, address)
    if wait > 0:
        return JSONResponse(
            {"detail": i18n.text(lang_of(request), "api.too_many_logins"),
             "retry_after": round(wait)},
            status_code=429, headers={"Retry-After": str(round(wait))})
    result = await d.auth.login(body.username, body.password, address)
    if result is None:
        raise Refusal(401, "api.wrong_login")
    return await _start_session(request, *result)


@router.post("/api/logout", tags=["account"], dependencies=[Depends(require_csrf)],
             response_model=None)
async def logout(request: Request) -> Response:
    """End this session."""
    d = dashboard_of(request)
    user = await current_user(request)
    await d.auth.logout(request.cookies.get(SESSION_COOKIE))
    if user is not None:
        await d.auth.audit(user, "logout")
    response = JSONResponse({"ok": True})
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/api/setup", tags=["account"], dependencies=[Depends(require_csrf)],
             response_model=None)
async def setup(body: Setup, request: Request) -> Response:
    """Create the first admin. Only possible while no admin exists; logs the admin in."""
    d = dashboard_of(request)
    if not await d.auth.setup_needed():
        raise refused(request, SetupDone(), 403)
    try:
        await d.auth.create_first_admin(username=body.username, password=body.password,
                                        display_name=body.display_name)
    except SetupDone as exc:  # another setup request won the race
        raise refused(request, exc, 403) from exc
    except AuthError as exc:
        raise refused(request, exc) from exc
    address = request.client.host if request.client else "unknown"
    result = await d.auth.login(body.username, body.password, address)
    if result is None:  # pragma: no cover - we just created it
        raise Refusal(500, "api.setup_login_failed")
    await d.auth.audit(result[0], "setup", detail="first admin created")
    return await _start_session(request, *result)


@router.get("/api/admin/users", tags=["admin"])
async def users(request: Request, admin: Admin) -> list[dict[str, object]]:
    """Every account, disabled ones too, with its open sessions (never a password hash)."""
    auth = dashboard_of(request).auth
    sessions = await auth.sessions()
    return [{**u.as_dict(), "sessions": sessions.get(u.username, 0)} for u in await auth.users()]


@router.post("/api/admin/users/{username}/disabled", tags=["admin"])
async def disable_user(username: str, body: Disabled, request: Request, admin: Admin) -> dict[str, object]:
    """Disable an account (its sessions end at once, open pages included) or enable it again."""
    try:
        user = await dashboard_of(request).auth.set_disabled(username, body.disabled, by=admin)
    except AuthError as exc:
        raise refused(request, exc) from exc
    return user.as_dict()


@router.delete("/api/admin/users/{username}", tags=["admin"])
async def delete_user(username: str, request: Request, admin: Admin) -> dict[str, object]:
    """Delete an account and its sessions; the audit log keeps what it did."""
    try:
        await dashboard_of(request).auth.delete_user(username, by=admin)
    except AuthError as exc:
        raise refused(request, exc) from exc
    return {"ok": True}


@router.post("/api/admin/users/{username}/password", tags=["admin"])
async def reset_password(username: str, body: Password, request: Request, admin: Admin) -> dict[str, object]:
    """Give an account a new password; its sessions end."""
    try:
        await dashboard_of(request).auth.reset_password(username, body.password, by=admin)
    except AuthError as exc:
        raise refused(request, exc) from exc
    return {"ok": True}


@router.post("/api/admin/users/{username}/revoke", tags=["admin"])
async def revoke(username: str, request: Request, admin: Admin) -> dict[str, object]:
    """End every session of an account (a lost phone): it must log in again."""
    try:
        n = await dashboard_of(request).auth.revoke_sessions(username, by=admin)
    except AuthError as exc:
        raise refused(request, exc) from exc
    return {"ok": True, "ended": n}


@router.post("/api/admin/users", tags=["admin"], status_code=201)
async def add_user(body: NewUser, request: Request,
                   admin: Admin) -> dict[str, object]:
    """Add an account: caregiver (with residents), technician or admin."""
    d = dashboard_of(request)
    if body.role not in ROLES:
        raise refused(request, AuthError("auth.no_role", role=body.role, roles=", ".join(ROLES)))
    if body.caregiver is not None and body.caregiver not in d.hub.config.caregivers:
        raise refused(request, AuthError("auth.no_caregiver", caregiver=body.caregiver))
    unknown = [r for r in body.residents if r not in d.residents]
    if unknown:
        raise refused(request, AuthError("auth.unknown_residents", residents=", ".join(unknown)))
    try:
        user = await d.auth.create_user(username=body.username, password=body.password,
                                        role=body.role, display_name=body.display_name,
                                        caregiver=body.caregiver, residents=body.residents)
    except AuthError as exc:
        raise refused(request, exc) from exc
    await d.auth.audit(admin, "user_added", detail=f"{user.username} as {user.role}")
    return user.as_dict()


@router.get("/api/admin/options", tags=["admin"])
async def options(request: Request, admin: Admin) -> dict[str, object]:
    """What a new account can be linked to: the configured caregivers and the residents."""
    d = dashboard_of(request)
    return {"caregivers": [{"id": cid, "name": c.name, "relation": c.relation}
                           for cid, c in d.hub.config.caregivers.items()],
            "residents": d.residents, "roles": list(ROLES)}
