"""Runs: a fired trigger becomes a run of its scenario's actions, traced from start to end.

A run first goes synchronously, right in the bus listener, until an action has to wait (an alert
to store, a delay, a wait); only then does it become a task. The scenario's `mode` (single,
restart, queued, parallel) and `cooldown` decide whether a trigger starts a run at all. A run
waiting in a delay or wait is stored with its position (frames) so a restart resumes it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from controller.clock import Clock
from controller.durations import format_duration
from controller.engine import model as m
from controller.engine.compiled import Cond, Env, TriggerRT, Vars, evaluate
from controller.engine.loader import LoadedScenario
from controller.engine.store import EngineStore
from controller.engine.templates import Template
from controller.engine.traces import (
    CANCELLED,
    COMPLETED,
    ERROR,
    NOT_FIRED,
    RUNNING,
    SKIPPED,
    STOPPED,
    WAITING,
    RunTrace,
)
from controller.engine.triggers import Detach, Spawn
from controller.events import Context, new_id

if TYPE_CHECKING:
    from controller.engine.actions import Action, Interpreter

log = logging.getLogger(__name__)


@dataclass(slots=True, eq=False, kw_only=True)
class ScenarioRuntime:
    """A loaded scenario and its running parts."""

    loaded: LoadedScenario
    triggers: list[TriggerRT]
    conditions: list[Cond]
    params: Vars
    detach: Detach | None = None
    templates: dict[str, Template] = field(default_factory=dict)
    active: dict[str, Run] = field(default_factory=dict)
    queue: deque[Run] = field(default_factory=deque)
    last_start: datetime | None = None

    @property
    def id(self) -> str:
        return self.loaded.id

    @property
    def model(self) -> m.Scenario:
        return self.loaded.model


@dataclass(slots=True, kw_only=True)
class Frame:
    """A position in nested action lists: `branch` ('actions', 'then', 'else') and index."""

    branch: str
    index: int


@dataclass(slots=True, eq=False, kw_only=True)
class Run:
    """One run of a scenario's actions."""

    id: str
    sc: ScenarioRuntime
    vars: Vars
    ctx: Context
    trace: RunTrace
    frames: list[Frame] = field(default_factory=lambda: [Frame(branch="actions", index=0)])
    resume_deadline: datetime | None = None
    resuming: bool = False
    task: asyncio.Task[None] | None = None
    persisted: bool = False
    detached: bool = False  # stopped for a reload or shutdown: the persisted row stays
    done: bool = False
    cancel_reason: str = ""

    def advance(self) -> None:
        """Move past the current action."""
        self.frames[-1].index += 1

    def resume_deadline_or(self, default: datetime | None) -> tuple[datetime | None, bool]:
        """The stored deadline when resuming after a restart (once), else `default`."""
        if self.resuming:
            self.resuming = False
            return self.resume_deadline, True
        return default, False


def frames_to_json(frames: Sequence[Frame]) -> list[list[str | int]]:
    return [[f.branch, f.index] for f in frames]


def frames_from_json(data: object) -> list[Frame]:
    assert isinstance(data, list)
    return [Frame(branch=str(b), index=int(i)) for b, i in data]


