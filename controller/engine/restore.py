"""Restore and reload: scenarios go live, and what was pending before carries on.

At start-up and on every reload the engine installs scenarios (compiles and attaches their
triggers), then re-arms what the store kept of them: pending `for:` timers (at their original
deadlines), runs waiting in a delay or wait (unless their actions changed), and latches. Events
that arrived before the engine was ready are handled after the timers and before the start-up
evaluation of state triggers that already hold. A reload swaps the whole scenario set at once.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from controller.config import HomeConfig
from controller.engine.compiled import (
    StateTriggerRT,
    TriggerRT,
    compile_condition,
    compile_trigger,
    describe_value,
)
from controller.engine.loader import LoadedScenario, ScenarioSet, load_scenarios
from controller.engine.runs import Run, RunManager, ScenarioRuntime, frames_from_json
from controller.engine.store import EngineStore, RunRow, TimerRow
from controller.engine.timers import ForTimers
from controller.engine.traces import CANCELLED, NOT_FIRED, RunTrace
from controller.engine.triggers import Handler, TriggerIndex
from controller.errors import ConfigError
from controller.events import (
    ALERT_CHANGED,
    AVAILABILITY,
    DEVICE_EVENT,
    HUB_STATUS,
    PAYLOAD_ERROR,
    STATE_CHANGED,
    Context,
    Event,
    new_id,
)
from controller.yamlfile import gc_paused

log = logging.getLogger(__name__)

_EARLY_LIMIT = 10_000


@dataclass(frozen=True, slots=True, kw_only=True)
class ReloadResult:
    """What a reload changed."""

    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()

    def __str__(self) -> str:
        parts = [f"{len(self.added)} added", f"{len(self.changed)} changed",
                 f"{len(self.removed)} removed", f"{len(self.unchanged)} unchanged"]
        return ", ".join(parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class Persisted:
    """What the store kept: pending timers, waiting runs, latches."""

    timers: list[TimerRow]
    runs: list[RunRow]
    latches: set[str]


def restored_context(stored: object) -> Context:
    """A stored cause chain (see `Context.from_json`), continued by the restore itself."""
    return Context(origin="engine", description="restored after a restart or reload",
                   parent=Context.from_json(stored))


class EarlyEvents:
    """Events between construction and `run()` being ready, kept to be handled once restored.

    The MQTT link may deliver retained states before the engine has read its store.
    """

    TYPES: frozenset[str] = frozenset({STATE_CHANGED, DEVICE_EVENT, AVAILABILITY, ALERT_CHANGED,
                                       PAYLOAD_ERROR, HUB_STATUS})

    def __init__(self, subscribe: Callable[[Handler], Callable[[], None]]) -> None:
        self._events: list[Event[object]] | None = []
        self._unsubscribe = subscribe(self._keep)

    def _keep(self, event: Event[object]) -> None:
        if self._events is not None and len(self._events) < _EARLY_LIMIT and \
                event.type in self.TYPES:
            self._events.append(event)

    def replay(self, handle: Handler) -> None:
        """Stop keeping, and hand every kept event to `handle`."""
        for event in self.close():
            try:
                handle(event)
            except Exception:
                log.exception("engine: handling an early %s event failed", event.type)

    def close(self) -> list[Event[object]]:
        """Stop keeping; the events kept so far."""
        events, self._events = self._events, None
        if events is None:
            return []
        self._unsubscribe()
        return events


# From this many scenarios on, the installed set is kept out of full garbage collections.
FREEZE_FROM = 1_000


class Restorer:
    """Installs scenarios, restores their pending work, and swaps sets on reload."""

    def __init__(self, *, cfg: HomeConfig, store: EngineStore, runs: RunManager,
                 index: TriggerIndex, timers: ForTimers, scenarios: ScenarioSet,
                 paths: Sequence[str | Path], now: Callable[[], datetime],
                 value: Callable[[str, str], object]) -> None:
        self._cfg = cfg
        self._store = store
        self._runs = runs
        self._index = index
        self._timers = timers
        self._now = now
        self._value = value
        self.set = scenarios
        self.paths = list(paths)
        self.last_reload_problems: list[str] = []
        self._lock = asyncio.Lock()
        self._wanted = asyncio.Event()
        self._frozen = False  # whether install_all or a reload froze the garbage collector

    # -- installing -----------------------------------------------------------------------------

    def install(self, loaded: LoadedScenario) -> ScenarioRuntime:
        model = loaded.model
        sc = ScenarioRuntime(
            loaded=loaded,
            triggers=[compile_trigger(model.id, i, t, self._cfg) for i, t in enumerate(model.triggers)],
            conditions=[compile_condition(c, self._cfg) for c in model.conditions],
            params=loaded.param_values(),
        )
        for tr in sc.triggers:
            tr.fire = self._runs.fire
        self._runs.scenarios[sc.id] = sc
        if model.enabled:
            sc.detach = self._index.attach(sc.triggers)
        return sc

    def install_all(self) -> None:
        with gc_paused():  # compiling only adds objects (see controller/yamlfile.py)
            for loaded in self.set.scenarios:
                self.install(loaded)
        self._keep_out_of_collections(collect=False)

    def _keep_out_of_collections(self, *, collect: bool) -> None:
        """With many scenarios, move what exists now out of the garbage collector's reach.

        Ten thousand scenarios are a million objects that live as long as the set; every full
        collection walked them all (2.8 of 6 s of event handling in bench/engine_bench.py
        --scaling with 10,000 rules). `gc.freeze` leaves them to reference counting; a reload
        unfreezes first, so the set it replaces is collected (`collect`) before the next freeze.
        """
        if len(self.set.scenarios) < FREEZE_FROM:
            return
        if collect:
            gc.collect()
        gc.freeze()
        self._frozen = True

    def release(self) -> None:
        """The engine stops: what install_all froze is the collector's business again."""
        if self._frozen:
            gc.unfreeze()
            self._frozen = False

    # -- restoring ------------------------------------------------------------------------------

    async def read_persisted(self) -> Persisted:
        await self._store.flush()
        return Persisted(timers=await self._store.timers(), runs=await self._store.runs(),
                         latches=await self._store.latches())

    def restore(self, ids: set[str], persisted: Persisted,
                early: Callable[[], None] | None = None) -> None:
        """Re-arm persisted timers and runs of scenarios `ids`, then fire what is already true.

        Synchronous on purpose: no event can slip in between reading the state and acting on it.
        """
        now = self._now()
        scenarios = self._runs.scenarios
        owners = {tr.key: tr for sid in ids if sid in scenarios for tr in scenarios[sid].triggers}
        for key in persisted.latches:
            if key.rsplit("|", 1)[0] in owners:
                self._timers.latches.add(key)
        for timer in persisted.timers:
            if timer["scenario"] in ids:
                self._restore_timer(timer, owners, now)
        for run in persisted.runs:
            if run["scenario"] in ids:
                self._restore_run(run)
        if early is not None:
            # After the persisted timers (a retained "still empty" must not restart a count),
            # before the start-up evaluation (which then sees what these events already fired).
            early()
        for sid in ids:
            sc = scenarios.get(sid)
            if sc is None or not sc.model.enabled:
                continue
            for tr in sc.triggers:
                if isinstance(tr, StateTriggerRT) and tr.test.has_target and tr.from_test is None:
                    self._timers.evaluate_at_start(tr, now)

    def _restore_timer(self, row: TimerRow, owners: dict[str, TriggerRT], now: datetime) -> None:
        key = row["key"]
        trigger_key, _, slot = key.rpartition("|")
        tr = owners.get(trigger_key)
        data = json.loads(row["data"])
        sc = self._runs.scenarios.get(row["scenario"])
        if not isinstance(tr, StateTriggerRT) or tr.for_ is None or sc is None or not sc.model.enabled:
            self._store.delete_timer(key)
            return
        since = datetime.fromisoformat(row["since"])
        devices = tr.devices if slot == "*" else (slot,)
        values = {d: self._value(d, tr.attribute) for d in devices}
        contradicting = [d for d, v in values.items() if v is not None and not tr.test(v)]
        if contradicting:
            self._store.delete_timer(key)
            d = contradicting[0]
            trace = RunTrace.start(new_id("run"), sc.id, now, data.get("trigger", {}),
                                   restored_context(data.get("cause")))
            trace.finish(NOT_FIRED, now, f"cancelled at start-up: {d}.{tr.attribute} is now "
                         f"{describe_value(values[d])}")
            self._runs.save_trace(trace)
            return
        if slot == "*":
            tr.holding = True
        # The trigger's current `for:`, counted from the original start.
        self._timers.start(tr, slot, since, since + tr.for_, data.get("trigger", {}),
                           restored_context(data.get("cause")), persist=False)

    def _restore_run(self, row: RunRow) -> None:
        sc = self._runs.scenarios.get(row["scenario"])
        trace = RunTrace.from_dict(json.loads(row["trace"]))
        now = self._now()
        if sc is None or sc.loaded.actions_digest != row["actions_digest"] or not sc.model.enabled:
            self._store.delete_run(row["run_id"])
            trace.finish(CANCELLED, now, "cancelled: the scenario's actions changed (or it was "
                         "disabled) while this run was waiting")
            self._runs.save_trace(trace)
            return
        variables = json.loads(row["variables"])
        variables["params"] = sc.params
        deadline = row["deadline"]
        run = Run(id=row["run_id"], sc=sc, vars=variables, ctx=restored_context(trace.cause),
                  trace=trace, frames=frames_from_json(json.loads(row["frames"])),
                  resume_deadline=datetime.fromisoformat(deadline) if deadline else None,
                  resuming=True, persisted=True)
        trace.notes.append(f"resumed at {now.isoformat()} after a restart or reload")
        sc.active[run.id] = run
        self._runs.start_task(run)

    # -- reloading ------------------------------------------------------------------------------

    async def reload(self, source: ScenarioSet | Sequence[str | Path] | None,
                     forget: Callable[[], None]) -> ReloadResult:
        """Swap in a new set of scenarios atomically (see Engine.reload)."""
        if isinstance(source, ScenarioSet):
            new_set = source
        else:
            paths = list(source) if source is not None else self.paths
            new_set = load_scenarios(paths, self._cfg, self.set.kinds, await self._store.parameters())
        async with self._lock:
            old = self._runs.scenarios
            result = _compare(old, new_set)
            if self._frozen:  # the set being replaced must be collectable again
                gc.unfreeze()
                self._frozen = False
            for sid in (*result.changed, *result.removed):
                self._teardown(old[sid], forget=sid in result.removed)
            persisted = await self.read_persisted()
            # From here on synchronous: the new set goes live in one step.
            forget()  # caches keyed by id(); ids of dropped models may be reused by new ones
            kept = {sid: old[sid] for sid in result.unchanged}
            self._runs.scenarios = {}
            for s in new_set.scenarios:
                if s.id in kept:
                    self._runs.scenarios[s.id] = kept[s.id]
                    kept[s.id].loaded = s  # same digest; file/line may have moved
                else:
                    self.install(s)
            self.set = new_set
            self.restore({*result.added, *result.changed}, persisted)
            self._keep_out_of_collections(collect=True)
            log.info("scenarios reloaded: %s", result)
            return result

    def _teardown(self, sc: ScenarioRuntime, *, forget: bool) -> None:
        if sc.detach is not None:
            sc.detach(keep_rows=not forget)
            sc.detach = None
        self._timers.forget_latches(sc.id)
        for run in list(sc.active.values()):
            run.detached = not forget
            run.cancel_reason = "stopped: the scenario was removed" if forget else "reload"
            if run.task is not None:
                run.task.cancel()
        sc.active.clear()
        sc.queue.clear()
        if forget:
            self._store.forget_scenario(sc.id)

    def request(self) -> None:
        """Ask for a reload from the configured folders (safe from a signal handler)."""
        self._wanted.set()

    async def serve_requests(self, forget: Callable[[], None]) -> None:
        """Reload whenever asked, until cancelled; a refused reload leaves everything running."""
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            try:
                result = await self.reload(None, forget)
                self.last_reload_problems = []
                log.info("reload: %s", result)
            except ConfigError as exc:
                self.last_reload_problems = [str(p) for p in exc.problems]
                log.error("reload refused, the running scenarios stay as they were:\n%s", exc)
            except Exception as exc:  # whatever a file does, the running set must survive it
                self.last_reload_problems = [f"loading the scenarios failed: {type(exc).__name__}: "
                                             f"{str(exc)[:200]}"]
                log.error("reload refused, the running scenarios stay as they were: %s",
                          self.last_reload_problems[0], exc_info=True)


def _compare(old: dict[str, ScenarioRuntime], new_set: ScenarioSet) -> ReloadResult:
    new_ids = [s.id for s in new_set.scenarios]
    added = tuple(i for i in new_ids if i not in old)
    removed = tuple(i for i in old if i not in new_ids)
    changed = tuple(s.id for s in new_set.scenarios
                    if s.id in old and old[s.id].loaded.digest != s.digest)
    unchanged = tuple(i for i in new_ids if i not in added and i not in changed)
    return ReloadResult(added=added, changed=changed, removed=removed, unchanged=unchanged)
