"""Accounts, sessions, roles, CSRF, login rate limiting and the care-data audit log.

Roles: `visitor` (nobody logged in: the tour only), `caregiver` (their assigned residents only),
`technician` (devices, scenarios, logs) and `admin` (everything, and user management).

There is no default password: the first admin is created on the setup page, which exists only
while no admin does, or with `create_user` (the `huis user add` command). Passwords are hashed
with argon2id. A session is a random token in an HttpOnly, SameSite=Strict cookie; the database
keeps only its SHA-256. State-changing requests must echo the `huis_csrf` cookie in an
`X-CSRF-Token` header (double submit): a page on another site can neither read the cookie nor
set the header.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiosqlite
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from controller.clock import Clock
from controller.errors import HuisError
from controller.store import Database

ROLES = ("caregiver", "technician", "admin")
SESSION_COOKIE = "huis_session"
CSRF_COOKIE = "huis_csrf"
CSRF_HEADER = "x-csrf-token"
MIN_PASSWORD = 10

SCHEMA = [
    # 1: accounts, sessions, audit log
    """
    CREATE TABLE dashboard_users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE COLLATE NOCASE,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('caregiver', 'technician', 'admin')),
        display_name TEXT,
        caregiver TEXT,
        residents TEXT NOT NULL DEFAULT '[]',
        created TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE dashboard_sessions (
        token_hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES dashboard_users(id) ON DELETE CASCADE,
        created TEXT NOT NULL,
        expires TEXT NOT NULL
    );
    CREATE TABLE dashboard_audit (
        id INTEGER PRIMARY KEY,
        time TEXT NOT NULL,
        username TEXT,
        role TEXT,
        action TEXT NOT NULL,
        resident TEXT,
        detail TEXT
    );
    CREATE INDEX dashboard_audit_time ON dashboard_audit(time)
    """,
]


class AuthError(HuisError):
    """A user could not be created or changed; the message says why, in a full sentence."""


class SetupDone(AuthError):
    """First-run setup was asked for while an admin exists (another request may just have won)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    """A logged-in person."""

    id: int
    username: str
    role: str
    display_name: str | None = None
    caregiver: str | None = None  # the caregiver id in config/home.yaml this account belongs to
    residents: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.display_name or self.username

    def can_see(self, resident: str | None) -> bool:
        """Whether this user may read `resident`'s care data."""
        if self.role == "admin":
            return True
        return self.role == "caregiver" and resident is not None and resident in self.residents

    def as_dict(self) -> dict[str, Any]:
        return {"username": self.username, "role": self.role, "name": self.name,
                "caregiver": self.caregiver, "residents": list(self.residents)}


@dataclass(slots=True)
class RateLimiter:
    """At most `limit` failures per key within `window`, measured on the injected clock."""

    clock: Clock
    limit: int = 5
    window: timedelta = timedelta(minutes=15)
    _failures: dict[str, deque[datetime]] = field(default_factory=dict)

    def retry_after(self, key: str) -> float:
        """Seconds until `key` may try again; 0 when it may now."""
        now = self.clock.now()
        q = self._failures.get(key)
        if not q:
            return 0.0
        while q and now - q[0] >= self.window:
            q.popleft()
        if len(q) < self.limit:
            return 0.0
        return max(1.0, (q[0] + self.window - now).total_seconds())

    def fail(self, key: str) -> None:
        self._failures.setdefault(key, deque()).append(self.clock.now())

    def clear(self, key: str) -> None:
        self._failures.pop(key, None)


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_csrf(cookie: str | None, header: str | None) -> bool:
    """Whether the double-submitted CSRF token matches."""
    return bool(cookie) and bool(header) and hmac.compare_digest(str(cookie), str(header))


def new_csrf_token() -> str:
    return secrets.token_urlsafe(24)


