"""The hub's SQLite file held in memory while the disk refuses writes, and written back after.

When the disk is full or read-only (controller/store.py decides which errors mean that), the
file's writer moves to an in-memory copy: the schema, and the rows of every table except those
whose component keeps its own unwritten rows (the history). Alerts, the engine's state and the
dashboard's accounts go on being read and written there, so paging, acknowledging and signing
in keep working. Temporary triggers note every row that changed; once the file takes writes
again, those rows (and the deletions) are copied back in one transaction, keeping their rowids,
so ids handed out meanwhile (deliveries, audit sequence numbers) stay what they were.

The functions here are synchronous and run on the memory connection's own thread (aiosqlite):
the copy in the connector that opens it, the write-back as one call.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Collection
from dataclasses import dataclass

# How much the memory copy may grow beyond what was copied, in bytes. Past this, writes fail
# with "database or disk is full", as they did on the disk (the history keeps its own bound).
MAX_HELD_BYTES = 64 * 1024 * 1024
_CHANGES = "temp.held_changes"


@dataclass(frozen=True, slots=True, kw_only=True)
class Copied:
    """What went into memory."""

    tables: int
    rows: int
    pages: int
    from_file: bool  # False: the file could not be read; memory started empty


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _columns(conn: sqlite3.Connection, schema: str, table: str) -> list[str]:
    """The table's columns, leaving out an INTEGER PRIMARY KEY (it is the rowid itself)."""
    info = list(conn.execute(f"PRAGMA {schema}.table_info({_quote(table)})"))
    pks = [r for r in info if r[5]]
    alias = pks[0][1] if len(pks) == 1 and str(pks[0][2]).upper() == "INTEGER" else None
    return [r[1] for r in info if r[1] != alias]


def _row_list(cols: list[str]) -> str:
    return ", ".join(["rowid", *(_quote(c) for c in cols)])


def _attach(conn: sqlite3.Connection, path: str, *, read_only: bool) -> None:
    mode = "?mode=ro" if read_only else ""
    conn.execute("ATTACH DATABASE ? AS disk", (f"file:{path}{mode}",))


def _attach_readable(conn: sqlite3.Connection, path: str) -> bool:
    # A read-only mount with no -shm file left cannot be read in WAL mode the ordinary way;
    # `immutable` reads the file as it is (a clean shutdown checkpointed the WAL into it).
    for query in ("?mode=ro", "?immutable=1"):
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ATTACH DATABASE ? AS disk", (f"file:{path}{query}",))
            try:
                conn.execute("SELECT count(*) FROM disk.sqlite_master").fetchone()
                return True
            except sqlite3.Error:
                conn.execute("DETACH DATABASE disk")
    return False


def copy_of(path: str, skip_rows: Collection[str]) -> tuple[sqlite3.Connection, Copied]:
    """A memory database holding the file's schema and rows (but `skip_rows` tables' rows),
    change tracking on; an empty one when the file cannot be read at all."""
    conn = sqlite3.connect(":memory:", isolation_level=None, uri=True, check_same_thread=False)
    tables = rows = 0
    from_file = _attach_readable(conn, path)
    if from_file:
        tables, rows = _copy(conn, skip_rows)
        conn.execute("DETACH DATABASE disk")
    pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
    size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    conn.execute(f"PRAGMA max_page_count={pages + MAX_HELD_BYTES // size}")
    conn.execute("PRAGMA foreign_keys=ON")
    track(conn)
    return conn, Copied(tables=tables, rows=rows, pages=pages, from_file=from_file)


