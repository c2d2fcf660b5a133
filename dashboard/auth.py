"""Accounts, sessions, roles, CSRF, login rate limiting and the care-data audit log.

Roles: `visitor` (nobody logged in: the tour only), `caregiver` (their assigned residents only),
`technician` (devices, scenarios, logs) and `admin` (everything, and user management).

There is no default password: the first admin is created on the setup page, which exists only
while no admin does, or with `create_user` (the `huis user add` command). Passwords are hashed
with argon2id; a password of fewer than 10 characters, or one that zxcvbn finds in its list of
30,000 common passwords or guesses as easily (score below 2), is refused. A session is a random
token in an HttpOnly, SameSite=Strict cookie; the database keeps only its SHA-256. A session ends
after `session_idle` without a request and in any case `session_lifetime` after login; disabling
a user, resetting their password or revoking their sessions ends them at once. State-changing
requests must echo the `huis_csrf` cookie in an `X-CSRF-Token` header (double submit).

Security windows (login lockout, session idle and lifetime) and audit times are measured on the
*wall* clock, never on the hub's clock: a demo or simulation may move that one.

The audit log (`dashboard_audit`) is append-only with a keyed chain (controller/audit.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiosqlite
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn

from controller import i18n
from controller.audit import DASHBOARD, GENESIS, Chain, mac, open_chain
from controller.clock import Clock, RealClock
from controller.errors import HuisError
from controller.store import Database

ROLES = ("caregiver", "technician", "admin")
SESSION_COOKIE = "huis_session"
CSRF_COOKIE = "huis_csrf"
CSRF_HEADER = "x-csrf-token"
MIN_PASSWORD = 10
MIN_SCORE = 2  # zxcvbn: 0-1 are passwords from its common lists and what is as easy to guess
SESSION_IDLE = timedelta(hours=2)
SESSION_LIFETIME = timedelta(hours=12)  # one shift; was 14 days
_SEEN_EVERY = timedelta(minutes=1)  # how often a session's last_seen is written (not per request)

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
    # 2: the keyed audit chain (controller/audit.py), idle timeout, password changes
    """
    ALTER TABLE dashboard_audit ADD COLUMN prev_hash TEXT;
    ALTER TABLE dashboard_audit ADD COLUMN hash TEXT;
    ALTER TABLE dashboard_sessions ADD COLUMN last_seen TEXT;
    ALTER TABLE dashboard_users ADD COLUMN password_changed TEXT
    """,
]


class AuthError(HuisError):
    """A user could not be created or changed; the message says why, in a full sentence: the
    catalogue text `msgid` (ids auth.*), English as str (the CLI), `text(lang)` for a page."""

    def __init__(self, msgid: str, /, **values: object) -> None:
        super().__init__(i18n.text("en", msgid, **values))
        self.msgid = msgid
        self.values = values

    def text(self, lang: str) -> str:
        return i18n.text(lang, self.msgid, **self.values)


class SetupDone(AuthError):
    """First-run setup was asked for while an admin exists (another request may just have won)."""

    def __init__(self) -> None:
        super().__init__("auth.setup_done")


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    """A logged-in person."""

    id: int
    username: str
    role: str
    display_name: str | None = None
    caregiver: str | None = None  # the caregiver id in config/home.yaml this account belongs to
    residents: tuple[str, ...] = ()
    disabled: bool = False

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
                "caregiver": self.caregiver, "residents": list(self.residents),
                "disabled": self.disabled}


@dataclass(slots=True)
class RateLimiter:
    """At most `limit` failures per key within `window`, measured on the given (wall) clock."""

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


def check_password(password: str, *, user_inputs: Iterable[str] = ()) -> None:
    """Refuse a short or common password (AuthError saying why, in English and Dutch)."""
    if len(password) < MIN_PASSWORD:
        raise AuthError("auth.password_short", n=MIN_PASSWORD)
    # zxcvbn's cost grows with length; the first 64 characters decide whether it is common.
    score = zxcvbn(password[:64], user_inputs=[u for u in user_inputs if u])["score"]
    if score < MIN_SCORE:
        raise AuthError("auth.password_common")


def _validate(username: str, password: str, role: str) -> None:
    if role not in ROLES:
        raise AuthError("auth.no_role", role=role, roles=", ".join(ROLES))
    if not username or len(username) > 64 or not username.replace("_", "").replace(".", "")\
            .replace("-", "").isalnum():
        raise AuthError("auth.bad_username")
    check_password(password, user_inputs=[username])


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
            raise SetupDone()
        if await _exists(conn, "SELECT 1 FROM dashboard_users WHERE username = ?", (username,)):
            raise AuthError("auth.user_exists", username=username)
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
                residents=tuple(json.loads(row["residents"] or "[]")), disabled=bool(row["disabled"]))


async def append_audit(conn: aiosqlite.Connection, chain: Chain, *, time: datetime,
                       username: str | None, role: str | None, action: str,
                       resident: str | None = None, detail: str = "") -> None:
    """One row of the dashboard's audit log, chained to the row before, inside the caller's
    write transaction (so another process appending meanwhile cannot fork the chain)."""
    async with conn.execute("SELECT hash FROM dashboard_audit ORDER BY id DESC LIMIT 1") as cur:
        last = await cur.fetchone()
    # A last row without a hash is from before the keyed chain: the chain starts from GENESIS.
    prev = str(last["hash"]) if last is not None and last["hash"] else GENESIS
    values = (time.isoformat(), username, role, action, resident, detail)
    await conn.execute(
        "INSERT INTO dashboard_audit (time, username, role, action, resident, detail, prev_hash, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (*values, prev, mac(chain.key, prev, values)))


class Auth:
    """Accounts and sessions in the hub's database."""

    def __init__(self, db: Database | None, clock: Clock, *, path: str | None = None,
                 wall: Clock | None = None, session_idle: timedelta = SESSION_IDLE,
                 session_lifetime: timedelta = SESSION_LIFETIME, limit: int = 5,
                 window: timedelta = timedelta(minutes=15)) -> None:
        if db is None and path is None:
            raise ValueError("Auth needs an open database or a path to open one at")
        self._db = db
        self._path = path
        self.opened = False  # whether we opened the database (and so must close it)
        self.clock = clock  # the hub's: not used for anything security depends on
        # Lockout, session windows and audit times: real time, whatever the hub's clock does.
        self.wall: Clock = wall if wall is not None else RealClock()
        self.session_idle = session_idle
        self.session_lifetime = session_lifetime
        self.by_user = RateLimiter(self.wall, limit=limit, window=window)
        # Per client address: more generous, since a care home may sit behind one address.
        self.by_address = RateLimiter(self.wall, limit=limit * 4, window=window)
        self._ready = False
        self._lock = asyncio.Lock()
        self._chain: Chain | None = None
        # Told the user id whose sessions just ended (open live sockets stop at once).
        self.revoked: list[Callable[[int], None]] = []
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
            self._chain = await open_chain(self.db, DASHBOARD)
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
        return await create_user(self.db, now=self.wall.now(), **kwargs)

    async def create_first_admin(self, *, username: str, password: str,
                                 display_name: str | None = None) -> User:
        """The first admin (the setup page): exactly one, however many requests race for it;
        SetupDone for the others."""
        await self.ready()
        return await create_user(self.db, username=username, password=password, role="admin",
                                 display_name=display_name, now=self.wall.now(), first_admin=True)

    async def users(self, *, disabled: bool = True) -> list[User]:
        """Every account (disabled ones too unless `disabled=False`), by user name."""
        await self.ready()
        sql = "SELECT * FROM dashboard_users" + ("" if disabled else " WHERE disabled = 0")
        return [_user(r) for r in await self.db.fetchall(sql + " ORDER BY username")]

    async def user(self, username: str) -> User:
        """The account called `username`; AuthError if there is none."""
        await self.ready()
        row = await self.db.fetchone("SELECT * FROM dashboard_users WHERE username = ?", (username,))
        if row is None:
            raise AuthError("auth.no_user", username=username)
        return _user(row)

    async def sessions(self) -> dict[str, int]:
        """Open (unexpired) sessions per user name."""
        await self.ready()
        rows = await self.db.fetchall(
            "SELECT u.username, COUNT(*) AS n FROM dashboard_sessions s JOIN dashboard_users u "
            "ON u.id = s.user_id WHERE s.expires > ? GROUP BY u.username", (self.wall.now().isoformat(),))
        return {r["username"]: int(r["n"]) for r in rows}

    # -- account lifecycle (admin page and `huis accounts`) -------------------------------------

    async def _last_admin(self, conn: aiosqlite.Connection, user: User) -> bool:
        if user.role != "admin" or user.disabled:
            return False
        async with conn.execute("SELECT COUNT(*) AS n FROM dashboard_users WHERE role = 'admin' "
                                "AND disabled = 0") as cur:
            row = await cur.fetchone()
        return row is not None and int(row["n"]) <= 1

    async def set_disabled(self, username: str, disabled: bool, *, by: User | None) -> User:
        """Disable (ending every session at once) or enable an account. The last enabled admin
        cannot be disabled."""
        user = await self.user(username)
        async with self.db.transaction() as conn:
            if disabled and await self._last_admin(conn, user):
                raise AuthError("auth.last_admin")
            await conn.execute("UPDATE dashboard_users SET disabled = ? WHERE id = ?",
                               (int(disabled), user.id))
            if disabled:
                await conn.execute("DELETE FROM dashboard_sessions WHERE user_id = ?", (user.id,))
            await self._append(conn, by, "user_disabled" if disabled else "user_enabled", username)
        if disabled:
            self._tell_revoked(user.id)
        return await self.user(username)

    async def delete_user(self, username: str, *, by: User | None) -> None:
        """Delete an account and its sessions (the audit log keeps its name)."""
        user = await self.user(username)
        async with self.db.transaction() as conn:
            if await self._last_admin(conn, user):
                raise AuthError("auth.last_admin")
            await conn.execute("DELETE FROM dashboard_sessions WHERE user_id = ?", (user.id,))
            await conn.execute("DELETE FROM dashboard_users WHERE id = ?", (user.id,))
            await self._append(conn, by, "user_deleted", username)
        self._tell_revoked(user.id)

    async def reset_password(self, username: str, password: str, *, by: User | None) -> None:
        """Set a new password; every session of the account ends."""
        user = await self.user(username)
        check_password(password, user_inputs=[username])
        password_hash = hash_password(password)
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE dashboard_users SET password_hash = ?, password_changed = ? "
                               "WHERE id = ?", (password_hash, self.wall.now().isoformat(), user.id))
            await conn.execute("DELETE FROM dashboard_sessions WHERE user_id = ?", (user.id,))
            await self._append(conn, by, "password_reset", username)
        self._tell_revoked(user.id)

    async def revoke_sessions(self, username: str, *, by: User | None) -> int:
        """End every session of an account; how many there were."""
        user = await self.user(username)
        async with self.db.transaction() as conn:
            cur = await conn.execute("DELETE FROM dashboard_sessions WHERE user_id = ?", (user.id,))
            n = cur.rowcount
            await cur.close()
            await self._append(conn, by, "sessions_revoked", f"{username}: {n} session(s)")
        self._tell_revoked(user.id)
        return n

    def _tell_revoked(self, user_id: int) -> None:
        for listener in self.revoked:
            listener(user_id)

    # -- logging in and sessions ----------------------------------------------------------------

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
            # What was typed may be a password typed in the wrong field: only a known name is kept.
            known = row is not None or await self.db.fetchone(
                "SELECT 1 FROM dashboard_users WHERE username = ?", (username,)) is not None
            await self.audit(None, "login_failed",
                             detail=f"user {username!r} from {address}" if known
                             else f"unknown user name from {address}")
            return None
        self.by_user.clear(username.lower())
        if _hasher.check_needs_rehash(stored):
            await self.db.execute("UPDATE dashboard_users SET password_hash = ? WHERE id = ?",
                                  (hash_password(password), row["id"]))
        user = _user(row)
        token = secrets.token_urlsafe(32)
        now = self.wall.now()
        # Expired sessions are useless; drop them whenever a new one starts.
        await self.db.execute("DELETE FROM dashboard_sessions WHERE expires <= ? OR last_seen <= ?",
                              (now.isoformat(), (now - self.session_idle).isoformat()))
        await self.db.execute(
            "INSERT INTO dashboard_sessions (token_hash, user_id, created, expires, last_seen) "
            "VALUES (?, ?, ?, ?, ?)", (_hash_token(token), user.id, now.isoformat(),
                                       (now + self.session_lifetime).isoformat(), now.isoformat()))
        await self.audit(user, "login", detail=f"from {address}")
        return user, token

    async def session_user(self, token: str | None, *, touch: bool = True) -> User | None:
        """The user a session token belongs to, if the session is open: not expired, not idle
        for longer than `session_idle`, the account not disabled. `touch`: this is the user's
        own request (it keeps the session from going idle); a re-check of an open socket is not."""
        if not token:
            return None
        await self.ready()
        row = await self.db.fetchone(
            "SELECT u.*, s.expires, s.last_seen FROM dashboard_sessions s JOIN dashboard_users u "
            "ON u.id = s.user_id WHERE s.token_hash = ? AND u.disabled = 0", (_hash_token(token),))
        now = self.wall.now()
        if row is None or datetime.fromisoformat(row["expires"]) <= now:
            return None
        seen = datetime.fromisoformat(row["last_seen"]) if row["last_seen"] else now
        if now - seen >= self.session_idle:
            return None
        if touch and now - seen >= _SEEN_EVERY:
            await self.db.execute("UPDATE dashboard_sessions SET last_seen = ? WHERE token_hash = ?",
                                  (now.isoformat(), _hash_token(token)))
        return _user(row)

    async def logout(self, token: str | None) -> None:
        if token:
            await self.ready()
            await self.db.execute("DELETE FROM dashboard_sessions WHERE token_hash = ?",
                                  (_hash_token(token),))

    # -- the audit log --------------------------------------------------------------------------

    async def _append(self, conn: aiosqlite.Connection, user: User | None, action: str,
                      detail: str = "", resident: str | None = None) -> None:
        if self._chain is None:  # pragma: no cover - ready() opens it
            raise RuntimeError("the audit chain is opened by ready() first")
        await append_audit(conn, self._chain, time=self.wall.now(),
                           username=user.username if user else None,
                           role=user.role if user else None, action=action, resident=resident,
                           detail=detail)

    async def audit(self, user: User | None, action: str, *, resident: str | None = None,
                    detail: str = "") -> None:
        """Append one line to the audit log (who read or changed what, when)."""
        await self.ready()
        async with self.db.transaction() as conn:
            await self._append(conn, user, action, detail, resident)

    async def audit_many(self, user: User, action: str, residents: Iterable[str | None],
                         detail: str) -> None:
        """One line per resident whose data was read, in one transaction."""
        await self.ready()
        async with self.db.transaction() as conn:
            for resident in residents:
                await self._append(conn, user, action, detail, resident)

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
