"""Tamper-evident audit tables: append-only in SQLite, and a keyed (HMAC-SHA256) chain over them.

Two tables use this: the alert audit log (`alert_audit`, controller/alerts/store.py) and the
dashboard's who-read-what log (`dashboard_audit`, dashboard/auth.py). For each:

- triggers refuse UPDATE and DELETE, so the hub itself (and any bug in it) can only append;
- each row carries `prev_hash` and `hash = HMAC(key, prev_hash, its fields)`. Someone with the
  file but without the key (a stolen SD card, a backup) who drops the triggers and edits, inserts
  or removes a row cannot make the chain add up again; `verify` names the first row that fails;
- the key lives in `audit.key` next to the database, created (mode 0600) on first start; keep a
  copy elsewhere if the audit must survive a lost SD card;
- `head` is the last row's sequence number and hash: exported off the box (`huis audit head`),
  it also catches rows cut off the end, which a chain alone cannot.

Older databases had an unkeyed SHA-256 chain (alerts) or no chain (dashboard). On first open
their rows are left as they are and a marker row in `audit_chains` (itself append-only and
MACed) records where the keyed chain starts; `verify` reports the older part as what it is.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from controller import keyfile
from controller.errors import HuisError
from controller.store import Database

log = logging.getLogger(__name__)

GENESIS = "0" * 64
KEY_FILE_NAME = "audit.key"
KEY_BYTES = 32
_SEP = "\x1f"
_PAGE = 1000

# Created with IF NOT EXISTS in the same transaction as the triggers and the marker (one commit).
_MARKERS = """
    CREATE TABLE IF NOT EXISTS audit_chains (
        name TEXT PRIMARY KEY,
        keyed_from INTEGER NOT NULL,
        anchor TEXT NOT NULL,
        legacy TEXT NOT NULL,
        key_id TEXT NOT NULL,
        mac TEXT NOT NULL
    )"""


def append_only_triggers(table: str) -> list[str]:
    """Triggers refusing UPDATE and DELETE on `table` (created with IF NOT EXISTS)."""
    return [f"CREATE TRIGGER IF NOT EXISTS {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            for verb in ("UPDATE", "DELETE")]


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainSpec:
    """Which table a chain covers: its sequence column and the columns each link covers."""

    table: str
    seq: str
    fields: tuple[str, ...]
    # What older versions wrote: "sha256" (an unkeyed chain over the same fields) or "none".
    legacy: str = "none"


ALERTS = ChainSpec(table="alert_audit", seq="seq", legacy="sha256",
                   fields=("time", "alert_id", "event", "resident", "user", "channel", "detail"))
DASHBOARD = ChainSpec(table="dashboard_audit", seq="id",
                      fields=("time", "username", "role", "action", "resident", "detail"))
SPECS = (ALERTS, DASHBOARD)


def _text(value: object) -> str:
    return "" if value is None else str(value)


def mac(key: bytes, prev: str, values: Sequence[object]) -> str:
    """The keyed link of one row."""
    msg = _SEP.join([prev, *(_text(v) for v in values)]).encode("utf-8")
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def legacy_sha(prev: str, values: Sequence[object]) -> str:
    """The unkeyed SHA-256 link older versions wrote for the alert audit log."""
    return hashlib.sha256(_SEP.join([prev, *(_text(v) for v in values)]).encode("utf-8")).hexdigest()


def key_id(key: bytes) -> str:
    """A short fingerprint of the key (says which key a chain was started with, not the key)."""
    return hashlib.sha256(b"huis-audit-key-id." + key).hexdigest()[:16]


def key_path(db_path: str | Path) -> Path | None:
    """Where the audit key of the database at `db_path` lives (None for `:memory:`)."""
    return None if str(db_path) == ":memory:" else Path(db_path).parent / KEY_FILE_NAME


_MEMORY_KEY = secrets.token_bytes(KEY_BYTES)  # an in-memory database lives no longer than this


def load_key(db_path: str | Path, *, create: bool = True) -> bytes:
    """The audit key for the database at `db_path`, created (mode 0600) on first start.

    Raises HuisError when it is missing (and not to be created) or unreadable.
    """
    path = key_path(db_path)
    if path is None:
        return _MEMORY_KEY
    return keyfile.load_key(path, what="audit key", create=create,
                            missing="the audit chain cannot be checked without the key it was written with.")


@dataclass(frozen=True, slots=True, kw_only=True)
class Marker:
    """Where a table's keyed chain starts, and what came before it."""

    keyed_from: int  # first sequence number in the keyed chain
    anchor: str  # the prev_hash of that first keyed row
    legacy: str  # what the rows before it are: "none", "unchained" or "sha256"
    key_id: str
    mac: str

    def expected_mac(self, key: bytes, name: str) -> str:
        return mac(key, "marker", [name, self.keyed_from, self.anchor, self.legacy, self.key_id])


