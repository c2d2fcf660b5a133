"""Traces: what each run (and each run that did not happen) saw and did, and why.

A trace is recorded while the run goes (`RunTrace`, mutable, owned by the run) and stored as
JSON; `Trace` is the stored, read-only form that `huis trace` and the dashboard show.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from controller.events import Context

if TYPE_CHECKING:
    from controller.store import Database

KEEP_PER_SCENARIO = 100

# Trace statuses.
COMPLETED = "completed"
RUNNING = "running"
WAITING = "waiting"
NOT_FIRED = "not_fired"
SKIPPED = "skipped"
CANCELLED = "cancelled"
STOPPED = "stopped"
ERROR = "error"


@dataclass(slots=True, kw_only=True)
class RunTrace:
    """A trace being recorded. Mutable: the run that owns it appends as it goes."""

    run_id: str
    scenario: str
    started: datetime
    trigger: dict[str, object]
    cause: list[str] = field(default_factory=list)
    conditions: list[dict[str, object]] = field(default_factory=list)
    actions: list[dict[str, object]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    status: str = RUNNING
    finished: datetime | None = None

    @classmethod
    def start(cls, run_id: str, scenario: str, now: datetime, trigger: Mapping[str, object],
              context: Context) -> RunTrace:
        """A new trace whose cause chain is `context`'s."""
        return cls(run_id=run_id, scenario=scenario, started=now, trigger=dict(trigger),
                   cause=context.links())

    def condition(self, description: str, result: bool, path: str = "") -> None:
        self.conditions.append({"path": path, "condition": description, "result": result})

    def action(self, path: str, description: str, outcome: str, ok: bool, at: datetime,
               context: Context | None = None) -> None:
        entry: dict[str, object] = {"path": path, "action": description, "outcome": outcome,
                                 "ok": ok, "at": at.isoformat()}
        if context is not None:
            entry["context"] = context.id
        self.actions.append(entry)

    def finish(self, status: str, now: datetime, note: str | None = None) -> None:
        self.status = status
        self.finished = now
        if note:
            self.notes.append(note)

    def as_dict(self) -> dict[str, object]:
        return {
            "run": self.run_id, "scenario": self.scenario, "started": self.started.isoformat(),
            "finished": self.finished.isoformat() if self.finished else None,
            "status": self.status, "trigger": self.trigger, "cause": self.cause,
            "conditions": self.conditions, "actions": self.actions, "notes": self.notes,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunTrace:  # parsed JSON
        return cls(
            run_id=data["run"], scenario=data["scenario"],
            started=datetime.fromisoformat(data["started"]),
            finished=datetime.fromisoformat(data["finished"]) if data.get("finished") else None,
            status=data.get("status", RUNNING), trigger=dict(data.get("trigger") or {}),
            cause=list(data.get("cause") or []), conditions=list(data.get("conditions") or []),
            actions=list(data.get("actions") or []), notes=list(data.get("notes") or []),
        )

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), default=str, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Trace:
    """A stored trace."""

    id: int
    scenario: str
    run_id: str
    started: datetime
    finished: datetime | None
    status: str
    trigger: Mapping[str, object]
    cause: tuple[str, ...]
    conditions: tuple[Mapping[str, object], ...]
    actions: tuple[Mapping[str, object], ...]
    notes: tuple[str, ...]

    @classmethod
    def from_json(cls, row_id: int, text: str) -> Trace:
        d = json.loads(text)
        return cls(
            id=row_id, scenario=d["scenario"], run_id=d["run"],
            started=datetime.fromisoformat(d["started"]),
            finished=datetime.fromisoformat(d["finished"]) if d.get("finished") else None,
            status=d["status"], trigger=d.get("trigger") or {}, cause=tuple(d.get("cause") or ()),
            conditions=tuple(d.get("conditions") or ()), actions=tuple(d.get("actions") or ()),
            notes=tuple(d.get("notes") or ()),
        )


async def load_traces(db: Database, scenario: str | None = None, limit: int = 20) -> list[Trace]:
    """The latest traces (of one scenario, or all), newest first; runs still waiting included."""
    if scenario is None:
        rows = await db.fetchall("SELECT id, trace FROM engine_traces ORDER BY id DESC LIMIT ?", (limit,))
        waiting = await db.fetchall("SELECT trace FROM engine_runs")
    else:
        rows = await db.fetchall(
            "SELECT id, trace FROM engine_traces WHERE scenario = ? ORDER BY id DESC LIMIT ?",
            (scenario, limit))
        waiting = await db.fetchall("SELECT trace FROM engine_runs WHERE scenario = ?", (scenario,))
    out = [Trace.from_json(0, r["trace"]) for r in waiting]
    out.extend(Trace.from_json(r["id"], r["trace"]) for r in rows)
    return out[:limit] if scenario is None else out


def render_traces(traces: Sequence[Trace], tz: tzinfo | None = None) -> str:
    """Traces as text for `huis trace`, newest first, in local time when `tz` is given."""
    if not traces:
        return "No traces recorded.\n"
    lines: list[str] = []
    for t in traces:
        lines.extend(render_trace(t, tz))
    return "\n".join(lines) + "\n"


def render_trace(t: Trace, tz: tzinfo | None = None) -> list[str]:
    """One trace as lines of text."""

    def when(d: datetime) -> str:
        return (d.astimezone(tz) if tz else d).strftime("%Y-%m-%d %H:%M:%S")

    lines = [f"{when(t.started)}  {t.scenario}  {t.status}"]
    trig = t.trigger
    desc = trig.get("description") or trig.get("type", "?")
    late = trig.get("late")
    lines.append(f"  trigger  {desc}" + (f" (late by {late})" if late else ""))
    if t.cause:
        lines.append(f"  cause    {' <- '.join(t.cause)}")
    for c in t.conditions:
        lines.append(f"  {'ok' if c.get('result') else 'FAILED':<8} {c.get('condition')}")
    for a in t.actions:
        mark = "done" if a.get("ok") else "ERROR"
        at = a.get("at")
        stamp = f"[{when(datetime.fromisoformat(at))[11:]}] " if isinstance(at, str) else ""
        lines.append(f"  {mark:<8} {stamp}{a.get('action')} -> {a.get('outcome')}")
    for n in t.notes:
        lines.append(f"  note     {n}")
    return lines