class RunManager:
    """Starts, drives, queues, cancels and finishes runs."""

    def __init__(self, *, clock: Clock, store: EngineStore, env: Env, spawn: Spawn,
                 make_interpreter: Callable[[RunManager], Interpreter]) -> None:
        self._clock = clock
        self._store = store
        self._env = env
        self._spawn = spawn
        self.scenarios: dict[str, ScenarioRuntime] = {}
        self.stopping = False  # shutting down: waiting runs stay stored
        self.interpreter = make_interpreter(self)

    def save_trace(self, trace: RunTrace) -> None:
        self._store.add_trace(trace)

    # -- firing ---------------------------------------------------------------------------------

    def fire(self, tr: TriggerRT, tvars: Vars, ctx: Context) -> None:
        """A trigger fired: start (or queue, or skip) a run of its scenario, and trace it."""
        sc = self.scenarios.get(tr.owner)
        if sc is None or not sc.model.enabled:
            return
        now = self._clock.now()
        tvars["id"] = tr.id
        tvars["type"] = tr.model.type if tr.model is not None else "manual"
        tvars["description"] = tr.description
        run_vars: Vars = {"trigger": tvars, "params": sc.params}
        # Checked before anything else is built: most triggers of a busy home end here.
        results = evaluate(sc.conditions, self._env, run_vars) if sc.conditions else []
        refusal = self._refusal(sc, results, now)
        trace = RunTrace(run_id=new_id("run"), scenario=sc.id, started=now, trigger=tvars,
                         cause=[f"scenario:{sc.id}: {tr.description}", *ctx.links()],
                         conditions=[{"path": "", "condition": c.description, "result": ok}
                                     for c, ok in results])
        if refusal is not None:
            trace.finish(refusal[0], now, refusal[1])
            self.save_trace(trace)
            return
        run = Run(id=trace.run_id, sc=sc, vars=run_vars, trace=trace,
                  ctx=ctx.child(origin=f"scenario:{sc.id}", description=tr.description))
        if sc.active:
            if sc.model.mode == "restart":
                for other in list(sc.active.values()):
                    self.cancel_run(other, f"cancelled: restarted by {tr.description}")
            elif sc.model.mode == "queued":
                trace.notes.append(f"queued behind {len(sc.active) + len(sc.queue)} run(s)")
                sc.queue.append(run)
                return
        self.start_run(run)

    def _refusal(self, sc: ScenarioRuntime, results: list[tuple[Cond, bool]],
                 now: datetime) -> tuple[str, str] | None:
        """Why a fired trigger starts no run: (trace status, note); None when it does."""
        model = sc.model
        if model.cooldown is not None and sc.last_start is not None and \
                now - sc.last_start < model.cooldown:
            return SKIPPED, (f"skipped: cooldown ({format_duration(model.cooldown)}; last run "
                             f"started {format_duration(now - sc.last_start)} ago)")
        if not all(ok for _, ok in results):
            return NOT_FIRED, "condition not met: " + "; ".join(
                c.description for c, ok in results if not ok)
        if sc.active and model.mode == "single":
            return SKIPPED, "skipped: already running (mode single)"
        if sc.active and model.mode == "queued" and len(sc.queue) >= model.max_queued:
            return SKIPPED, f"skipped: queue full ({model.max_queued})"
        return None

    def start_run(self, run: Run) -> None:
        sc = run.sc
        sc.active[run.id] = run
        sc.last_start = self._clock.now()
        try:
            finished = self._drive_sync(run)
        except Exception as exc:  # an engine bug: trace it, never take the hub down
            log.exception("run %s of %s failed", run.id, sc.id)
            self.finish(run, ERROR, f"engine error: {exc!r}")
            return
        if finished:
            self.finish(run, run.trace.status if run.trace.status == STOPPED else COMPLETED)
        else:
            self.start_task(run)

    def start_task(self, run: Run) -> None:
        """Go on with `run` in a task of its own (it has to wait)."""
        run.task = self._spawn(self._drive(run), f"run {run.id}")

    def cancel_run(self, run: Run, reason: str) -> None:
        run.cancel_reason = reason
        if run.task is not None and not run.task.done():
            run.task.cancel()
        else:
            self.finish(run, CANCELLED, reason)

    def finish(self, run: Run, status: str, note: str | None = None) -> None:
        if run.done:
            return
        run.done = True
        sc = run.sc
        sc.active.pop(run.id, None)
        if run.persisted:
            self._store.delete_run(run.id)
            run.persisted = False
        run.trace.finish(status, self._clock.now(), note)
        self.save_trace(run.trace)
        if sc.queue and not sc.active and self.scenarios.get(sc.id) is sc:
            self.start_run(sc.queue.popleft())

    # -- driving --------------------------------------------------------------------------------

    def _actions_at(self, run: Run, depth: int) -> Sequence[Action]:
        actions: Sequence[Action] = run.sc.model.actions
        for k in range(1, depth + 1):
            parent = actions[run.frames[k - 1].index]
            assert isinstance(parent, m.IfAction)
            actions = parent.then if run.frames[k].branch == "then" else parent.else_
        return actions

    def _current(self, run: Run) -> tuple[Action, str] | None:
        while run.frames:
            actions = self._actions_at(run, len(run.frames) - 1)
            idx = run.frames[-1].index
            if idx < len(actions):
                path = "".join(f"{'.' if i else ''}{f.branch}[{f.index}]"
                               for i, f in enumerate(run.frames))
                return actions[idx], path
            run.frames.pop()
            if run.frames:
                run.advance()
        return None

    def _drive_sync(self, run: Run) -> bool:
        """Run actions until one must wait; True when the run is over."""
        while (cur := self._current(run)) is not None:
            action, path = cur
            if self.interpreter.waits(action):
                return False
            self.interpreter.step(run, action, path)
            if run.trace.status == STOPPED:
                return True
        return True

    async def _drive(self, run: Run) -> None:
        try:
            if await self._drive_async(run):
                self.finish(run, COMPLETED)
        except asyncio.CancelledError:
            if run.detached or self.stopping:
                if not run.persisted:
                    # Nothing to resume from: say so rather than vanish.
                    self.finish(run, CANCELLED, f"stopped ({run.cancel_reason or 'shutdown'}) "
                                "before reaching a delay or wait")
                return
            self.finish(run, CANCELLED, run.cancel_reason or "cancelled")
        except Exception as exc:
            log.exception("run %s of %s failed", run.id, run.sc.id)
            self.finish(run, ERROR, f"engine error: {exc!r}")

    async def _drive_async(self, run: Run) -> bool:
        """Run the remaining actions; False when the run stopped (and is finished) early."""
        while (cur := self._current(run)) is not None:
            action, path = cur
            if self.interpreter.waits(action):
                go_on = await self.interpreter.step_waiting(run, action, path)
            else:
                self.interpreter.step(run, action, path)
                go_on = run.trace.status != STOPPED
            if not go_on:
                self.finish(run, STOPPED)
                return False
        return True

    # -- waiting runs in the store --------------------------------------------------------------

    def persist(self, run: Run, kind: str, deadline: datetime | None) -> None:
        """Store a run that starts waiting, so a restart resumes it."""
        variables = {k: v for k, v in run.vars.items() if k != "params"}
        run.trace.status = WAITING
        self._store.save_run(run.id, run.sc.id, run.sc.loaded.actions_digest,
                             frames_to_json(run.frames), kind,
                             deadline.isoformat() if deadline else None, variables,
                             run.trace.to_json())
        run.persisted = True

    def unpersist(self, run: Run) -> None:
        """The run is no longer waiting."""
        run.trace.status = RUNNING
        if run.persisted:
            self._store.delete_run(run.id)
            run.persisted = False