_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of `password`."""
    return _hasher.hash(password)


def _validate(username: str, password: str, role: str) -> None:
    if role not in ROLES:
        raise AuthError(f"'{role}' is not a role; choose one of {', '.join(ROLES)}.")
    if not username or len(username) > 64 or not username.replace("_", "").replace(".", "")\
            .replace("-", "").isalnum():
        raise AuthError("A user name needs 1 to 64 letters, digits, '.', '-' or '_'.")
    if len(password) < MIN_PASSWORD:
        raise AuthError(f"A password needs at least {MIN_PASSWORD} characters.")


async def migrate(db: Database) -> None:
    """Create or update the dashboard's tables."""
    await db.migrate("dashboard", SCHEMA)


async def create_user(db: Database, *, username: str, password: str, role: str,
                      residents: Iterable[str] = (), caregiver: str | None = None,
                      display_name: str | None = None, now: datetime, first_admin: bool = False) -> User:
    """Add an account (for `huis user add` and the setup page); raises AuthError when invalid.

    The checks and the insert are one write transaction, so concurrent requests cannot both
    pass them; with `first_admin`, SetupDone when an admin exists already.
    """
    _validate(username, password, role)
    await migrate(db)
    res = sorted(set(residents))
    password_hash = hash_password(password)  # slow on purpose: before taking the write lock
    async with db.transaction() as conn:
        if first_admin and await _exists(conn, "SELECT 1 FROM dashboard_users WHERE role = 'admin' "
                                               "AND disabled = 0"):
            raise SetupDone("Setup is done: an admin exists. Log in instead.")
        if await _exists(conn, "SELECT 1 FROM dashboard_users WHERE username = ?", (username,)):
            raise AuthError(f"There is already a user called '{username}'.")
        cur = await conn.execute(
            "INSERT INTO dashboard_users (username, password_hash, role, display_name, caregiver, "
            "residents, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (username, password_hash, role, display_name, caregiver, json.dumps(res), now.isoformat()),
        )
        uid = cur.lastrowid or 0
        await cur.close()
    return User(id=uid, username=username, role=role, display_name=display_name,
                caregiver=caregiver, residents=tuple(res))


async def _exists(conn: aiosqlite.Connection, sql: str, params: tuple[object, ...] = ()) -> bool:
    async with conn.execute(sql, params) as cur:
        return await cur.fetchone() is not None


def _user(row: Any) -> User:
    return User(id=row["id"], username=row["username"], role=row["role"],
                display_name=row["display_name"], caregiver=row["caregiver"],
                residents=tuple(json.loads(row["residents"] or "[]")))


