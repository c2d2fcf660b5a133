"""What the central dashboard's routes share: the state (`CentreView`), the page's language and
texts (the gettext catalogues' `central.*` ids), page rendering, and who is asking (session,
CSRF, role)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from html import escape
from importlib import resources
from typing import Annotated, Literal, Protocol

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse

from central.access_audit import AccessAudit
from central.accounts import SESSION_COOKIE, Accounts, CentreUser, migrate
from central.store import Store
from controller import i18n
from controller.clock import Clock
from controller.i18n import Lang
from dashboard.security import SAFE_METHODS, csrf_ok, secure_for

LANG_COOKIE = "huis_central_lang"
POLL_SECONDS = 5  # how often the page asks for the overview


class CommandPath(Protocol):
    """The core's way to a home (central/commands.py `Commands`): check, sign with the home's key,
    publish with QoS 1, record in `commands`. Raises DeliveryError when no node took it and
    another HuisError (CommandRefused) when it will not send it, saying why."""

    async def give(self, home: str, alert_id: str, action: Literal["acknowledge", "resolve"], *, user: str,
                   note: str | None = None) -> object: ...


@dataclass(slots=True, kw_only=True)
class CentreView:
    """What the routes share; `app.state.huis` (dashboard.server.serve and the cookie helpers
    of dashboard.security read `services`, `aclose` and `secure_cookies` from it)."""

    store: Store
    accounts: Accounts
    audit: AccessAudit
    commands: CommandPath | None
    wall: Clock
    secure_cookies: bool | None = None
    poll_seconds: int = POLL_SECONDS
    timezone: str = "Europe/Amsterdam"
    _ready: bool = False
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def ready(self) -> None:
        """Create the dashboard's tables and open the audit chain, on first use."""
        if self._ready:
            return
        async with self._lock:
            if not self._ready:
                async with self.store.pool.connection() as conn:
                    await migrate(conn)
                await self.audit.open()
                self._ready = True

    def services(self) -> list[Callable[[], Awaitable[None]]]:
        return []

    async def aclose(self) -> None:
        """The store belongs to whoever made it (`huis central run`): nothing to close here."""


def lang_of(request: Request) -> Lang:
    """The page's language: `?lang=`, else the one chosen before (cookie), else Dutch. The API
    takes the page's word for it (its script sends Accept-Language)."""
    asked = request.query_params.get("lang")
    if asked in i18n.LANGS:
        return i18n.lang_of(asked)
    header = request.headers.get("accept-language", "")[:2].lower()
    if request.url.path.startswith("/api/") and header in i18n.LANGS:
        return i18n.lang_of(header)
    chosen = request.cookies.get(LANG_COOKIE)
    return i18n.lang_of(chosen) if chosen in i18n.LANGS else i18n.DEFAULT


def say(lang: str, key: str, **values: object) -> str:
    """The catalogue's text `central.<key>` in `lang`."""
    return i18n.text(lang, "central." + key, **values)


def alert_title(lang: str, scenario: str, home_title: str | None) -> str:
    """The neutral title to show: the home's own (Dutch) on a Dutch page, the catalogue's otherwise."""
    if lang == "nl" and home_title:
        return home_title
    if "central.title_" + scenario in i18n.catalogue(i18n.lang_of(lang)):
        return say(lang, "title_" + scenario)
    return say(lang, "title_other", scenario=scenario)


_PART = re.compile(r"\{\{> (\w+)\}\}\n?")


def _template(name: str) -> str:
    """A page of central/pages with its `{{> part}}` lines replaced by `_part.html` (the head,
    the header and the scripts every page shares)."""
    text = resources.files("central").joinpath("pages", name).read_text(encoding="utf-8")
    return _PART.sub(lambda m: _template(f"_{m.group(1)}.html"), text)


_KEY = re.compile(r"\{\{(\w+)\}\}")


def render(name: str, lang: Lang, **values: str) -> str:
    """A page with `{{key}}` the catalogue's `central.<key>` (escaped), `{{lang_code}}` and
    `{{lang_other_code}}`, and `{{data}}` the values as JSON for the script (in a data block,
    which the CSP lets through: it is not run). The script reads its texts from
    /i18n/catalogue.js, in the language the server chose."""
    other = "en" if lang == "nl" else "nl"
    data = json.dumps({"lang": lang, **values}, ensure_ascii=False)
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    fixed = {"data": data, "lang_code": lang, "lang_other_code": other}

    def fill(m: re.Match[str]) -> str:
        key = m.group(1)
        if key in fixed:
            return fixed[key]
        return escape(values[key] if key in values else say(lang, key))

    return _KEY.sub(fill, _template(name))


def page(request: Request, name: str, status: int = 200, **values: str) -> HTMLResponse:
    lang = lang_of(request)
    response = HTMLResponse(render(name, lang, **values), status_code=status)
    if request.query_params.get("lang") in i18n.LANGS:
        response.set_cookie(LANG_COOKIE, lang, samesite="strict", secure=secure_for(request), path="/",
                            max_age=365 * 24 * 3600)
    return response


def view_of(request: Request) -> CentreView:
    centre: CentreView = request.app.state.huis
    return centre


async def session_user(request: Request) -> CentreUser | None:
    centre = view_of(request)
    await centre.ready()
    return await centre.accounts.session_user(request.cookies.get(SESSION_COOKIE))


def refuse(request: Request, status: int, key: str, **values: object) -> HTTPException:
    return HTTPException(status, say(lang_of(request), key, **values))


# What someone logged in with a one-time password may do before choosing their own.
ONE_TIME_ALLOWED = frozenset({"/api/session", "/api/logout", "/api/password"})


async def require_user(request: Request) -> CentreUser:
    """The logged-in user (401 otherwise), with the CSRF check on a state-changing request; with
    a one-time password, only choosing their own (403 for anything else)."""
    user = await session_user(request)
    if user is None:
        raise refuse(request, 401, "err_login")
    if request.method not in SAFE_METHODS and not csrf_ok(request):
        raise refuse(request, 403, "err_csrf")
    if user.must_change and request.url.path not in ONE_TIME_ALLOWED:
        raise refuse(request, 403, "err_must_change")
    return user


async def require_csrf(request: Request) -> None:
    if request.method not in SAFE_METHODS and not csrf_ok(request):
        raise refuse(request, 403, "err_csrf")


User = Annotated[CentreUser, Depends(require_user)]