@dataclass(slots=True)
class Chain:
    """One table's keyed chain as the writer holds it: the key and the hash of the last row."""

    spec: ChainSpec
    key: bytes
    last: str = GENESIS

    def link(self, values: Sequence[object]) -> tuple[str, str]:
        """(prev_hash, hash) for the next row with `values` (in spec.fields order); advances."""
        prev = self.last
        self.last = mac(self.key, prev, values)
        return prev, self.last


async def _marker(db: Database, name: str) -> Marker | None:
    try:
        row = await db.fetchone("SELECT * FROM audit_chains WHERE name = ?", (name,))
    except sqlite3.OperationalError:  # no audit_chains table: no hub of this version ran here
        return None
    if row is None:
        return None
    return Marker(keyed_from=int(row["keyed_from"]), anchor=row["anchor"], legacy=row["legacy"],
                  key_id=row["key_id"], mac=row["mac"])


async def open_chain(db: Database, spec: ChainSpec, key: bytes | None = None) -> Chain:
    """Make `spec.table` append-only, record where its keyed chain starts (first time), and
    return the chain at its head. The table must exist with `prev_hash` and `hash` columns.

    Raises HuisError when the chain was started with another key.
    """
    key = key if key is not None else load_key(db.path)
    async with db.transaction() as conn:
        await conn.execute(_MARKERS)
        for sql in (*append_only_triggers(spec.table), *append_only_triggers("audit_chains")):
            await conn.execute(sql)
        async with conn.execute("SELECT 1 FROM audit_chains WHERE name = ?", (spec.table,)) as cur:
            known = await cur.fetchone() is not None
        if not known:
            async with conn.execute(f"SELECT {spec.seq} AS seq, hash FROM {spec.table} "
                                    f"ORDER BY {spec.seq} DESC LIMIT 1") as cur:
                last = await cur.fetchone()
            if last is None:
                legacy, keyed_from, anchor = "none", 1, GENESIS
            elif spec.legacy == "sha256" and last["hash"]:
                legacy, keyed_from, anchor = "sha256", int(last["seq"]) + 1, str(last["hash"])
            else:
                legacy, keyed_from, anchor = "unchained", int(last["seq"]) + 1, GENESIS
            m = Marker(keyed_from=keyed_from, anchor=anchor, legacy=legacy, key_id=key_id(key), mac="")
            await conn.execute(
                "INSERT INTO audit_chains (name, keyed_from, anchor, legacy, key_id, mac) "
                "VALUES (?, ?, ?, ?, ?, ?)", (spec.table, keyed_from, anchor, legacy, m.key_id,
                                              m.expected_mac(key, spec.table)))
            if legacy != "none":
                log.warning("%s: %d older row(s) kept as they are (%s); the keyed chain starts at %d",
                            spec.table, keyed_from - 1, legacy, keyed_from)
    marker = await _marker(db, spec.table)
    if marker is None:  # pragma: no cover - inserted above
        raise HuisError(f"{spec.table}: the audit chain marker is missing")
    if marker.key_id != key_id(key):
        raise HuisError(f"{spec.table}: the audit chain was started with another key than "
                        f"{key_path(db.path)}; restore that key (or move the database aside).")
    row = await db.fetchone(f"SELECT hash FROM {spec.table} WHERE {spec.seq} >= ? "
                            f"ORDER BY {spec.seq} DESC LIMIT 1", (marker.keyed_from,))
    return Chain(spec=spec, key=key, last=str(row["hash"]) if row else marker.anchor)


@dataclass(slots=True, kw_only=True)
class Verdict:
    """What `verify` found in one table."""

    table: str
    rows: int = 0
    legacy: str = "none"
    keyed_from: int | None = None
    bad: int | None = None  # the first row that fails, by sequence number
    reason: str = ""
    head_seq: int | None = None
    head_hash: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.bad is None and not self.reason

    def lines(self) -> list[str]:
        """What `huis audit verify` prints for this table."""
        out = [f"{self.table}: {self.rows} row(s)"]
        out += [f"  {n}" for n in self.notes]
        if self.bad is not None:
            out.append(f"  FIRST BAD ROW: {self.bad}: {self.reason}")
        elif self.reason:
            out.append(f"  NOT VERIFIED: {self.reason}")
        elif self.head_seq is not None:
            out.append(f"  chain intact up to row {self.head_seq} (hash {self.head_hash})")
        elif self.keyed_from is not None:
            out.append("  chain intact (no keyed rows yet)")
        return out


async def _rows(db: Database, spec: ChainSpec, after: int) -> list[dict[str, object]]:
    cols = ", ".join([spec.seq, *spec.fields, "prev_hash", "hash"])
    rows = await db.fetchall(f"SELECT {cols} FROM {spec.table} WHERE {spec.seq} > ? "
                             f"ORDER BY {spec.seq} LIMIT {_PAGE}", (after,))
    return [dict(r) for r in rows]