class Auth:
    """Accounts and sessions in the hub's database."""

    def __init__(self, db: Database | None, clock: Clock, *, path: str | None = None,
                 session_days: float = 14, limit: int = 5,
                 window: timedelta = timedelta(minutes=15)) -> None:
        if db is None and path is None:
            raise ValueError("Auth needs an open database or a path to open one at")
        self._db = db
        self._path = path
        self.opened = False  # whether we opened the database (and so must close it)
        self.clock = clock
        self.session_lifetime = timedelta(days=session_days)
        self.by_user = RateLimiter(clock, limit=limit, window=window)
        # Per client address: more generous, since a care home may sit behind one address.
        self.by_address = RateLimiter(clock, limit=limit * 4, window=window)
        self._ready = False
        self._lock = asyncio.Lock()
        # A dummy hash so a login for a missing user costs as much time as a wrong password.
        self._dummy = hash_password(secrets.token_hex(16))

    @property
    def db(self) -> Database:
        if self._db is None:
            raise RuntimeError("the database is opened by ready() first")
        return self._db

    async def ready(self) -> None:
        """Open the database if needed and create the tables, on first use."""
        if self._ready:
            return
        async with self._lock:
            if self._ready:
                return
            if self._db is None and self._path is not None:
                self._db = await Database.connect(self._path, component="dashboard")
                self.opened = True
            await migrate(self.db)
            self._ready = True

    async def close(self) -> None:
        """Close the database if we opened it."""
        if self.opened and self._db is not None:
            await self._db.close()
            self._db = None
            self.opened = False
            self._ready = False

    async def setup_needed(self) -> bool:
        """True while no admin exists: only then is the setup page open."""
        await self.ready()
        row = await self.db.fetchone(
            "SELECT 1 FROM dashboard_users WHERE role = 'admin' AND disabled = 0")
        return row is None

    async def create_user(self, **kwargs: Any) -> User:
        await self.ready()
        return await create_user(self.db, now=self.clock.now(), **kwargs)

    async def create_first_admin(self, *, username: str, password: str,
                                 display_name: str | None = None) -> User:
        """The first admin (the setup page): exactly one, however many requests race for it;
        SetupDone for the others."""
        await self.ready()
        return await create_user(self.db, username=username, password=password, role="admin",
                                 display_name=display_name, now=self.clock.now(), first_admin=True)

    async def users(self) -> list[User]:
        await self.ready()
        rows = await self.db.fetchall("SELECT * FROM dashboard_users WHERE disabled = 0 ORDER BY username")
        return [_user(r) for r in rows]

    def login_blocked(self, username: str, address: str) -> float:
        """Seconds to wait before this user or address may try again (0: go ahead)."""
        return max(self.by_user.retry_after(username.lower()),
                   self.by_address.retry_after(address))

    async def login(self, username: str, password: str, address: str) -> tuple[User, str] | None:
        """A user and a new session token, or None for a wrong name or password."""
        await self.ready()
        row = await self.db.fetchone(
            "SELECT * FROM dashboard_users WHERE username = ? AND disabled = 0", (username,))
        stored = row["password_hash"] if row is not None else self._dummy
        try:
            _hasher.verify(stored, password)
            ok = row is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        if not ok or row is None:
            self.by_user.fail(username.lower())
            self.by_address.fail(address)
            await self.audit(None, "login_failed", detail=f"user {username!r} from {address}")
            return None
        self.by_user.clear(username.lower())
        if _hasher.check_needs_rehash(stored):
            await self.db.execute("UPDATE dashboard_users SET password_hash = ? WHERE id = ?",
                                  (hash_password(password), row["id"]))
        user = _user(row)
        token = secrets.token_urlsafe(32)
        now = self.clock.now()
        # Expired sessions are useless; drop them whenever a new one starts.
        await self.db.execute("DELETE FROM dashboard_sessions WHERE expires <= ?", (now.isoformat(),))
        await self.db.execute(
            "INSERT INTO dashboard_sessions (token_hash, user_id, created, expires) VALUES (?, ?, ?, ?)",
            (_hash_token(token), user.id, now.isoformat(), (now + self.session_lifetime).isoformat()))
        await self.audit(user, "login", detail=f"from {address}")
        return user, token

    async def session_user(self, token: str | None) -> User | None:
        """The user a session token belongs to, if it is valid and unexpired."""
        if not token:
            return None
        await self.ready()
        row = await self.db.fetchone(
            "SELECT u.*, s.expires FROM dashboard_sessions s JOIN dashboard_users u ON u.id = s.user_id "
            "WHERE s.token_hash = ? AND u.disabled = 0", (_hash_token(token),))
        if row is None or datetime.fromisoformat(row["expires"]) <= self.clock.now():
            return None
        return _user(row)

    async def logout(self, token: str | None) -> None:
        if token:
            await self.ready()
            await self.db.execute("DELETE FROM dashboard_sessions WHERE token_hash = ?",
                                  (_hash_token(token),))

    async def audit(self, user: User | None, action: str, *, resident: str | None = None,
                    detail: str = "") -> None:
        """Append one line to the audit log (who read or changed what, when)."""
        await self.ready()
        await self.db.execute(
            "INSERT INTO dashboard_audit (time, username, role, action, resident, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (self.clock.now().isoformat(), user.username if user else None,
             user.role if user else None, action, resident, detail))

    async def audit_log(self, *, limit: int = 200, resident: str | None = None,
                        username: str | None = None) -> list[dict[str, Any]]:
        """Recent audit lines, newest first."""
        await self.ready()
        where: list[str] = []
        params: list[Any] = []
        if resident:
            where.append("resident = ?")
            params.append(resident)
        if username:
            where.append("username = ?")
            params.append(username)
        sql = "SELECT * FROM dashboard_audit" + (" WHERE " + " AND ".join(where) if where else "")
        rows = await self.db.fetchall(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
        return [dict(r) for r in rows]
