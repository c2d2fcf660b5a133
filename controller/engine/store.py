"""The engine's tables in the hub's SQLite file, written off the hot path.

Event handling only appends statements to a queue; one writer task commits them in batches, in
order, each transaction short (at most MAX_BATCH statements). A batch the database refuses stays
queued and is retried with capped backoff on the engine's clock, never dropped in a task nobody
awaits (see controller/store.py). `flush()` waits until everything queued so far is committed
(restore, reload and tests use it before reading).

Two kinds of writes (docs/reliability.md, "What a kill may lose"). What a restart must find —
timers, waiting runs, the house state, parameters — is committed at once. Traces and latches
are bookkeeping: they wait for a group commit (GROUP_COMMIT seconds, or sooner when
GROUP_TRACES traces are waiting or something durable is committed anyway), so a rule run that
ends at once costs no transaction of its own.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections import deque
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypedDict

import aiosqlite

from controller.clock import Clock
from controller.engine.traces import KEEP_PER_SCENARIO, RunTrace
from controller.events import Context
from controller.store import MAX_BATCH, Backoff, Database, first_of, retryable

log = logging.getLogger(__name__)

SCHEMA = [
    """
    CREATE TABLE engine_timers (
        key TEXT PRIMARY KEY,          -- scenario|trigger digest|device
        scenario TEXT NOT NULL,
        since TEXT NOT NULL,           -- when the value started to match (ISO 8601, UTC)
        deadline TEXT NOT NULL,
        data TEXT NOT NULL             -- trigger variables and cause chain (JSON)
    );
    CREATE TABLE engine_runs (
        run_id TEXT PRIMARY KEY,
        scenario TEXT NOT NULL,
        actions_digest TEXT NOT NULL,
        frames TEXT NOT NULL,          -- position: [[branch, index], ...] (JSON)
        kind TEXT NOT NULL,            -- delay | wait
        deadline TEXT,                 -- NULL: a wait without timeout
        variables TEXT NOT NULL,       -- JSON
        trace TEXT NOT NULL            -- the trace so far (JSON)
    );
    CREATE TABLE engine_latches (
        key TEXT PRIMARY KEY,          -- a state trigger that fired for the current episode
        scenario TEXT NOT NULL
    );
    CREATE TABLE engine_house (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE engine_traces (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        scenario TEXT NOT NULL,
        started TEXT NOT NULL,
        status TEXT NOT NULL,
        trace TEXT NOT NULL
    );
    CREATE INDEX engine_traces_scenario ON engine_traces (scenario, id);
    CREATE TABLE engine_parameters (
        scope TEXT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,           -- JSON
        PRIMARY KEY (scope, name)
    )
    """,
]


# Statements held while the database refuses them. Timers, latches and traces are kept as one
# latest state per key (bounded by the scenarios), but runs, house state and parameters queue
# statements; beyond this bound the oldest are dropped, counted (`dropped` in the storage
# health) and logged. While the disk is full or read-only they are committed to the writer's
# memory copy (controller/held.py), so this bound is met only if that refuses them too.
MAX_QUEUED = 50_000
# How long traces and latches may wait for company before they are committed, and how many
# traces make a batch worth committing at once.
GROUP_COMMIT = 0.25
GROUP_TRACES = 2_000
# Traces waiting beyond this (a home with thousands of rules under a burst, a disk that refuses
# writes) are dropped, the oldest of the same scenario first, and counted: traces explain, they
# are not the record.
MAX_PENDING_TRACES = 20_000

Param = str | int | float | None  # an SQL parameter
JsonValue = object  # anything json.dumps takes (with default=str)
_TimerState = tuple[str, datetime, datetime, Mapping[str, object], Context]


class TimerRow(TypedDict):
    """A row of engine_timers."""

    key: str
    scenario: str
    since: str
    deadline: str
    data: str  # {"trigger": {...}, "cause": Context.to_json()}


class RunRow(TypedDict):
    """A row of engine_runs."""

    run_id: str
    scenario: str
    actions_digest: str
    frames: str
    kind: str
    deadline: str | None
    variables: str
    trace: str


class EngineStore:
    """Queued writes and the reads restore needs."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self._clock = clock
        # Traces stored per scenario (read at the first commit): a scenario is trimmed back to
        # KEEP_PER_SCENARIO only when it holds more. With thousands of scenarios a commit holds
        # one or two traces of each, and a trim per trace cost as much as writing it.
        self._stored: dict[str, int] | None = None
        self._backoff = Backoff()
        self._queue: deque[tuple[str, Sequence[Param]]] = deque()
        self._wake = asyncio.Event()  # anything to write
        self._urgent = asyncio.Event()  # something a restart needs: commit without waiting
        # Durable writes queued so far, and how many of them are committed (flush_durable).
        self._durable_queued = 0
        self._durable_done = 0
        self._lock = asyncio.Lock()
        self.group_commit = GROUP_COMMIT
        # Traces wait here, unserialised, newest KEEP_PER_SCENARIO per scenario: under a burst
        # the older ones would be pruned right after insertion anyway.
        self._traces: dict[str, deque[RunTrace]] = {}
        self._trace_count = 0  # traces in `_traces` (an upper bound: a full deque drops the oldest)
        self.traces_dropped = 0
        # Latches change on every edge of a busy sensor; only the last state of each is written.
        self._latches: dict[str, tuple[str, bool]] = {}
        # Pending `for:` rows by key, the last state of each (None: delete).
        self._timer_rows: dict[str, _TimerState | None] = {}
        self.failures = 0  # batches the database refused (also in db.health, for the console)
        self._dropped = 0  # statements dropped at the bound since the last commit

    async def migrate(self) -> None:
        await self.db.migrate("engine", SCHEMA)

    def write(self, sql: str, params: Sequence[Param] = ()) -> None:
        """Queue a statement; cheap and synchronous."""
        self._queue.append((sql, params))
        if len(self._queue) > MAX_QUEUED:
            self._bound()
        self._durable()

    def _durable(self) -> None:
        self._durable_queued += 1
        self._wake.set()
        self._urgent.set()

    def _bound(self) -> None:
        excess = len(self._queue) - MAX_QUEUED
        for _ in range(excess):
            self._queue.popleft()
        health = self.db.health.of(self.db.component)
        health.lost += excess
        health.dropped += excess
        before, self._dropped = self._dropped, self._dropped + excess
        if before == 0 or before // 10_000 != self._dropped // 10_000:
            log.error("engine: the database has refused writes for too long; %d statements dropped "
                      "so far to keep %d in memory (oldest first)", self._dropped, MAX_QUEUED)

    # The statements the engine uses, named so callers read as intent.

    def save_timer(self, key: str, scenario: str, since: datetime, deadline: datetime,
                   tvars: Mapping[str, object], context: Context) -> None:
        """Remember a pending `for:`; serialised at commit (a timer that ends first costs nothing)."""
        self._timer_rows[key] = (scenario, since, deadline, tvars, context)
        self._durable()

    def delete_timer(self, key: str) -> None:
        self._timer_rows[key] = None
        self._durable()

    def save_run(self, run_id: str, scenario: str, actions_digest: str,
                 frames: list[list[str | int]], kind: str, deadline: str | None,
                 variables: Mapping[str, object], trace: str) -> None:
        self.write("INSERT OR REPLACE INTO engine_runs (run_id, scenario, actions_digest, frames, "
                   "kind, deadline, variables, trace) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (run_id, scenario, actions_digest, _json(frames), kind, deadline,
                    _json(variables), trace))

    def delete_run(self, run_id: str) -> None:
        self.write("DELETE FROM engine_runs WHERE run_id = ?", (run_id,))

    def set_latch(self, key: str, scenario: str) -> None:
        self._latches[key] = (scenario, True)
        self._wake.set()

    def clear_latch(self, key: str) -> None:
        self._latches[key] = ("", False)
        self._wake.set()

    def set_house(self, name: str, value: str) -> None:
        self.write("INSERT OR REPLACE INTO engine_house (name, value) VALUES (?, ?)", (name, value))

    def add_trace(self, trace: RunTrace) -> None:
        """Queue a finished trace; it is serialised by the writer, not on the hot path."""
        pending = self._traces.get(trace.scenario)
        if self._trace_count >= MAX_PENDING_TRACES:
            # The newest trace of a scenario says more than its oldest waiting one.
            self.traces_dropped += 1
            if self.traces_dropped % 10_000 == 1:
                log.warning("engine: %d traces waiting to be written; %d dropped so far",
                            self._trace_count, self.traces_dropped)
            if not pending:
                return
            pending.popleft()
            self._trace_count -= 1
        if pending is None:
            pending = self._traces[trace.scenario] = deque(maxlen=KEEP_PER_SCENARIO)
        pending.append(trace)
        self._trace_count += 1
        self._wake.set()
        if self._trace_count >= GROUP_TRACES:
            self._urgent.set()

    def forget_scenario(self, scenario: str) -> None:
        """Drop a removed scenario's pending timers, runs and latches (its traces stay)."""
        prefix = f"{scenario}|"
        for key in [k for k in self._timer_rows if k.startswith(prefix)]:
            del self._timer_rows[key]
        for key in [k for k in self._latches if k.startswith(prefix)]:
            del self._latches[key]
        for table in ("engine_timers", "engine_runs", "engine_latches"):
            self.write(f"DELETE FROM {table} WHERE scenario = ?", (scenario,))

    # Writing.

    async def run(self) -> None:
        """Commit queued statements until cancelled; the last ones are committed on the way out.

        A batch the database refuses stays queued and is retried with capped backoff on the
        clock (a full disk must not stop lights and alerts: the engine keeps running on its
        in-memory state); every failure is logged with what is waiting.
        """
        try:
            while True:
                await self._wake.wait()
                if not self._urgent.is_set():
                    # Only bookkeeping so far: let it gather (group commit).
                    await first_of(self._clock.sleep(self.group_commit), self._urgent.wait())
                self._wake.clear()
                self._urgent.clear()
                # Shielded: a cancelled writer leaves the batch to finish (aiosqlite finishes a
                # statement in its thread anyway); the inner task never raises.
                error = await asyncio.shield(self._commit_pending())
                if error is not None:
                    delay = self._backoff.next()
                    log.warning("engine: %s not written yet (%s); kept in memory, next try in %.0f s",
                                self._describe(), error, delay)
                    await self._clock.sleep(delay)
                    self._wake.set()
                elif failures := self._backoff.reset():
                    log.warning("engine: writing again after %d failed attempts", failures)
        finally:
            # Always: also waits for a batch still being committed by a shielded call above.
            error = await asyncio.shield(self._commit_pending())
            if error is not None:
                health = self.db.health.of(self.db.component)
                health.lost += self._pending_count()
                health.pending = 0
                log.error("engine: %s lost at shutdown: %s", self._describe(), error)
                self._drop_pending()

    async def flush(self) -> None:
        """Commit everything queued so far; raises the storage error if the database refuses
        it (it stays queued, and `run` keeps retrying)."""
        error = await asyncio.shield(self._commit_pending())
        if error is not None:
            raise error

    async def flush_durable(self) -> None:
        """Commit what a restart needs (timers, waiting runs, house state, parameters), with
        whatever bookkeeping waits beside it; bookkeeping alone is left to the group commit."""
        if self._durable_done < self._durable_queued:  # queued, or in a commit still going
            await self.flush()

    async def _commit_pending(self) -> sqlite3.Error | None:
        """Commit what is queued, in short transactions; on failure the rest stays queued."""
        async with self._lock:
            health = self.db.health.of(self.db.component)
            while self._queue or self._traces or self._latches or self._timer_rows:
                batch = list(self._queue)
                self._queue.clear()
                traces, self._traces, self._trace_count = self._traces, {}, 0
                latches, self._latches = self._latches, {}
                timers, self._timer_rows = self._timer_rows, {}
                try:
                    await self._write_chunks(batch, traces, latches, timers)
                except BaseException as exc:
                    # `batch` holds what is not committed yet.
                    if isinstance(exc, sqlite3.Error) and not retryable(exc):
                        # The same statements would fail the same way: report them and go on.
                        lost = len(batch) + sum(len(t) for t in traces.values()) + len(latches) + len(timers)
                        health.lost += lost
                        log.error("engine: a batch of %d statements, timers, latches and traces "
                                  "dropped, the database refuses it: %s", lost, exc)
                    else:
                        self._requeue(batch, traces, latches, timers)
                    if not isinstance(exc, sqlite3.Error):
                        raise
                    self.failures += 1
                    health.pending = self._pending_count()
                    return exc
            health.pending = 0
            self._dropped = 0
            self._durable_done = self._durable_queued  # everything queued is in (no await since)
        return None

    async def _write_chunks(self, batch: list[tuple[str, Sequence[Param]]], traces: dict[str, deque[RunTrace]],
                            latches: dict[str, tuple[str, bool]], timers: dict[str, _TimerState | None]) -> None:
        # Statements in chunks of MAX_BATCH, each chunk its own short transaction, removed from
        # `batch` once committed; the latest states of timers, latches and traces go with the
        # last chunk, after every statement (as they did when a batch was one transaction).
        trim = await self._due_for_trim(traces) if traces else []
        while True:
            chunk = batch[:MAX_BATCH]
            last = len(chunk) == len(batch)
            async with self.db.transaction() as conn:
                if last:
                    await self._write(conn, chunk, traces, latches, timers, trim)
                else:
                    await self._write(conn, chunk, {}, {}, {}, [])
            del batch[:len(chunk)]
            if last:
                return

    async def _due_for_trim(self, traces: dict[str, deque[RunTrace]]) -> list[str]:
        """The scenarios that will hold more than KEEP_PER_SCENARIO traces after this commit
        (counted as if it succeeds: a failed one at worst trims sooner than needed)."""
        stored = self._stored
        if stored is None:
            rows = await self.db.fetchall("SELECT scenario, COUNT(*) AS n FROM engine_traces GROUP BY scenario")
            stored = self._stored = {str(r["scenario"]): int(r["n"]) for r in rows}
        due = []
        for scenario, pending in traces.items():
            count = stored.get(scenario, 0) + len(pending)
            if count > KEEP_PER_SCENARIO:
                due.append(scenario)
                count = KEEP_PER_SCENARIO
            stored[scenario] = count
        return due

    def _requeue(self, batch: list[tuple[str, Sequence[Param]]], traces: dict[str, deque[RunTrace]],
                 latches: dict[str, tuple[str, bool]], timers: dict[str, _TimerState | None]) -> None:
        # Back in front of whatever was queued meanwhile; newer states of a key win.
        self._queue.extendleft(reversed(batch))
        if len(self._queue) > MAX_QUEUED:
            self._bound()
        for scenario, older in traces.items():
            merged = deque(older, maxlen=KEEP_PER_SCENARIO)
            merged.extend(self._traces.get(scenario, ()))
            self._traces[scenario] = merged
        self._trace_count = sum(len(t) for t in self._traces.values())
        self._latches = {**latches, **self._latches}
        self._timer_rows = {**timers, **self._timer_rows}

    def _pending_count(self) -> int:
        return (len(self._queue) + sum(len(t) for t in self._traces.values()) + len(self._latches)
                + len(self._timer_rows))

    def _describe(self) -> str:
        return (f"{len(self._queue)} statements, {len(self._timer_rows)} timers, {len(self._latches)} "
                f"latches and {sum(len(t) for t in self._traces.values())} traces")

    def _drop_pending(self) -> None:
        self._queue.clear()
        self._traces, self._latches, self._timer_rows = {}, {}, {}
        self._trace_count = 0

    @staticmethod
    async def _write(conn: aiosqlite.Connection, batch: list[tuple[str, Sequence[Param]]],
                     traces: dict[str, deque[RunTrace]], latches: dict[str, tuple[str, bool]],
                     timers: dict[str, _TimerState | None], trim: list[str]) -> None:
        # Consecutive statements with the same SQL go in one executemany: one hop to SQLite's
        # thread instead of one per row.
        i = 0
        while i < len(batch):
            sql = batch[i][0]
            j = i
            while j < len(batch) and batch[j][0] == sql:
                j += 1
            await conn.executemany(sql, [params for _, params in batch[i:j]])
            i = j
        if timers:
            await conn.executemany(
                "INSERT OR REPLACE INTO engine_timers (key, scenario, since, deadline, data) "
                "VALUES (?, ?, ?, ?, ?)",
                [(k, row[0], row[1].isoformat(), row[2].isoformat(),
                  _json({"trigger": row[3], "cause": row[4].to_json()}))
                 for k, row in timers.items() if row is not None])
            await conn.executemany("DELETE FROM engine_timers WHERE key = ?",
                                   [(k,) for k, row in timers.items() if row is None])
        if latches:
            await conn.executemany(
                "INSERT OR IGNORE INTO engine_latches (key, scenario) VALUES (?, ?)",
                [(k, sc) for k, (sc, on) in latches.items() if on])
            await conn.executemany(
                "DELETE FROM engine_latches WHERE key = ?",
                [(k,) for k, (_, on) in latches.items() if not on])
        if traces:
            await conn.executemany(
                "INSERT INTO engine_traces (scenario, started, status, trace) VALUES (?, ?, ?, ?)",
                [(t.scenario, t.started.isoformat(), t.status, t.to_json())
                 for pending in traces.values() for t in pending])
            await conn.executemany(
                "DELETE FROM engine_traces WHERE scenario = ? AND id NOT IN "
                "(SELECT id FROM engine_traces WHERE scenario = ? ORDER BY id DESC LIMIT ?)",
                [(sc, sc, KEEP_PER_SCENARIO) for sc in trim])

    # Reading (at start-up and reload, after a flush).

    async def timers(self) -> list[TimerRow]:
        return [TimerRow(key=r["key"], scenario=r["scenario"], since=r["since"],
                         deadline=r["deadline"], data=r["data"])
                for r in await self.db.fetchall("SELECT * FROM engine_timers")]

    async def runs(self) -> list[RunRow]:
        return [RunRow(run_id=r["run_id"], scenario=r["scenario"],
                       actions_digest=r["actions_digest"], frames=r["frames"], kind=r["kind"],
                       deadline=r["deadline"], variables=r["variables"], trace=r["trace"])
                for r in await self.db.fetchall("SELECT * FROM engine_runs")]

    async def latches(self) -> set[str]:
        return {r["key"] for r in await self.db.fetchall("SELECT key FROM engine_latches")}

    async def house(self) -> dict[str, str]:
        return {r["name"]: r["value"] for r in await self.db.fetchall("SELECT * FROM engine_house")}

    async def parameters(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}  # JSON values, as the loader's overrides take them
        for r in await self.db.fetchall("SELECT scope, name, value FROM engine_parameters"):
            out.setdefault(r["scope"], {})[r["name"]] = json.loads(r["value"])
        return out

    async def set_parameters(self, scope: str, values: Mapping[str, object]) -> None:
        for name, value in values.items():
            self.write("INSERT OR REPLACE INTO engine_parameters (scope, name, value) VALUES (?, ?, ?)",
                       (scope, name, json.dumps(value, default=str)))
        await self.flush()


def _json(value: JsonValue) -> str:
    return json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))