def _copy(conn: sqlite3.Connection, skip_rows: Collection[str]) -> tuple[int, int]:
    objects = list(conn.execute(
        "SELECT type, name, sql FROM disk.sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"
        " ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 ELSE 2 END"))
    conn.execute("BEGIN")
    rows = 0
    names = [name for kind, name, _ in objects if kind == "table"]
    for _, _, sql in objects:
        conn.execute(sql)
    for name in names:
        if name in skip_rows:
            continue
        cols = _row_list(_columns(conn, "main", name))
        cur = conn.execute(f"INSERT INTO main.{_quote(name)} ({cols}) SELECT {cols} FROM disk.{_quote(name)}")
        rows += max(cur.rowcount, 0)
    has_sequence = conn.execute(
        "SELECT 1 FROM disk.sqlite_master WHERE name = 'sqlite_sequence'").fetchone()
    if has_sequence and conn.execute("SELECT 1 FROM main.sqlite_master WHERE name = 'sqlite_sequence'").fetchone():
        conn.execute("DELETE FROM main.sqlite_sequence")
        conn.execute("INSERT INTO main.sqlite_sequence SELECT * FROM disk.sqlite_sequence")
    conn.execute("COMMIT")
    return len(names), rows


def track(conn: sqlite3.Connection) -> None:
    """Note every row inserted, updated or deleted in main's tables (also tables made later:
    call again after a migration)."""
    conn.execute(f"CREATE TABLE IF NOT EXISTS {_CHANGES} (tbl TEXT NOT NULL, rid INTEGER NOT NULL,"
                 " PRIMARY KEY (tbl, rid)) WITHOUT ROWID")
    for (name,) in list(conn.execute(
            "SELECT name FROM main.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")):
        q, lit = _quote(name), name.replace("'", "''")
        for event, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
            trigger = _quote(f"held_{event.lower()}_{name}")
            conn.execute(f"CREATE TEMP TRIGGER IF NOT EXISTS {trigger} AFTER {event} ON main.{q} BEGIN "
                         f"INSERT OR IGNORE INTO held_changes (tbl, rid) VALUES ('{lit}', {row}.rowid); END")


def changes(conn: sqlite3.Connection) -> int:
    """Rows changed in memory and not yet written back."""
    return int(conn.execute(f"SELECT count(*) FROM {_CHANGES}").fetchone()[0])


def write_back(conn: sqlite3.Connection, path: str, busy_timeout: float) -> int:
    """Copy every changed row (and deletion) to the file in one transaction; returns how many.

    Raises sqlite3.Error if the file still refuses; then nothing was written and memory is as it was.
    """
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
    # Off for the copy: a REPLACE of a parent row would otherwise trip its children's keys
    # halfway; the rows come from a database that enforced them.
    conn.execute("PRAGMA foreign_keys=OFF")
    _attach(conn, path, read_only=False)
    try:
        conn.execute("PRAGMA disk.synchronous=FULL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            n = _write_changes(conn)
            conn.execute(f"DELETE FROM {_CHANGES}")
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
    finally:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("DETACH DATABASE disk")
        conn.execute("PRAGMA foreign_keys=ON")
    return n


def _write_changes(conn: sqlite3.Connection) -> int:
    total = 0
    on_disk = {name for (name,) in conn.execute("SELECT name FROM disk.sqlite_master WHERE type = 'table'")}
    for (name,) in list(conn.execute(f"SELECT DISTINCT tbl FROM {_CHANGES}")):
        q, changed = _quote(name), f"(SELECT rid FROM {_CHANGES} WHERE tbl = ?)"
        if name not in on_disk:  # made in memory (a first migration while the file was unreadable)
            sql = conn.execute("SELECT sql FROM main.sqlite_master WHERE name = ?", (name,)).fetchone()[0]
            conn.execute(sql.replace("CREATE TABLE", "CREATE TABLE disk.", 1).replace("disk. ", "disk.", 1))
        cols = _row_list(_columns(conn, "main", name))
        gone = conn.execute(f"DELETE FROM disk.{q} WHERE rowid IN {changed} AND rowid NOT IN "
                            f"(SELECT rowid FROM main.{q} WHERE rowid IN {changed})", (name, name))
        kept = conn.execute(f"INSERT OR REPLACE INTO disk.{q} ({cols}) SELECT {cols} FROM main.{q} "
                            f"WHERE rowid IN {changed}", (name,))
        total += max(gone.rowcount, 0) + max(kept.rowcount, 0)
    return total
