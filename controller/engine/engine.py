"""The rule engine: runs scenarios on hub events, with durable timers and a trace of every run.

Hot path: a synchronous bus listener looks the event up in an index ((device, attribute) ->
triggers), compares values and, when a trigger fires and its conditions hold, runs the actions
right there until the first one that has to wait (an alert to store, a delay, a wait). Only
then does the run become a task, under the engine's TaskGroup. A motion -> light scenario
therefore costs a few dictionary lookups and one `hub.command`, with no task switch.

Durability: pending `for:` timers, delays and waits are written to SQLite (through a queue, off
the hot path); a new engine on the same file picks them up at their original deadlines.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import logging
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from controller.config import HomeConfig
from controller.durations import format_duration
from controller.engine import model as m
from controller.engine.alerts import ALERT_EVENT, AlertSink
from controller.engine.loader import (
    LoadedScenario,
    ScenarioSet,
    config_scenario_paths,
    load_scenarios,
    select_devices,
)
from controller.engine.persist import EngineStore
from controller.engine.rules import (
    Cond,
    EventTriggerRT,
    HubTriggerRT,
    SimpleTriggerRT,
    StateTriggerRT,
    TriggerRT,
    compile_condition,
    compile_trigger,
    describe_value,
    evaluate,
    in_choice,
)
from controller.engine.sun import (
    next_sun_event,
    next_time_of_day,
    spoken_date,
    spoken_duration,
    sun_event,
    weekday_name,
)
from controller.engine.templates import Template, lookup_path, parse_template
from controller.engine.traces import (
    CANCELLED,
    COMPLETED,
    ERROR,
    NOT_FIRED,
    SKIPPED,
    STOPPED,
    WAITING,
    RunTrace,
    Trace,
    link_text,
    load_traces,
)
from controller.events import (
    AVAILABILITY,
    DEVICE_EVENT,
    HUB_STATUS,
    PAYLOAD_ERROR,
    STATE_CHANGED,
    Context,
    Event,
    new_id,
)
from controller.hub import Hub
from controller.store import Database

log = logging.getLogger(__name__)

HOUSE_CHANGED = "house_changed"
ANNOUNCE_TOPIC = "huis/announce"
_ASYNC_ACTIONS = ("alert", "resolve", "delay", "wait")
_LATE = timedelta(seconds=1)
_EARLY_LIMIT = 10_000
_EARLY_TYPES = frozenset({STATE_CHANGED, DEVICE_EVENT, AVAILABILITY, ALERT_EVENT, PAYLOAD_ERROR,
                          HUB_STATUS})  # a timer this much past its deadline says so in its trace


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


@dataclass(slots=True, eq=False, kw_only=True)
class _Scenario:
    """A loaded scenario and its running parts."""

    loaded: LoadedScenario
    triggers: list[TriggerRT]
    conditions: list[Cond]
    params: dict[str, Any]
    templates: dict[str, Template] = field(default_factory=dict)
    active: dict[str, _Run] = field(default_factory=dict)
    queue: deque[_Run] = field(default_factory=deque)
    last_start: datetime | None = None

    @property
    def id(self) -> str:
        return self.loaded.id

    @property
    def model(self) -> m.Scenario:
        return self.loaded.model


@dataclass(slots=True, eq=False, kw_only=True)
class _Run:
    id: str
    sc: _Scenario
    vars: dict[str, Any]
    ctx: Context
    trace: RunTrace
    frames: list[list[Any]] = field(default_factory=lambda: [["actions", 0]])
    resume_deadline: datetime | None = None
    resuming: bool = False
    task: asyncio.Task[None] | None = None
    persisted: bool = False
    detached: bool = False  # stopped for a reload or shutdown: the persisted row stays
    done: bool = False
    cancel_reason: str = ""


@dataclass(slots=True, eq=False, kw_only=True)
class _Timer:
    key: str
    trigger: StateTriggerRT
    slot: str
    since: datetime
    deadline: datetime
    tvars: dict[str, Any]
    ctx: Context
    cancelled: bool = False


@dataclass(slots=True, kw_only=True)
class _Persisted:
    timers: list[dict[str, Any]]
    runs: list[dict[str, Any]]
    latches: set[str]


_MISSED_AFTER = timedelta(minutes=1)


class Engine:
    """Runs a set of scenarios against a hub. Supervise `run()` under the hub's TaskGroup."""

    def __init__(self, hub: Hub, db: Database, alerts: AlertSink, scenarios: ScenarioSet,
                 *, paths: Sequence[str | Path] | None = None) -> None:
        self.hub = hub
        self.cfg: HomeConfig = hub.config
        self.clock = hub.clock
        self.alerts = alerts
        self.paths = list(paths) if paths is not None else config_scenario_paths(hub.config)
        self.ready = asyncio.Event()
        self._store = EngineStore(db)
        self._db = db
        self._set = scenarios
        loc = self.cfg.home.location
        self._tz = ZoneInfo(loc.timezone)
        self._lat, self._lon = loc.latitude, loc.longitude
        self._language = self.cfg.home.language
        self._house = {"mode": "day", "presence": "home"}
        self._active_alerts: set[str] = set()
        self._scenarios: dict[str, _Scenario] = {}
        self._state_ix: dict[tuple[str, str], list[StateTriggerRT]] = {}
        self._event_ix: dict[str, list[EventTriggerRT]] = {}
        self._hub_ix: dict[str, list[HubTriggerRT]] = {}
        self._alert_trs: list[SimpleTriggerRT] = []
        self._house_trs: list[SimpleTriggerRT] = []
        self._loops: dict[int, asyncio.Task[None]] = {}
        self._timers: dict[str, _Timer] = {}
        self._wheel: list[tuple[datetime, int, _Timer]] = []
        self._wheel_seq = itertools.count()
        self._wheel_sleep: tuple[datetime, asyncio.Future[None]] | None = None
        self._wheel_idle = asyncio.Event()
        self._wheel_cancelled = 0
        self._device_cache: dict[str, dict[str, Any]] = {}
        self._latches: set[str] = set()
        self._previous: dict[tuple[str, str], Any] = {}
        self._changed: dict[tuple[str, str], datetime] = {}
        self._available: dict[str, bool] = {}
        self._tg: asyncio.TaskGroup | None = None
        self._unsubscribe: list[Callable[[], None]] = []
        self._reload_lock = asyncio.Lock()
        self._reload_wanted = asyncio.Event()
        self._stopping = False
        # Events between construction and `run()` being ready (the MQTT link may deliver
        # retained states first) are kept and handled once the engine is restored.
        self._early: list[Event] | None = []
        self._early_unsubscribe = hub.bus.subscribe(self._buffer_early)
        # Compiled `if` conditions by action object (models are frozen and live as long as the set).
        self._if_conditions: dict[int, list[Cond]] = {}
        self._commands: dict[int, tuple[list[str], dict[str, Any], str]] = {}
        self.last_reload_problems: list[str] = []

    # -- lifecycle ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Restore persisted timers and runs, then handle events until cancelled."""
        await self._store.migrate()
        overrides = await self._store.parameters()
        if overrides and self._set.files:
            # Parameters set on the dashboard live in SQLite; the files hold the defaults.
            from controller.errors import ConfigError

            try:
                self._set = load_scenarios(self._set.files, self.cfg, self._set.kinds, overrides)
            except ConfigError as exc:
                log.error("stored parameter overrides do not fit the scenarios any more; running "
                          "with the files' defaults:\n%s", exc)
        house = await self._store.house()
        self._house.update({k: v for k, v in house.items() if k in self._house})
        # Optional on the sink: which alerts are active, so `type: alert` conditions are right
        # after a restart too (the engine otherwise only knows what it saw since it started).
        active_keys = getattr(self.alerts, "active_keys", None)
        if active_keys is not None:
            self._active_alerts = set(await active_keys())
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                tg.create_task(self._store.run(), name="engine-writer")
                tg.create_task(self._timer_loop(), name="engine-timers")
                persisted = await self._read_persisted()
                # Values the hub already knows have held "since at least now": `for:` conditions
                # then count from the engine's start rather than never being true.
                started = self.clock.now()
                for st in self.hub.state.all():
                    for attr in st.attributes:
                        self._changed.setdefault((st.device, attr), started)
                for loaded in self._set.scenarios:
                    self._install(loaded)
                self._restore(set(self._scenarios), persisted, early=True)
                self._subscribe()
                self.ready.set()
                tg.create_task(self._reload_requests(), name="engine-reload")
                try:
                    await asyncio.Event().wait()
                except asyncio.CancelledError:
                    # Stopping is not cancelling: pending delays and waits stay in SQLite so the
                    # next start resumes them.
                    self._stopping = True
                    for sc in self._scenarios.values():
                        for run in sc.active.values():
                            run.detached = True
                    raise
        finally:
            if self._early is not None:
                self._early = None
                self._early_unsubscribe()
            for unsubscribe in self._unsubscribe:
                unsubscribe()
            self._unsubscribe.clear()
            self._tg = None
            self.ready.clear()

    async def flush(self) -> None:
        """Wait until every queued database write is committed."""
        await self._store.flush()

    @property
    def scenario_set(self) -> ScenarioSet:
        """The scenarios running now."""
        return self._set

    def _subscribe(self) -> None:
        bus = self.hub.bus
        self._unsubscribe = [
            bus.subscribe(self._on_state, STATE_CHANGED),
            bus.subscribe(self._on_device_event, DEVICE_EVENT),
            bus.subscribe(self._on_availability, AVAILABILITY),
            bus.subscribe(self._on_alert, ALERT_EVENT),
            bus.subscribe(self._on_house, HOUSE_CHANGED),
            bus.subscribe(self._on_payload_error, PAYLOAD_ERROR),
            bus.subscribe(self._on_hub_status, HUB_STATUS),
        ]

    def _task(self, coro: Any, name: str) -> asyncio.Task[None]:
        if self._tg is None:
            coro.close()
            raise RuntimeError("the engine is not running (await engine.run() first)")
        return self._tg.create_task(coro, name=name)

    # -- installing scenarios -------------------------------------------------------------------

    def _install(self, loaded: LoadedScenario) -> _Scenario:
        model = loaded.model
        sc = _Scenario(
            loaded=loaded,
            triggers=[compile_trigger(model.id, i, t, self.cfg) for i, t in enumerate(model.triggers)],
            conditions=[compile_condition(c, self.cfg) for c in model.conditions],
            params=loaded.param_values(),
        )
        for tr in sc.triggers:
            tr.fire = self._fire
        self._scenarios[sc.id] = sc
        if model.enabled:
            self._register(sc.triggers)
        return sc

    def _register(self, trs: Iterable[TriggerRT]) -> None:
        for tr in trs:
            if isinstance(tr, StateTriggerRT):
                for dev in tr.devices:
                    self._state_ix.setdefault((dev, tr.attribute), []).append(tr)
            elif isinstance(tr, EventTriggerRT):
                for dev in tr.devices:
                    self._event_ix.setdefault(dev, []).append(tr)
            elif isinstance(tr, HubTriggerRT):
                self._hub_ix.setdefault(tr.event, []).append(tr)
            elif isinstance(tr.model, m.AlertTrigger):
                self._alert_trs.append(tr)  # type: ignore[arg-type]
            elif isinstance(tr.model, m.ModeTrigger | m.PresenceTrigger):
                self._house_trs.append(tr)  # type: ignore[arg-type]
            elif isinstance(tr.model, m.TimeTrigger | m.SunTrigger):
                self._loops[id(tr)] = self._task(self._time_loop(tr), f"time {tr.key}")

    def _unregister(self, trs: Iterable[TriggerRT], *, keep_rows: bool) -> None:
        for tr in trs:
            if isinstance(tr, StateTriggerRT):
                for dev in tr.devices:
                    bucket = self._state_ix.get((dev, tr.attribute), [])
                    if tr in bucket:
                        bucket.remove(tr)
                for key in [k for k, t in self._timers.items() if t.trigger is tr]:
                    timer = self._timers.pop(key)
                    timer.cancelled = True
                    if not keep_rows and tr.durable:
                        self._store.delete_timer(key)
            elif isinstance(tr, EventTriggerRT):
                for dev in tr.devices:
                    bucket2 = self._event_ix.get(dev, [])
                    if tr in bucket2:
                        bucket2.remove(tr)
            elif isinstance(tr, HubTriggerRT):
                bucket3 = self._hub_ix.get(tr.event, [])
                if tr in bucket3:
                    bucket3.remove(tr)
            for lst in (self._alert_trs, self._house_trs):
                if tr in lst:
                    lst.remove(tr)  # type: ignore[arg-type]
            loop = self._loops.pop(id(tr), None)
            if loop is not None:
                loop.cancel()

    # -- restore (start-up and reload) ----------------------------------------------------------

    async def _read_persisted(self) -> _Persisted:
        await self._store.flush()
        return _Persisted(timers=await self._store.timers(), runs=await self._store.runs(),
                          latches=await self._store.latches())

    def _buffer_early(self, event: Event) -> None:
        if self._early is not None and len(self._early) < _EARLY_LIMIT and event.type in _EARLY_TYPES:
            self._early.append(event)

    def _replay_early(self) -> None:
        early, self._early = self._early or [], None
        self._early_unsubscribe()
        handlers = {STATE_CHANGED: self._on_state, DEVICE_EVENT: self._on_device_event,
                    AVAILABILITY: self._on_availability, ALERT_EVENT: self._on_alert,
                    PAYLOAD_ERROR: self._on_payload_error, HUB_STATUS: self._on_hub_status}
        for event in early:
            try:
                handlers[event.type](event)
            except Exception:
                log.exception("engine: handling an early %s event failed", event.type)

    def _restore(self, ids: set[str], persisted: _Persisted, *, early: bool = False) -> None:
        """Re-arm persisted timers and runs of scenarios `ids`, then fire what is already true.

        Synchronous on purpose: no event can slip in between reading the state and acting on it.
        """
        now = self.clock.now()
        owners = {tr.key: tr for sid in ids if sid in self._scenarios
                  for tr in self._scenarios[sid].triggers}
        for key in persisted.latches:
            if key.rsplit("|", 1)[0] in owners:
                self._latches.add(key)
        for row in persisted.timers:
            if row["scenario"] not in ids:
                continue
            self._restore_timer(row, owners, now)
        for row in persisted.runs:
            if row["scenario"] not in ids:
                continue
            self._restore_run(row)
        if early:
            # After the persisted timers (a retained "still empty" must not restart a count),
            # before the start-up evaluation (which then sees what these events already fired).
            self._replay_early()
        for sid in ids:
            sc = self._scenarios.get(sid)
            if sc is None or not sc.model.enabled:
                continue
            for tr in sc.triggers:
                if isinstance(tr, StateTriggerRT) and tr.test.has_target and tr.from_test is None:
                    self._evaluate_at_start(tr, now)

    def _restore_timer(self, row: dict[str, Any], owners: dict[str, TriggerRT], now: datetime) -> None:
        key: str = row["key"]
        trigger_key, _, slot = key.rpartition("|")
        tr = owners.get(trigger_key)
        data = json.loads(row["data"])
        sc = self._scenarios.get(row["scenario"])
        if not isinstance(tr, StateTriggerRT) or tr.for_ is None or sc is None or not sc.model.enabled:
            self._store.delete_timer(key)
            return
        since = datetime.fromisoformat(row["since"])
        deadline = since + tr.for_  # the trigger's current `for:`, counted from the original start
        devices = tr.devices if slot == "*" else (slot,)
        values = {d: self.value(d, tr.attribute) for d in devices}
        contradicting = [d for d, v in values.items() if v is not None and not tr.test(v)]
        if contradicting:
            self._store.delete_timer(key)
            d = contradicting[0]
            trace = RunTrace.start(new_id("run"), sc.id, now, data.get("trigger", {}),
                                   _context_from(data.get("cause")))
            trace.finish(NOT_FIRED, now, f"cancelled at start-up: {d}.{tr.attribute} is now "
                         f"{describe_value(values[d])}")
            self._save_trace(trace)
            return
        if slot == "*":
            tr.holding = True
        ctx = _context_from(data.get("cause"))
        self._start_timer(tr, slot, since, deadline, data.get("trigger", {}), ctx, persist=False)

    def _restore_run(self, row: dict[str, Any]) -> None:
        sc = self._scenarios.get(row["scenario"])
        trace = RunTrace.from_dict(json.loads(row["trace"]))
        now = self.clock.now()
        if sc is None or sc.loaded.actions_digest != row["actions_digest"] or not sc.model.enabled:
            self._store.delete_run(row["run_id"])
            trace.finish(CANCELLED, now, "cancelled: the scenario's actions changed (or it was "
                         "disabled) while this run was waiting")
            self._save_trace(trace)
            return
        variables = json.loads(row["variables"])
        variables["params"] = sc.params
        run = _Run(id=row["run_id"], sc=sc, vars=variables,
                   ctx=_context_from(trace.cause), trace=trace, frames=json.loads(row["frames"]),
                   resume_deadline=datetime.fromisoformat(row["deadline"]) if row["deadline"] else None,
                   resuming=True, persisted=True)
        trace.notes.append(f"resumed at {now.isoformat()} after a restart or reload")
        sc.active[run.id] = run
        run.task = self._task(self._drive(run), f"run {run.id}")

    def _evaluate_at_start(self, tr: StateTriggerRT, now: datetime) -> None:
        slots = ("*",) if tr.match_all else tr.devices
        for slot in slots:
            key = f"{tr.key}|{slot}"
            if slot == "*":
                values = [self.value(d, tr.attribute) for d in tr.devices]
                holds = all(tr.test(v) for v in values)
                dev, value = (tr.devices[0] if tr.devices else ""), (values[0] if values else None)
            else:
                dev, value = slot, self.value(slot, tr.attribute)
                holds = tr.test(value)
            if not holds:
                if key in self._latches and value is not None:
                    self._unlatch(tr, key)
                continue
            if slot == "*":
                tr.holding = True
            if key in self._timers or key in self._latches:
                continue  # already counting (persisted) or already fired for this episode
            ctx = Context(origin="engine", description=f"at start-up {dev}.{tr.attribute} was "
                          f"already {describe_value(value)}")
            self._begin(tr, slot, dev, None, value, ctx, now)

    # -- reload ---------------------------------------------------------------------------------

    async def reload(self, source: ScenarioSet | Sequence[str | Path] | None = None) -> ReloadResult:
        """Swap in a new set of scenarios atomically.

        `source` is a validated set, or paths to load (default: the configured folders). Raises
        ConfigError listing every problem, leaving the running scenarios untouched.
        """
        if isinstance(source, ScenarioSet):
            new_set = source
        else:
            paths = list(source) if source is not None else self.paths
            new_set = load_scenarios(paths, self.cfg, self._set.kinds, await self._store.parameters())
        async with self._reload_lock:
            old = self._scenarios
            new_ids = [s.id for s in new_set.scenarios]
            added = tuple(i for i in new_ids if i not in old)
            removed = tuple(i for i in old if i not in new_ids)
            changed = tuple(s.id for s in new_set.scenarios
                            if s.id in old and old[s.id].loaded.digest != s.digest)
            unchanged = tuple(i for i in new_ids if i not in added and i not in changed)
            for sid in (*changed, *removed):
                self._teardown(old[sid], forget=sid in removed)
            persisted = await self._read_persisted()
            # From here on synchronous: the new set goes live in one step.
            # Caches are keyed by id(); ids of dropped models may be reused by new ones.
            self._if_conditions.clear()
            self._commands.clear()
            kept = {sid: old[sid] for sid in unchanged}
            self._scenarios = {}
            for s in new_set.scenarios:
                if s.id in kept:
                    self._scenarios[s.id] = kept[s.id]
                    kept[s.id].loaded = s  # same digest; file/line may have moved
                else:
                    self._install(s)
            self._set = new_set
            self._restore({*added, *changed}, persisted)
            result = ReloadResult(added=added, changed=changed, removed=removed, unchanged=unchanged)
            log.info("scenarios reloaded: %s", result)
            return result

    def _teardown(self, sc: _Scenario, *, forget: bool) -> None:
        self._unregister(sc.triggers, keep_rows=not forget)
        for key in [k for k in self._latches if k.startswith(f"{sc.id}|")]:
            self._latches.discard(key)
        for run in list(sc.active.values()):
            run.detached = not forget
            run.cancel_reason = "stopped: the scenario was removed" if forget else "reload"
            if run.task is not None:
                run.task.cancel()
        sc.active.clear()
        sc.queue.clear()
        if forget:
            self._store.forget_scenario(sc.id)

    def request_reload(self) -> None:
        """Ask for a reload from the configured folders (safe from a signal handler)."""
        self._reload_wanted.set()

    async def _reload_requests(self) -> None:
        from controller.errors import ConfigError

        while True:
            await self._reload_wanted.wait()
            self._reload_wanted.clear()
            try:
                result = await self.reload()
                self.last_reload_problems = []
                log.info("reload: %s", result)
            except ConfigError as exc:
                self.last_reload_problems = [str(p) for p in exc.problems]
                log.error("reload refused, the running scenarios stay as they were:\n%s", exc)

    async def set_parameters(self, scope: str, values: dict[str, Any]) -> ReloadResult:
        """Override parameters of a file (its name) or scenario (its id) and reload.

        The new values are validated with everything else first; ConfigError leaves both the
        stored overrides and the running scenarios as they were.
        """
        overrides = await self._store.parameters()
        merged = {**overrides, scope: {**overrides.get(scope, {}), **values}}
        new_set = load_scenarios(self._set.files, self.cfg, self._set.kinds, merged)
        await self._store.set_parameters(scope, values)
        return await self.reload(new_set)

    # -- the environment conditions and templates see --------------------------------------------

    def value(self, device: str, attribute: str) -> Any:
        """A device attribute's current value (None when unknown)."""
        if attribute == "available":
            st = self.hub.state
            return st.get(device).available if device in st else None
        return self.hub.state.attribute(device, attribute)

    def changed_at(self, device: str, attribute: str) -> datetime | None:
        return self._changed.get((device, attribute))

    def now(self) -> datetime:
        return self.clock.now()

    def local_now(self) -> datetime:
        return self.clock.now().astimezone(self._tz)

    def house(self, name: str) -> str:
        return self._house[name]

    def alert_active(self, key: str) -> bool:
        return key in self._active_alerts

    def sun_time(self, day: date, event: str) -> datetime | None:
        return sun_event(self._lat, self._lon, day, event, self._tz)

    @property
    def mode(self) -> str:
        """The house mode: day, night, away or holiday."""
        return self._house["mode"]

    @property
    def presence(self) -> str:
        """The resident's presence: home or away."""
        return self._house["presence"]

    def set_mode(self, mode: str, ctx: Context) -> None:
        """Change the house mode (dashboard, scenarios); announced as a house_changed event."""
        if mode not in m.MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(m.MODES)}")
        self._set_house("mode", mode, ctx)

    def set_presence(self, presence: str, ctx: Context) -> None:
        """Change the resident's presence (home/away)."""
        if presence not in m.PRESENCES:
            raise ValueError(f"unknown presence {presence!r}; one of {', '.join(m.PRESENCES)}")
        self._set_house("presence", presence, ctx)

    def _set_house(self, name: str, value: str, ctx: Context) -> None:
        old = self._house[name]
        if old == value:
            return
        self._house[name] = value
        self._store.set_house(name, value)
        self.hub.bus.publish(Event(type=HOUSE_CHANGED, time=self.clock.now(), context=ctx,
                                   data={"changes": {name: (old, value)}}))

    async def traces(self, scenario: str | None = None, limit: int = 20) -> list[Trace]:
        """Recent traces (committed first), newest first."""
        await self.flush()
        return await load_traces(self._db, scenario, limit)

    def status(self) -> list[dict[str, Any]]:
        """Per scenario: id, description, file, enabled, runs going, timers pending (dashboard)."""
        out = []
        for sc in self._scenarios.values():
            out.append({
                "id": sc.id, "description": sc.model.description, "file": sc.loaded.file,
                "line": sc.loaded.line, "enabled": sc.model.enabled, "mode": sc.model.mode,
                "running": len(sc.active), "queued": len(sc.queue),
                "timers": sorted(t.deadline.isoformat() for t in self._timers.values()
                                 if t.trigger.owner == sc.id),
                "parameters": {n: {"value": describe_value(p.value), "scope": p.scope,
                                   "description": p.definition.description,
                                   "overridden": p.overridden}
                               for n, p in sc.loaded.parameters.items()},
            })
        return out

    def trigger_now(self, scenario: str, ctx: Context) -> None:
        """Run a scenario by hand (dashboard "test"); conditions still apply and are traced."""
        sc = self._scenarios[scenario]
        tr = SimpleTriggerRT(owner=sc.id, index=-1, id="manual", model=None,
                             description="started by hand", key=f"{sc.id}|manual")
        self._fire(tr, {"type": "manual"}, ctx)

    # -- events ---------------------------------------------------------------------------------

    def _on_state(self, event: Event) -> None:
        dev = event.device
        if dev is None:
            return
        now = event.time
        ctx = event.context
        for attr, change in event.data.get("changes", {}).items():
            old, new = change
            key = (dev, attr)
            self._previous[key] = old
            self._changed[key] = now
            trs = self._state_ix.get(key)
            if trs:
                for tr in tuple(trs):
                    self._state_trigger(tr, dev, old, new, ctx, now)
            if attr == "battery":
                self._battery(dev, old, new, ctx)

    def _state_trigger(self, tr: StateTriggerRT, dev: str, old: Any, new: Any, ctx: Context,
                       now: datetime) -> None:
        if tr.match_all:
            attr = tr.attribute
            holds = all(tr.test(new if d == dev else self.value(d, attr)) for d in tr.devices)
            if holds and not tr.holding:
                tr.holding = True
                self._begin(tr, "*", dev, old, new, ctx, now)
            elif not holds and tr.holding:
                tr.holding = False
                self._end(tr, "*", dev, new, now)
            return
        if tr.test.has_target:
            if tr.test(new):
                if not tr.test(old) and tr.from_ok(old):
                    self._begin(tr, dev, dev, old, new, ctx, now)
            else:
                self._end(tr, dev, dev, new, now)
        elif tr.from_ok(old):
            self._begin(tr, dev, dev, old, new, ctx, now)

    def _begin(self, tr: StateTriggerRT, slot: str, dev: str, old: Any, new: Any, ctx: Context,
               now: datetime) -> None:
        tvars = self._device_vars(dev)
        tvars.update({"attribute": tr.attribute, "from": old, "to": new, "value": new})
        key = f"{tr.key}|{slot}"
        if tr.for_ is None:
            self._latch(tr, key)
            assert tr.fire is not None
            tr.fire(tr, tvars, ctx)
            return
        tvars["for"] = spoken_duration(tr.for_, self._language)
        existing = self._timers.get(key)
        if existing is not None:
            if tr.test.has_target:
                return  # still matching: the original deadline stands
            self._cancel_timer(existing)
        self._start_timer(tr, slot, now, now + tr.for_, tvars, ctx, persist=True)

    def _end(self, tr: StateTriggerRT, slot: str, dev: str, new: Any, now: datetime) -> None:
        key = f"{tr.key}|{slot}"
        if key in self._latches:
            self._unlatch(tr, key)
        timer = self._timers.get(key)
        if timer is None:
            return
        self._cancel_timer(timer)
        if tr.durable and tr.owner in self._scenarios:
            trace = RunTrace.start(new_id("run"), tr.owner, now,
                                   {"id": tr.id, "type": "state", "description": tr.description,
                                    **timer.tvars}, timer.ctx)
            assert tr.for_ is not None
            trace.finish(NOT_FIRED, now, f"cancelled: {dev}.{tr.attribute} became "
                         f"{describe_value(new)} after {format_duration(now - timer.since)} "
                         f"(needed {format_duration(tr.for_)})")
            self._save_trace(trace)

    def _latch(self, tr: TriggerRT, key: str) -> None:
        if isinstance(tr, StateTriggerRT) and tr.test.has_target and key not in self._latches:
            self._latches.add(key)
            if tr.durable:
                self._store.set_latch(key, tr.owner)

    def _unlatch(self, tr: TriggerRT, key: str) -> None:
        self._latches.discard(key)
        if tr.durable:
            self._store.clear_latch(key)

    def _start_timer(self, tr: StateTriggerRT, slot: str, since: datetime, deadline: datetime,
                     tvars: dict[str, Any], ctx: Context, *, persist: bool) -> None:
        key = f"{tr.key}|{slot}"
        timer = _Timer(key=key, trigger=tr, slot=slot, since=since, deadline=deadline,
                       tvars=tvars, ctx=ctx)
        self._timers[key] = timer
        self._schedule(timer)
        if persist and tr.durable:
            self._store.save_timer(key, tr.owner, since, deadline, tvars, ctx)

    def _cancel_timer(self, timer: _Timer) -> None:
        if self._timers.get(timer.key) is timer:
            del self._timers[timer.key]
        timer.cancelled = True
        self._wheel_cancelled += 1
        if timer.trigger.durable:
            self._store.delete_timer(timer.key)

    # One task sleeps until the earliest `for:` deadline: a sensor that flips all day costs a
    # heap push per edge, not a task each.

    def _schedule(self, timer: _Timer) -> None:
        heapq.heappush(self._wheel, (timer.deadline, next(self._wheel_seq), timer))
        sleeping = self._wheel_sleep
        if sleeping is None:
            self._wheel_idle.set()
        elif timer.deadline < sleeping[0]:
            sleeping[1].cancel()  # re-plan for the earlier deadline
        if self._wheel_cancelled > 1000 and self._wheel_cancelled * 2 > len(self._wheel):
            self._wheel = [entry for entry in self._wheel if not entry[2].cancelled]
            heapq.heapify(self._wheel)
            self._wheel_cancelled = 0

    async def _timer_loop(self) -> None:
        while True:
            now = self.clock.now()
            while self._wheel and self._wheel[0][0] <= now:
                timer = heapq.heappop(self._wheel)[2]
                if timer.cancelled:
                    self._wheel_cancelled = max(0, self._wheel_cancelled - 1)
                    continue
                try:
                    self._timer_due(timer)
                except Exception:  # one broken run must not stop every other timer
                    log.exception("timer %s failed", timer.key)
            if not self._wheel:
                self._wheel_idle.clear()
                await self._wheel_idle.wait()
                continue
            target = self._wheel[0][0]
            sleeper = asyncio.ensure_future(self.clock.sleep_until(target))
            self._wheel_sleep = (target, sleeper)
            try:
                await asyncio.wait({sleeper})
            finally:
                sleeper.cancel()
                self._wheel_sleep = None

    def _timer_due(self, timer: _Timer) -> None:
        if self._timers.get(timer.key) is not timer:
            return
        del self._timers[timer.key]
        tr = timer.trigger
        if tr.durable:
            self._store.delete_timer(timer.key)
        now = self.clock.now()
        tvars = dict(timer.tvars)
        late = now - timer.deadline
        if late >= _LATE:
            tvars["late"] = format_duration(late)
        assert tr.for_ is not None
        ctx = timer.ctx.child(origin="timer", description=f"for {format_duration(tr.for_)} "
                              f"(deadline {timer.deadline.isoformat()})")
        self._latch(tr, timer.key)
        assert tr.fire is not None
        tr.fire(tr, tvars, ctx)

    def _battery(self, dev: str, old: Any, new: Any, ctx: Context) -> None:
        for tr in tuple(self._hub_ix.get("battery_low", ())):
            if tr.devices is not None and dev not in tr.devices:
                continue
            if _number(new) and new < tr.below and not (_number(old) and old < tr.below):
                tvars = self._device_vars(dev)
                tvars.update({"event": "battery_low", "attribute": "battery", "from": old,
                              "to": new, "value": new})
                assert tr.fire is not None
                tr.fire(tr, tvars, ctx)

    def _on_device_event(self, event: Event) -> None:
        dev = event.device
        trs = self._event_ix.get(dev) if dev is not None else None
        if not trs or dev is None:
            return
        name = event.data.get("event")
        data = {k: v for k, v in event.data.items() if k != "event"}
        for tr in tuple(trs):
            if tr.events is not None and name not in tr.events:
                continue
            if any(_norm(data.get(k)) != v for k, v in tr.data.items()):
                continue
            tvars = self._device_vars(dev)
            tvars.update({"event": name, "data": data})
            assert tr.fire is not None
            tr.fire(tr, tvars, event.context)

    def _on_availability(self, event: Event) -> None:
        dev = event.device
        if dev is None:
            return
        online = bool(event.data.get("online"))
        old = self._available.get(dev)
        self._available[dev] = online
        self._on_state(Event(type=STATE_CHANGED, time=event.time, context=event.context,
                             device=dev, data={"changes": {"available": (old, online)}}))
        name = "device_online" if online else "device_offline"
        for tr in tuple(self._hub_ix.get(name, ())):
            if tr.devices is None or dev in tr.devices:
                tvars = self._device_vars(dev)
                tvars.update({"event": name, "data": {"reason": event.data.get("reason")}})
                assert tr.fire is not None
                tr.fire(tr, tvars, event.context)

    def _on_payload_error(self, event: Event) -> None:
        dev = event.device
        for tr in tuple(self._hub_ix.get("payload_error", ())):
            if tr.devices is None or dev in tr.devices:
                tvars = self._device_vars(dev) if dev else {}
                tvars.update({"event": "payload_error", "data": dict(event.data)})
                assert tr.fire is not None
                tr.fire(tr, tvars, event.context)

    def _on_hub_status(self, event: Event) -> None:
        connected = event.data.get("mqtt_connected")
        if connected is None:
            return
        name = "mqtt_connected" if connected else "mqtt_disconnected"
        for tr in tuple(self._hub_ix.get(name, ())):
            assert tr.fire is not None
            tr.fire(tr, {"event": name}, event.context)

    def _on_alert(self, event: Event) -> None:
        d = event.data
        action, key = d.get("action"), d.get("key")
        if isinstance(key, str):
            if action == "raised":
                self._active_alerts.add(key)
            elif action == "resolved":
                self._active_alerts.discard(key)
        for tr in tuple(self._alert_trs):
            t: m.AlertTrigger = tr.model
            if not in_choice(action, t.action) or (t.key is not None and t.key != key):
                continue
            if (t.scenario is not None and t.scenario != d.get("scenario")) or \
                    not in_choice(d.get("severity"), t.severity):
                continue
            tvars = {"event": action, "action": action, "key": key, "scenario": d.get("scenario"),
                     "severity": d.get("severity"), "by": d.get("by"),
                     "data": {k: v for k, v in d.items() if isinstance(v, str | int | float | bool)}}
            assert tr.fire is not None
            tr.fire(tr, tvars, event.context)

    def _on_house(self, event: Event) -> None:
        for name, (old, new) in event.data.get("changes", {}).items():
            for tr in tuple(self._house_trs):
                t = tr.model
                if (name == "mode") != isinstance(t, m.ModeTrigger):
                    continue
                if t.to is not None and not in_choice(new, t.to):
                    continue
                if t.from_ is not None and not in_choice(old, t.from_):
                    continue
                assert tr.fire is not None
                tr.fire(tr, {"attribute": name, "from": old, "to": new, "value": new}, event.context)

    async def _time_loop(self, tr: TriggerRT) -> None:
        t = tr.model
        while True:
            now = self.clock.now()
            if isinstance(t, m.TimeTrigger):
                times = t.at if isinstance(t.at, list) else [t.at]
                when: datetime | None = next_time_of_day(now, times, self._tz, t.weekdays)
            else:
                when = next_sun_event(now, self._lat, self._lon, t.event, t.offset, self._tz,
                                      t.weekdays)
            if when is None:
                return
            await self.clock.sleep_until(when)
            if self.clock.now() - when > _MISSED_AFTER:
                # The clock jumped (a demo fast-forward, a suspended host): a wake-up light at
                # 02:00 because 07:00 was skipped would be worse than no wake-up light.
                log.info("%s: %s missed (clock now %s)", tr.owner, when.isoformat(), self.clock.now().isoformat())
                continue
            local = self.local_now()
            ctx = Context(origin="clock", description=f"{tr.description} at {local:%H:%M}")
            assert tr.fire is not None
            tr.fire(tr, {"event": getattr(t, "event", "time"), "time": f"{local:%H:%M}"}, ctx)

    def _device_vars(self, dev: str) -> dict[str, Any]:
        cached = self._device_cache.get(dev)
        if cached is None:
            d = self.cfg.devices.get(dev)
            room = d.room if d else None
            cached = self._device_cache[dev] = {
                "device": dev, "device_name": (d.name if d and d.name else dev), "room": room,
                "room_name": self._room_name(room) if room else None}
        return dict(cached)

    def _room_name(self, room: str) -> str:
        r = self.cfg.rooms.get(room)
        if r is None:
            return room
        return (r.name_en or r.name) if self._language == "en" else r.name

    # -- runs -----------------------------------------------------------------------------------

    def _fire(self, tr: TriggerRT, tvars: dict[str, Any], ctx: Context) -> None:
        sc = self._scenarios.get(tr.owner)
        if sc is None or not sc.model.enabled:
            return
        now = self.clock.now()
        model = sc.model
        tvars["id"] = tr.id
        tvars["type"] = getattr(tr.model, "type", "manual")
        tvars["description"] = tr.description
        run_vars = {"trigger": tvars, "params": sc.params}
        # Checked before anything else is built: most triggers of a busy home end here.
        note = None
        results = evaluate(sc.conditions, self, run_vars) if sc.conditions else ()
        if model.cooldown is not None and sc.last_start is not None and \
                now - sc.last_start < model.cooldown:
            status = SKIPPED
            note = (f"skipped: cooldown ({format_duration(model.cooldown)}; last run started "
                    f"{format_duration(now - sc.last_start)} ago)")
        elif not all(ok for _, ok in results):
            status = NOT_FIRED
            note = "condition not met: " + "; ".join(c.description for c, ok in results if not ok)
        elif sc.active and model.mode == "single":
            status = SKIPPED
            note = "skipped: already running (mode single)"
        elif sc.active and model.mode == "queued" and len(sc.queue) >= model.max_queued:
            status = SKIPPED
            note = f"skipped: queue full ({model.max_queued})"
        run_id = new_id("run")
        cause = [f"scenario:{sc.id}: {tr.description}"]
        cause.extend(link_text(c) for c in ctx.chain())
        trace = RunTrace(run_id=run_id, scenario=sc.id, started=now, trigger=tvars, cause=cause,
                         conditions=[{"path": "", "condition": c.description, "result": ok}
                                     for c, ok in results])
        if note is not None:
            trace.finish(status, now, note)
            self._save_trace(trace)
            return
        run_ctx = ctx.child(origin=f"scenario:{sc.id}", description=tr.description)
        run = _Run(id=run_id, sc=sc, vars=run_vars, ctx=run_ctx, trace=trace)
        if sc.active:
            if model.mode == "restart":
                for other in list(sc.active.values()):
                    self._cancel_run(other, f"cancelled: restarted by {tr.description}")
            elif model.mode == "queued":
                trace.notes.append(f"queued behind {len(sc.active) + len(sc.queue)} run(s)")
                sc.queue.append(run)
                return
        self._start_run(run)

    def _start_run(self, run: _Run) -> None:
        sc = run.sc
        sc.active[run.id] = run
        sc.last_start = self.clock.now()
        try:
            finished = self._drive_sync(run)
        except Exception as exc:  # an engine bug: trace it, never take the hub down
            log.exception("run %s of %s failed", run.id, sc.id)
            self._finish(run, ERROR, f"engine error: {exc!r}")
            return
        if finished:
            self._finish(run, run.trace.status if run.trace.status == STOPPED else COMPLETED)
        else:
            run.task = self._task(self._drive(run), f"run {run.id}")

    def _cancel_run(self, run: _Run, reason: str) -> None:
        run.cancel_reason = reason
        if run.task is not None and not run.task.done():
            run.task.cancel()
        else:
            self._finish(run, CANCELLED, reason)

    def _finish(self, run: _Run, status: str, note: str | None = None) -> None:
        if run.done:
            return
        run.done = True
        sc = run.sc
        sc.active.pop(run.id, None)
        if run.persisted:
            self._store.delete_run(run.id)
            run.persisted = False
        run.trace.finish(status, self.clock.now(), note)
        self._save_trace(run.trace)
        if sc.queue and not sc.active and self._scenarios.get(sc.id) is sc:
            self._start_run(sc.queue.popleft())

    def _save_trace(self, trace: RunTrace) -> None:
        self._store.add_trace(trace)

    def _actions_at(self, run: _Run, depth: int) -> list[Any]:
        actions: list[Any] = run.sc.model.actions
        for k in range(1, depth + 1):
            parent = actions[run.frames[k - 1][1]]
            actions = parent.then if run.frames[k][0] == "then" else parent.else_
        return actions

    def _current(self, run: _Run) -> tuple[Any, str] | None:
        while run.frames:
            depth = len(run.frames) - 1
            actions = self._actions_at(run, depth)
            idx = run.frames[-1][1]
            if idx < len(actions):
                path = "".join(f"{'.' if i else ''}{b}[{n}]" for i, (b, n) in enumerate(run.frames))
                return actions[idx], path
            run.frames.pop()
            if run.frames:
                run.frames[-1][1] += 1
        return None

    def _drive_sync(self, run: _Run) -> bool:
        """Run actions until one must wait; True when the run is over."""
        while (cur := self._current(run)) is not None:
            action, path = cur
            if action.type in _ASYNC_ACTIONS:
                return False
            self._do_sync(run, action, path)
            if run.trace.status == STOPPED:
                return True
        return True

    async def _drive(self, run: _Run) -> None:
        try:
            while (cur := self._current(run)) is not None:
                action, path = cur
                if action.type in _ASYNC_ACTIONS:
                    if not await self._do_async(run, action, path):
                        self._finish(run, STOPPED)
                        return
                else:
                    self._do_sync(run, action, path)
                    if run.trace.status == STOPPED:
                        self._finish(run, STOPPED)
                        return
            self._finish(run, COMPLETED)
        except asyncio.CancelledError:
            if run.detached or self._stopping:
                if not run.persisted:
                    # Nothing to resume from: say so rather than vanish.
                    self._finish(run, CANCELLED, f"stopped ({run.cancel_reason or 'shutdown'}) "
                                 "before reaching a delay or wait")
                return
            self._finish(run, CANCELLED, run.cancel_reason or "cancelled")
        except Exception as exc:
            log.exception("run %s of %s failed", run.id, run.sc.id)
            self._finish(run, ERROR, f"engine error: {exc!r}")

    def _action_ctx(self, run: _Run, path: str, what: str) -> Context:
        return run.ctx.child(origin=f"scenario:{run.sc.id}", description=f"{path} {what}")

    def _record(self, run: _Run, path: str, what: str, outcome: str, ok: bool,
                ctx: Context | None = None) -> None:
        run.trace.action(path, what, outcome, ok, self.clock.now(), ctx)

    def _do_sync(self, run: _Run, action: Any, path: str) -> None:
        kind = action.type
        if kind == "if":
            conds = self._if_conditions.get(id(action))
            if conds is None:
                conds = self._if_conditions[id(action)] = [compile_condition(c, self.cfg)
                                                           for c in action.conditions]
            results = evaluate(conds, self, run.vars)
            ok = all(r for _, r in results)
            desc = "if " + "; ".join(c.description for c, _ in results)
            self._record(run, path, desc, "then" if ok else "else", True)
            branch = "then" if ok else "else"
            run.frames.append([branch, 0])
            return
        run.frames[-1][1] += 1
        try:
            if kind in ("light", "curtain", "command"):
                cached = self._commands.get(id(action))
                if cached is None:
                    values = action.values() if kind != "command" else dict(action.values)
                    devices = select_devices(self.cfg, action.device,
                                             action.kind or (kind if kind != "command" else None),
                                             action.room)
                    cached = self._commands[id(action)] = (
                        devices, values, f"{kind} {', '.join(devices)} {_compact(values)}")
                devices, values, what = cached
                ctx = self._action_ctx(run, path, what)
                errors = []
                for dev in devices:
                    try:
                        self.hub.command(dev, values, ctx)
                    except (KeyError, ValueError) as exc:
                        errors.append(f"{dev}: {exc}")
                self._record(run, path, what, "; ".join(errors) or "sent", not errors, ctx)
            elif kind == "announce":
                self._announce(run, action, path)
            elif kind == "mqtt":
                topic = self._render(run, action.topic)
                if isinstance(action.payload, str):
                    payload = self._render(run, action.payload).encode()
                else:
                    payload = json.dumps({k: self._render(run, v) if isinstance(v, str) else v
                                          for k, v in action.payload.items()},
                                         ensure_ascii=False).encode()
                ctx = self._action_ctx(run, path, f"mqtt {topic}")
                self.hub.link.send(topic, payload, qos=action.qos, retain=action.retain)
                self._record(run, path, f"mqtt {topic}", f"published {len(payload)} bytes", True, ctx)
            elif kind == "set_mode":
                ctx = self._action_ctx(run, path, f"set mode {action.mode}")
                old = self._house["mode"]
                self.set_mode(action.mode, ctx)
                self._record(run, path, f"set mode {action.mode}", f"was {old}", True, ctx)
            elif kind == "set_presence":
                ctx = self._action_ctx(run, path, f"set presence {action.presence}")
                old = self._house["presence"]
                self.set_presence(action.presence, ctx)
                self._record(run, path, f"set presence {action.presence}", f"was {old}", True, ctx)
            elif kind == "cancel":
                targets = [action.scenario] if isinstance(action.scenario, str) else action.scenario
                count = 0
                for sid in targets:
                    other = self._scenarios.get(sid)
                    if other is None:
                        continue
                    count += len(other.queue)
                    other.queue.clear()
                    for r in list(other.active.values()):
                        if r is not run:
                            count += 1
                            self._cancel_run(r, f"cancelled by scenario {run.sc.id}")
                self._record(run, path, f"cancel {', '.join(targets)}", f"{count} run(s) cancelled", True)
            else:  # pragma: no cover - every sync type is handled above
                raise TypeError(f"unknown action {kind}")
        except Exception as exc:
            log.exception("action %s of %s failed", path, run.sc.id)
            self._record(run, path, kind, f"failed: {exc}", False)

    def _announce(self, run: _Run, action: m.AnnounceAction, path: str) -> None:
        text = self._render(run, action.text)
        language = action.language or self._language
        what = f"announce {text!r}"
        ctx = self._action_ctx(run, path, what)
        if action.speaker is not None:
            speakers = [action.speaker]
        elif action.topic is not None:
            speakers = []
        else:
            speakers = [d for d, dev in self.cfg.devices.items() if dev.kind == "speaker"]
        if not speakers:
            topic = action.topic or ANNOUNCE_TOPIC
            self.hub.link.send(topic, json.dumps({"text": text, "language": language},
                                                 ensure_ascii=False).encode(), qos=1, retain=False)
            self._record(run, path, what, f"published on {topic}", True, ctx)
            return
        errors = []
        for dev in speakers:
            try:
                self.hub.command(dev, {"say": text, "language": language}, ctx)
            except (KeyError, ValueError) as exc:
                errors.append(f"{dev}: {exc}")
        self._record(run, path, what, "; ".join(errors) or f"said on {', '.join(speakers)}",
                     not errors, ctx)

    async def _do_async(self, run: _Run, action: Any, path: str) -> bool:
        """Run one action that waits; False when the run should stop here."""
        kind = action.type
        if kind == "delay":
            return await self._delay(run, action, path)
        if kind == "wait":
            return await self._wait(run, action, path)
        run.frames[-1][1] += 1
        try:
            if kind == "alert":
                key = self._render(run, action.key) if action.key else run.sc.id
                message = self._render(run, action.message)
                what = f"alert {action.severity} {key}: {message}"
                ctx = self._action_ctx(run, path, what)
                data = {"audience": action.audience, "recipients": list(action.to),
                        "language": self._language, "trigger": run.vars.get("trigger", {})}
                alert_id = await self.alerts.raise_alert(key=key, scenario=run.sc.id,
                                                         severity=action.severity, message=message,
                                                         context=ctx, data=data)
                self._active_alerts.add(key)
                self._record(run, path, what, f"raised {alert_id}", True, ctx)
            else:
                key = self._render(run, action.key) if action.key else run.sc.id
                reason = self._render(run, action.reason)
                what = f"resolve {key}: {reason}"
                ctx = self._action_ctx(run, path, what)
                found = await self.alerts.resolve_alert(key=key, reason=reason, context=ctx)
                self._active_alerts.discard(key)
                self._record(run, path, what, "resolved" if found else "no active alert", True, ctx)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("action %s of %s failed", path, run.sc.id)
            self._record(run, path, kind, f"failed: {exc}", False)
        return True

    def _persist_run(self, run: _Run, kind: str, deadline: datetime | None) -> None:
        variables = {k: v for k, v in run.vars.items() if k != "params"}
        run.trace.status = WAITING
        self._store.save_run(run.id, run.sc.id, run.sc.loaded.actions_digest,
                             [list(f) for f in run.frames], kind,
                             deadline.isoformat() if deadline else None, variables,
                             run.trace.to_json())
        run.persisted = True

    def _unpersist(self, run: _Run) -> None:
        run.trace.status = "running"
        if run.persisted:
            self._store.delete_run(run.id)
            run.persisted = False

    def _resume_deadline(self, run: _Run, default: datetime | None) -> tuple[datetime | None, bool]:
        if run.resuming:
            run.resuming = False
            return run.resume_deadline, True
        return default, False

    async def _delay(self, run: _Run, action: m.DelayAction, path: str) -> bool:
        now = self.clock.now()
        deadline, resumed = self._resume_deadline(run, now + action.duration)
        assert deadline is not None
        if not resumed:
            self._persist_run(run, "delay", deadline)
        await self.clock.sleep_until(deadline)
        late = self.clock.now() - deadline
        self._unpersist(run)
        run.frames[-1][1] += 1
        outcome = f"until {deadline.isoformat()}"
        if late >= _LATE:
            outcome += f" (late by {format_duration(late)}: the hub was down)"
        self._record(run, path, f"delay {format_duration(action.duration)}", outcome, True)
        return True

    async def _wait(self, run: _Run, action: m.WaitAction, path: str) -> bool:
        now = self.clock.now()
        default = now + action.timeout if action.timeout is not None else None
        deadline, resumed = self._resume_deadline(run, default)
        if not resumed:
            self._persist_run(run, "wait", deadline)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[tuple[TriggerRT, dict[str, Any], Context] | None] = loop.create_future()

        def fired(tr: TriggerRT, tvars: dict[str, Any], ctx: Context) -> None:
            if not done.done():
                done.set_result((tr, tvars, ctx))

        trs = [compile_trigger(run.id, i, t, self.cfg, durable=False)
               for i, t in enumerate(action.triggers)]
        for tr in trs:
            tr.fire = fired
        self._register(trs)
        if resumed:
            # What the wait was waiting for may have happened while the hub was down (and been
            # reported before the engine was listening): a value already matching counts.
            for tr in trs:
                if isinstance(tr, StateTriggerRT) and tr.test.has_target and tr.from_test is None:
                    self._evaluate_at_start(tr, now)
        timeout_task = None
        if deadline is not None:
            timeout_task = self._task(self._expire(deadline, done), f"wait-timeout {run.id}")
        try:
            result = await done
        finally:
            self._unregister(trs, keep_rows=False)
            if timeout_task is not None:
                timeout_task.cancel()
        self._unpersist(run)
        run.frames[-1][1] += 1
        what = "wait for " + " or ".join(tr.description for tr in trs)
        if result is None:
            run.vars["wait"] = {"result": "timeout"}
            late = self.clock.now() - deadline if deadline else timedelta(0)
            note = f" (late by {format_duration(late)})" if late >= _LATE else ""
            self._record(run, path, what, f"timed out{note}" +
                         ("; stopping" if action.on_timeout == "stop" else ""), True)
            return action.on_timeout == "continue"
        tr, tvars, ctx = result
        run.vars["wait"] = {"result": "trigger",
                            "trigger": {"id": tr.id, "description": tr.description, **tvars}}
        # The rest of the run was caused by what ended the wait as much as by the first trigger.
        run.trace.cause.append(f"wait ended by: {ctx.explain()}")
        self._record(run, path, what, f"triggered: {tr.description}" +
                     ("; stopping" if action.on_trigger == "stop" else ""), True)
        return action.on_trigger == "continue"

    async def _expire(self, deadline: datetime, done: asyncio.Future[Any]) -> None:
        await self.clock.sleep_until(deadline)
        if not done.done():
            done.set_result(None)

    # -- templates ------------------------------------------------------------------------------

    def _render(self, run: _Run, text: str) -> str:
        tpl = run.sc.templates.get(text)
        if tpl is None:
            tpl = run.sc.templates[text] = parse_template(text)
        if tpl.constant:
            return text if "{" not in text and "}" not in text else tpl.render(lambda p: None)
        return tpl.render(lambda path: self._lookup(run, path), self._language)

    def _lookup(self, run: _Run, path: tuple[str, ...]) -> Any:
        root = path[0]
        params = run.vars.get("params") or {}
        if root in params and len(path) == 1:
            return params[root]
        if root == "trigger":
            return lookup_path(run.vars.get("trigger", {}), path[1:])
        if root == "wait":
            return lookup_path(run.vars.get("wait", {}), path[1:])
        if root == "resident":
            return self.cfg.resident.pseudonym
        if root == "home":
            return self.cfg.home.name
        if root == "scenario":
            return run.sc.id
        if root in ("mode", "presence"):
            return self._house[root]
        local = self.local_now()
        if root == "time":
            return f"{local:%H:%M}"
        if root == "weekday":
            return weekday_name(local.date(), self._language)
        if root == "date":
            return spoken_date(local.date(), self._language)
        if root in ("state", "previous") and len(path) == 3:
            value = self.value(path[1], path[2]) if root == "state" else self._previous.get((path[1], path[2]))
            # People read these messages: a room says "Hal", not its id "hall".
            if path[2] == "room" and isinstance(value, str) and value in self.cfg.rooms:
                return self._room_name(value)
            return value
        if root == "name" and len(path) == 2:
            dev = self.cfg.devices.get(path[1])
            return (dev.name or path[1]) if dev else None
        if root == "room_name" and len(path) == 2:
            return self._room_name(path[1])
        return None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _norm(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _compact(values: dict[str, Any]) -> str:
    return json.dumps(values, separators=(",", ":"), ensure_ascii=False, default=str)


def _context_from(data: Any) -> Context:
    """Rebuild a cause chain saved by `persist.context_to_json` (or a trace's 'origin: description' lines)."""
    ctx: Context | None = None
    items = list(data or [])
    if items and isinstance(items[0], str):
        # A trace's cause list: newest first, "origin: description".
        items = [s.split(": ", 1) + [""] if ": " not in s else s.split(": ", 1)
                 for s in reversed(items)]
    for origin, description, *_ in items:
        ctx = Context(origin=str(origin), description=str(description), parent=ctx)
    restored = Context(origin="engine", description="restored after a restart or reload", parent=ctx)
    return restored
