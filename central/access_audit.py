"""Who read or did what at the central dashboard: an append-only, HMAC-chained table in PostgreSQL.

The same chain as the hub's audit logs (controller/audit.py, whose `mac` and `GENESIS` it uses):
each row carries `prev_hash` and `hash = HMAC(key, prev_hash, its fields)`. Triggers refuse
UPDATE, DELETE and TRUNCATE, so the service (and any bug in it) can only append; someone with
the database but without the key who drops the triggers and edits, inserts or removes a row
cannot make the chain add up again, and `verify` names the first row that fails. The key is a
0600 file of the centre's (`keyfile.load_key`), its fingerprint kept in `centre_audit_chain` so a
service started with another key refuses to write.

A row names the homes whose care data was read (`homes`, an array: one overview of 200 homes is
one row, and "who read home X" is `WHERE 'X' = ANY(homes)`). The same read by the same user within
`REPEAT_WINDOW` (a page that refreshes itself every few seconds) is written once, as the hub's
dashboard does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from central.accounts import CentreUser, Conn, Pool
from controller import keyfile
from controller.audit import GENESIS, key_id, mac
from controller.clock import Clock
from controller.errors import HuisError
from dashboard.security import REPEAT_WINDOW

_LOCK = 0x61756474  # pg_advisory_xact_lock key of the chain's head ("audt")
_REMEMBERED_READS = 5000

SCHEMA = """
CREATE TABLE IF NOT EXISTS centre_audit (
    seq BIGSERIAL PRIMARY KEY,
    time TIMESTAMPTZ NOT NULL,
    username TEXT,
    role TEXT,
    action TEXT NOT NULL,
    homes TEXT[] NOT NULL DEFAULT '{}',
    detail TEXT NOT NULL DEFAULT '',
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS centre_audit_time ON centre_audit (time);
CREATE INDEX IF NOT EXISTS centre_audit_homes ON centre_audit USING GIN (homes);
CREATE TABLE IF NOT EXISTS centre_audit_chain (
    name TEXT PRIMARY KEY,
    key_id TEXT NOT NULL
);
CREATE OR REPLACE FUNCTION centre_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END $$;

CREATE OR REPLACE TRIGGER centre_audit_no_change BEFORE UPDATE OR DELETE ON centre_audit
    FOR EACH ROW EXECUTE FUNCTION centre_audit_append_only();

CREATE OR REPLACE TRIGGER centre_audit_no_truncate BEFORE TRUNCATE ON centre_audit
    FOR EACH STATEMENT EXECUTE FUNCTION centre_audit_append_only();

CREATE OR REPLACE TRIGGER centre_audit_chain_no_change BEFORE UPDATE OR DELETE ON centre_audit_chain
    FOR EACH ROW EXECUTE FUNCTION centre_audit_append_only();
"""
FIELDS = ("time", "username", "role", "action", "homes", "detail")


def _values(time: datetime, username: str | None, role: str | None, action: str,
            homes: Sequence[str], detail: str) -> list[object]:
    # What the MAC covers, as text: the time in UTC ISO form (PostgreSQL keeps microseconds),
    # the homes joined by commas (a home id holds no comma).
    return [time.astimezone(UTC).isoformat(), username, role, action, ",".join(homes), detail]


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """What `verify` found."""

    rows: int
    bad: int | None = None  # the first row that fails, by seq
    problem: Literal["removed", "edited"] | None = None  # what is wrong with it
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.bad is None and not self.reason


@dataclass(slots=True)
class AccessAudit:
    """The central dashboard's audit log; `open()` before the first `append`."""

    pool: Pool
    key_file: Path
    wall: Clock
    key: bytes = b""
    _recent: dict[tuple[str, str], datetime] = field(default_factory=dict)

    async def open(self, *, create: bool = True) -> None:
        """Create the tables and triggers, load (or make, with `create`) the key, and check it
        is the chain's."""
        self.key = keyfile.load_key(self.key_file, what="centre audit key", create=create,
                                    missing="the audit chain cannot be checked without the key it was written with.")
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
            await conn.execute(SCHEMA)
            await conn.execute("INSERT INTO centre_audit_chain (name, key_id) VALUES ('centre_audit', %s) "
                               "ON CONFLICT DO NOTHING", (key_id(self.key),))
            cur = await conn.execute("SELECT key_id FROM centre_audit_chain WHERE name = 'centre_audit'")
            row = await cur.fetchone()
        if row is None or row["key_id"] != key_id(self.key):
            raise HuisError(f"centre_audit: the audit chain was started with another key than {self.key_file}; "
                            "restore that key.")

    async def append(self, user: CentreUser | None, action: str, *, homes: Sequence[str] = (),
                     detail: str = "", username: str | None = None) -> None:
        """One row, chained to the row before (under a lock, so two services cannot fork it)."""
        if not self.key:
            raise RuntimeError("AccessAudit.open() first")
        async with self.pool.connection() as conn, conn.transaction():
            await _append(conn, self.key, time=self.wall.now(),
                          username=user.username if user else username, role=user.role if user else None,
                          action=action, homes=sorted(set(homes)), detail=detail)

    async def read(self, user: CentreUser, what: str, homes: Sequence[str]) -> None:
        """Audit a read of `homes`' care data; the same read within REPEAT_WINDOW is one row."""
        now = self.wall.now()
        key = (user.username, what + "|" + ",".join(sorted(homes)))
        last = self._recent.get(key)
        if last is not None and now - last < REPEAT_WINDOW:
            return
        if len(self._recent) >= _REMEMBERED_READS:
            self._recent.clear()
        self._recent[key] = now
        await self.append(user, "read", homes=homes, detail=what)

    async def rows(self, *, home: str | None = None, username: str | None = None,
                   since: datetime | None = None, until: datetime | None = None,
                   before: int | None = None, limit: int = 200) -> list[dict[str, object]]:
        """Rows newest first, filtered: of one home's reads, by one user (any case), within
        [since, until), with a seq below `before` (the next page of a paged view)."""
        where: list[str] = ["true"]
        args: list[object] = []
        for clause, value in (("%s = ANY(homes)", home), ("lower(username) = lower(%s)", username),
                              ("time >= %s", since), ("time < %s", until), ("seq < %s", before)):
            if value is not None:
                where.append(clause)
                args.append(value)
        async with self.pool.connection() as conn:
            cur = await conn.execute(f"SELECT * FROM centre_audit WHERE {' AND '.join(where)} "
                                     "ORDER BY seq DESC LIMIT %s", (*args, limit))
            return [dict(r) for r in await cur.fetchall()]

    async def verify(self) -> Verdict:
        """Recompute the chain from the first row; the verdict names the first row that fails."""
        prev, n, last = GENESIS, 0, 0
        async with self.pool.connection() as conn:
            while True:
                cur = await conn.execute("SELECT * FROM centre_audit WHERE seq > %s ORDER BY seq LIMIT 1000",
                                         (last,))
                page = await cur.fetchall()
                if not page:
                    return Verdict(rows=n)
                for r in page:
                    n, last = n + 1, int(r["seq"])
                    values = _values(r["time"], r["username"], r["role"], r["action"], r["homes"], r["detail"])
                    if r["prev_hash"] != prev:
                        return Verdict(rows=n, bad=last, problem="removed",
                                       reason="its prev_hash is not the hash of the row before: "
                                              "a row was removed or inserted")
                    if r["hash"] != mac(self.key, prev, values):
                        return Verdict(rows=n, bad=last, problem="edited",
                                       reason="its contents do not match its hash: the row was edited")
                    prev = r["hash"]


async def _append(conn: Conn, key: bytes, *, time: datetime, username: str | None, role: str | None,
                  action: str, homes: list[str], detail: str) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
    cur = await conn.execute("SELECT hash FROM centre_audit ORDER BY seq DESC LIMIT 1")
    last = await cur.fetchone()
    prev = str(last["hash"]) if last is not None else GENESIS
    digest = mac(key, prev, _values(time, username, role, action, homes, detail))
    await conn.execute("INSERT INTO centre_audit (time, username, role, action, homes, detail, prev_hash, hash) "
                       "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                       (time, username, role, action, homes, detail, prev, digest))
