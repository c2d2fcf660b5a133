"""Accounts, teams and sessions of the central dashboard, in the centre's PostgreSQL.

Roles: `caregiver` (a centre caregiver: the homes of their own teams only), `coordinator`
(every home) and `admin` (every home, and accounts). A home belongs to one team (`homes.team`,
kept by the core); a user to one or more (`centre_users.teams`).

The rules are the home dashboard's (dashboard/auth.py), and so are its functions: argon2id
hashes, no default password and no short or common one (`check_password`), a session is a random
token in an HttpOnly SameSite=Strict cookie of which only the SHA-256 is stored, it ends after
`SESSION_IDLE` without a request and `SESSION_LIFETIME` after login, logins are rate limited per
user name and per address. Accounts are made with `huis central user add`.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from psycopg import AsyncConnection
from psycopg.rows import DictRow
from psycopg_pool import AsyncConnectionPool

from controller.clock import Clock
from dashboard.auth import (
    SESSION_IDLE,
    SESSION_LIFETIME,
    AuthError,
    RateLimiter,
    check_password,
    hash_password,
)

ROLES = ("caregiver", "coordinator", "admin")
ALL_HOMES_ROLES = ("coordinator", "admin")
SESSION_COOKIE = "huis_central_session"  # not the hub's: a browser keeps cookies per host, not per port
_SEEN_EVERY = timedelta(minutes=1)
Conn = AsyncConnection[DictRow]
Pool = AsyncConnectionPool[Conn]
_SCHEMA_LOCK = 0x68756973  # pg_advisory_xact_lock key while creating the tables ("huis")

SCHEMA = """
CREATE TABLE IF NOT EXISTS centre_users (
    id BIGSERIAL PRIMARY KEY,
    username TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('caregiver', 'coordinator', 'admin')),
    display_name TEXT,
    teams TEXT[] NOT NULL DEFAULT '{}',
    created TIMESTAMPTZ NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT false,
    must_change BOOLEAN NOT NULL DEFAULT false
);
-- Tables made before one-time passwords existed.
ALTER TABLE centre_users ADD COLUMN IF NOT EXISTS must_change BOOLEAN NOT NULL DEFAULT false;
CREATE UNIQUE INDEX IF NOT EXISTS centre_users_name ON centre_users (lower(username));
CREATE TABLE IF NOT EXISTS centre_sessions (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES centre_users(id) ON DELETE CASCADE,
    created TIMESTAMPTZ NOT NULL,
    expires TIMESTAMPTZ NOT NULL,
    last_seen TIMESTAMPTZ NOT NULL
);
"""


class AccountError(AuthError):
    """An account could not be made or used: the catalogue text `msgid` (English as str, for the
    CLI; `text(lang)` for a page), a full sentence saying why."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CentreUser:
    """Someone logged in at the centre."""

    id: int
    username: str
    role: str
    display_name: str | None = None
    teams: tuple[str, ...] = ()
    disabled: bool = False
    must_change: bool = False  # logged in with a one-time password: must choose their own first

    @property
    def name(self) -> str:
        return self.display_name or self.username

    @property
    def all_homes(self) -> bool:
        """Whether this user sees every home (a coordinator or admin), not only their teams'."""
        return self.role in ALL_HOMES_ROLES

    def can_see(self, team: str | None) -> bool:
        """Whether this user may read the care data of a home of `team`."""
        return self.all_homes or (team is not None and team in self.teams)

    def as_dict(self) -> dict[str, Any]:
        return {"username": self.username, "role": self.role, "name": self.name,
                "teams": list(self.teams), "all_homes": self.all_homes, "must_change": self.must_change}


def _user(row: dict[str, Any]) -> CentreUser:
    return CentreUser(id=int(row["id"]), username=row["username"], role=row["role"],
                      display_name=row["display_name"], teams=tuple(row["teams"] or ()),
                      disabled=bool(row["disabled"]), must_change=bool(row["must_change"]))


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def one_time_password() -> str:
    """A password for an admin to hand over once: 16 random characters from an alphabet without
    look-alikes (no 0/O, 1/l/I), in groups of four so it can be read out; about 90 bits."""
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))


def validate_username(username: str) -> None:
    if not username or len(username) > 64 or not username.replace("_", "").replace(".", "") \
            .replace("-", "").isalnum():
        raise AccountError("auth.bad_username")