async def _unmarked(db: Database, spec: ChainSpec, v: Verdict) -> Verdict:
    """The verdict on a table without a chain marker: fine while it has no rows."""
    try:
        row = await db.fetchone(f"SELECT COUNT(*) AS n FROM {spec.table}")
    except sqlite3.OperationalError:  # the table does not exist: nothing was ever logged
        row = None
    if row is None or not row["n"]:
        v.notes.append("no rows yet, and so no chain")
        return v
    v.rows = int(row["n"])
    v.reason = "no keyed chain was started in this database (no hub of this version has run on it)"
    return v


@dataclass(slots=True)
class _Walk:
    """Where a verification stands while it reads the rows in order."""

    marker: Marker
    key: bytes
    legacy_prev: str = GENESIS
    prev: str = GENESIS

    def check(self, seq: int, r: dict[str, object], values: list[object]) -> str | None:
        """Why row `seq` does not fit, or None."""
        m = self.marker
        if seq < m.keyed_from:
            if m.legacy != "sha256":
                return None
            digest = legacy_sha(self.legacy_prev, values)
            if r["prev_hash"] != self.legacy_prev or r["hash"] != digest:
                return "the older, unkeyed chain breaks here"
            self.legacy_prev = digest
            return None
        if seq == m.keyed_from and m.legacy == "sha256" and self.legacy_prev != m.anchor:
            return "the older chain does not end where the keyed chain begins"
        if r["prev_hash"] != self.prev:
            return "its prev_hash is not the hash of the row before: a row was removed or inserted"
        if r["hash"] != mac(self.key, self.prev, values):
            return "its contents do not match its hash: the row was edited"
        self.prev = str(r["hash"])
        return None


def _notes(marker: Marker) -> list[str]:
    older = marker.keyed_from - 1
    notes = []
    if marker.legacy == "sha256":
        notes.append(f"rows 1-{older}: written before the keyed chain, with an unkeyed SHA-256 chain "
                     "(intact, but someone with the file could have rewritten it)")
    elif marker.legacy == "unchained":
        notes.append(f"rows 1-{older}: written by an older version without any chain (not verifiable)")
    notes.append(f"keyed (HMAC-SHA256) chain from row {marker.keyed_from}")
    return notes


async def verify(db: Database, spec: ChainSpec, key: bytes) -> Verdict:
    """Recompute `spec.table`'s chain; the verdict names the first row that does not fit."""
    v = Verdict(table=spec.table)
    marker = await _marker(db, spec.table)
    if marker is None:
        return await _unmarked(db, spec, v)
    if marker.mac != marker.expected_mac(key, spec.table) or marker.key_id != key_id(key):
        v.reason = ("the chain's start marker does not match this key: the marker was edited, "
                    "or this is not the key the chain was written with")
        return v
    v.legacy, v.keyed_from = marker.legacy, marker.keyed_from
    walk = _Walk(marker=marker, key=key, prev=marker.anchor)
    last = 0
    while rows := await _rows(db, spec, last):
        for r in rows:
            last, v.rows = int(str(r[spec.seq])), v.rows + 1
            problem = walk.check(last, r, [r[f] for f in spec.fields])
            if problem is not None:
                v.bad, v.reason = last, problem
                return v
            if last >= marker.keyed_from:
                v.head_seq, v.head_hash = last, walk.prev
    v.notes += _notes(marker)
    return v


async def head(db: Database, spec: ChainSpec) -> dict[str, object]:
    """The last row of `spec.table`'s chain: export it, and `verify_head` later proves that
    nothing up to it was cut off."""
    row = await db.fetchone(f"SELECT {spec.seq} AS seq, time, hash FROM {spec.table} "
                            f"ORDER BY {spec.seq} DESC LIMIT 1")
    marker = await _marker(db, spec.table)
    return {"table": spec.table, "seq": int(row["seq"]) if row else 0,
            "time": row["time"] if row else None, "hash": row["hash"] if row else GENESIS,
            "key_id": marker.key_id if marker else None}


async def verify_head(db: Database, spec: ChainSpec, exported: dict[str, object]) -> str | None:
    """None if the exported head is still in the table unchanged; else what is wrong."""
    seq = exported.get("seq")
    if not isinstance(seq, int) or seq == 0:
        return None
    row = await db.fetchone(f"SELECT hash FROM {spec.table} WHERE {spec.seq} = ?", (seq,))
    if row is None:
        return f"row {seq} of the exported head is gone: rows were cut off the end"
    if row["hash"] != exported.get("hash"):
        return f"row {seq} no longer has the exported hash: the chain was rewritten up to it"
    return None