def validate_team(team: str) -> None:
    if not team or len(team) > 64 or not team.replace("_", "").replace("-", "").isalnum():
        raise AccountError("central.err_team", team=team)


async def migrate(conn: Conn) -> None:
    """Create the account tables (once; safe when several processes start together)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        await conn.execute(SCHEMA)


_hasher = PasswordHasher()


class Accounts:
    """The centre's accounts and sessions; `wall` is real time (never a simulation's clock)."""

    def __init__(self, pool: Pool, wall: Clock, *, limit: int = 5,
                 session_idle: timedelta = SESSION_IDLE,
                 session_lifetime: timedelta = SESSION_LIFETIME) -> None:
        self.pool = pool
        self.wall = wall
        self.session_idle = session_idle
        self.session_lifetime = session_lifetime
        self.by_user = RateLimiter(wall, limit=limit)
        # Per address more generous: a care organisation's office may sit behind one address.
        self.by_address = RateLimiter(wall, limit=limit * 4)
        self._dummy = hash_password(secrets.token_hex(16))  # a missing user costs as much time

    async def create_user(self, *, username: str, password: str, role: str, teams: Iterable[str] = (),
                          display_name: str | None = None, one_time: bool = False) -> CentreUser:
        """A new account; AccountError saying why when it cannot be made. With `one_time`, the
        password only lets them choose their own."""
        validate_username(username)
        if role not in ROLES:
            raise AccountError("central.err_no_role", role=role, roles=", ".join(ROLES))
        team_list = sorted(set(teams))
        for team in team_list:
            validate_team(team)
        if role == "caregiver" and not team_list:
            raise AccountError("central.err_needs_team")
        check_password(password, user_inputs=[username])  # AuthError saying why
        password_hash = hash_password(password)
        async with self.pool.connection() as conn:
            await migrate(conn)
            cur = await conn.execute(
                "INSERT INTO centre_users (username, password_hash, role, display_name, teams, created, must_change) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING *",
                (username, password_hash, role, display_name, team_list, self.wall.now(), one_time))
            row = await cur.fetchone()
        if row is None:
            raise AccountError("auth.user_exists", username=username)
        return _user(row)

    async def users(self) -> list[CentreUser]:
        async with self.pool.connection() as conn:
            await migrate(conn)
            cur = await conn.execute("SELECT * FROM centre_users ORDER BY lower(username)")
            return [_user(r) for r in await cur.fetchall()]

    async def set_disabled(self, username: str, disabled: bool) -> CentreUser:
        """Disable an account (its sessions end at once) or enable it again."""
        async with self.pool.connection() as conn:
            cur = await conn.execute("UPDATE centre_users SET disabled = %s WHERE lower(username) = lower(%s) "
                                     "RETURNING *", (disabled, username))
            row = await cur.fetchone()
            if row is not None and disabled:
                await conn.execute("DELETE FROM centre_sessions WHERE user_id = %s", (row["id"],))
        if row is None:
            raise AccountError("auth.no_user", username=username)
        return _user(row)

    async def reset_password(self, username: str) -> tuple[CentreUser, str]:
        """Give an account a new generated one-time password (returned once, stored only as its
        hash; it only lets them choose their own); its sessions end at once."""
        password = one_time_password()
        password_hash = await asyncio.to_thread(hash_password, password)
        async with self.pool.connection() as conn:
            cur = await conn.execute("UPDATE centre_users SET password_hash = %s, must_change = true "
                                     "WHERE lower(username) = lower(%s) RETURNING *", (password_hash, username))
            row = await cur.fetchone()
            if row is not None:
                await conn.execute("DELETE FROM centre_sessions WHERE user_id = %s", (row["id"],))
        if row is None:
            raise AccountError("auth.no_user", username=username)
        return _user(row), password

    async def change_password(self, user: CentreUser, current: str, new: str, *, keep: str | None) -> CentreUser:
        """Their own password instead of the current one (a one-time one, or their old one); their
        sessions but `keep` (the one asking) end. AccountError when `current` is wrong, or `new`
        too weak or the same."""
        async with self.pool.connection() as conn:
            cur = await conn.execute("SELECT password_hash FROM centre_users WHERE id = %s", (user.id,))
            row = await cur.fetchone()
            try:
                ok = row is not None and await asyncio.to_thread(_hasher.verify, row["password_hash"], current)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                ok = False
            if not ok:
                raise AccountError("central.err_current")
            if new == current:
                raise AccountError("central.password_same")
            check_password(new, user_inputs=[user.username, user.display_name or ""])
            password_hash = await asyncio.to_thread(hash_password, new)
            cur = await conn.execute("UPDATE centre_users SET password_hash = %s, must_change = false "
                                     "WHERE id = %s RETURNING *", (password_hash, user.id))
            changed = await cur.fetchone()
            await conn.execute("DELETE FROM centre_sessions WHERE user_id = %s AND token_hash <> %s",
                               (user.id, _hash_token(keep or "")))
        if changed is None:  # removed meanwhile (there is no removal yet; the SQL allows it)
            raise AccountError("auth.no_user", username=user.username)
        return _user(changed)

    async def sessions(self) -> dict[str, int]:
        """Open sessions per user name (expired and idle ones left out)."""
        now = self.wall.now()
        async with self.pool.connection() as conn:
            await migrate(conn)
            cur = await conn.execute("SELECT u.username, count(*) AS n FROM centre_sessions s JOIN centre_users u "
                                     "ON u.id = s.user_id WHERE s.expires > %s AND s.last_seen > %s "
                                     "GROUP BY u.username", (now, now - self.session_idle))
            return {r["username"]: int(r["n"]) for r in await cur.fetchall()}

    def login_blocked(self, username: str, address: str) -> float:
        """Seconds before this user name or address may try again (0: go ahead)."""
        return max(self.by_user.retry_after(username.lower()), self.by_address.retry_after(address))

    async def login(self, username: str, password: str, address: str) -> tuple[CentreUser, str] | None:
        """The user and a new session token, or None for a wrong name or password."""
        async with self.pool.connection() as conn:
            cur = await conn.execute("SELECT * FROM centre_users WHERE lower(username) = lower(%s) "
                                     "AND NOT disabled", (username,))
            row = await cur.fetchone()
            stored = row["password_hash"] if row is not None else self._dummy
            try:
                # argon2 is slow on purpose: off the event loop, so other nurses' pages keep updating.
                ok = await asyncio.to_thread(_hasher.verify, stored, password) and row is not None
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                ok = False
            if not ok or row is None:
                self.by_user.fail(username.lower())
                self.by_address.fail(address)
                return None
            self.by_user.clear(username.lower())
            token = secrets.token_urlsafe(32)
            now = self.wall.now()
            await conn.execute("DELETE FROM centre_sessions WHERE expires <= %s OR last_seen <= %s",
                               (now, now - self.session_idle))
            await conn.execute("INSERT INTO centre_sessions (token_hash, user_id, created, expires, last_seen) "
                               "VALUES (%s, %s, %s, %s, %s)",
                               (_hash_token(token), row["id"], now, now + self.session_lifetime, now))
        return _user(row), token

    async def known(self, username: str) -> bool:
        """Whether an account of this name exists (what the audit may say of a failed login)."""
        async with self.pool.connection() as conn:
            cur = await conn.execute("SELECT 1 FROM centre_users WHERE lower(username) = lower(%s)",
                                     (username,))
            return await cur.fetchone() is not None

    async def session_user(self, token: str | None) -> CentreUser | None:
        """The user of an open session: not expired, not idle too long, account not disabled."""
        if not token:
            return None
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT u.*, s.expires, s.last_seen FROM centre_sessions s JOIN centre_users u "
                "ON u.id = s.user_id WHERE s.token_hash = %s AND NOT u.disabled", (_hash_token(token),))
            row = await cur.fetchone()
            now = self.wall.now()
            if row is None or row["expires"] <= now or now - row["last_seen"] >= self.session_idle:
                return None
            if now - row["last_seen"] >= _SEEN_EVERY:
                await conn.execute("UPDATE centre_sessions SET last_seen = %s WHERE token_hash = %s",
                                   (now, _hash_token(token)))
        return _user(row)

    async def logout(self, token: str | None) -> None:
        if token:
            async with self.pool.connection() as conn:
                await conn.execute("DELETE FROM centre_sessions WHERE token_hash = %s", (_hash_token(token),))
