"""The rule engine: runs scenarios on hub events, with durable timers and a trace of every run.

`Engine` is the facade the rest of the hub uses; the work is done by its parts, each in a module
named for it:

- triggers.py: the trigger index (which triggers an event can fire), time and sun triggers;
- timers.py: the timer wheel for `for:` timers, and the latches of state triggers;
- runs.py: runs of a scenario's actions (modes, queue, cooldown) and their traces;
- actions.py: the interpreter, one handler per action model;
- placeholders.py: what `{...}` in messages stands for;
- house.py: the house mode and presence;
- restore.py: installing scenarios, restoring what was pending, reloading;
- status.py: what the dashboard shows of each scenario.

Hot path: a synchronous bus listener looks the event up in the index and, when a trigger fires
and its conditions hold, runs the actions right there until the first one that has to wait.
Only then does the run become a task, under the engine's TaskGroup. A motion -> light scenario
therefore costs a few dictionary lookups and one `hub.command`, with no task switch.

Durability: pending `for:` timers, delays and waits are written to SQLite (through a queue, off
the hot path); a new engine on the same file picks them up at their original deadlines.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import Callable, Coroutine, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from controller.config import HomeConfig
from controller.engine.actions import Interpreter
from controller.engine.alert_sink import AlertSink
from controller.engine.compiled import SimpleTriggerRT
from controller.engine.house import HOUSE_CHANGED, HouseState
from controller.engine.loader import ScenarioSet, config_scenario_paths, load_scenarios
from controller.engine.names import DeviceNames
from controller.engine.placeholders import Placeholders
from controller.engine.presence import PresenceInference
from controller.engine.restore import EarlyEvents, ReloadResult, Restorer
from controller.engine.runs import RunManager
from controller.engine.status import ScenarioStatus, scenario_status
from controller.engine.store import EngineStore
from controller.engine.stretches import Stretches, held_attributes
from controller.engine.sun import sun_event
from controller.engine.timers import ForTimers
from controller.engine.traces import Trace, load_traces
from controller.engine.triggers import Place, TriggerIndex
from controller.engine.why import FileIds, Why, explain
from controller.errors import ConfigError
from controller.events import STATE_CHANGED, Context
from controller.hub import Hub
from controller.routine import Routine, default_routine
from controller.store import Database

__all__ = ["HOUSE_CHANGED", "Engine", "ReloadResult"]

log = logging.getLogger(__name__)


class Engine:
    """Runs a set of scenarios against a hub. Supervise `run()` under the hub's TaskGroup."""

    def __init__(self, hub: Hub, db: Database, alerts: AlertSink, scenarios: ScenarioSet,
                 *, paths: Sequence[str | Path] | None = None) -> None:
        self.hub = hub
        self.cfg: HomeConfig = hub.config
        self.clock = hub.clock
        self.alerts = alerts
        self.ready = asyncio.Event()
        self._db = db
        self._tg: asyncio.TaskGroup | None = None
        self._unsubscribe: list[Callable[[], None]] = []
        loc, language = self.cfg.home.location, self.cfg.home.language
        self._place = Place(tz=ZoneInfo(loc.timezone), latitude=loc.latitude,
                            longitude=loc.longitude)
        self._store = store = EngineStore(db, hub.clock)
        self._house = house = HouseState(hub.bus, self.clock, store)
        self._stretches = Stretches()
        settings = self.cfg.presence
        self.presence_inference = (
            PresenceInference(cfg=self.cfg, settings=settings, house=house, clock=self.clock,
                              value=self.value)
            if settings is not None and settings.infer else None)
        names = DeviceNames(self.cfg, language)
        self._timers = timers = ForTimers(
            clock=self.clock, store=store, names=names, language=language, value=self.value,
            installed=lambda owner: owner in self._runs.scenarios, save_trace=store.add_trace)
        self._index = index = TriggerIndex(clock=self.clock, place=self._place, names=names,
                                           timers=timers, spawn=self._task)
        placeholders = Placeholders(cfg=self.cfg, language=language, names=names, house=house,
                                    local_now=self.local_now, value=self.value,
                                    previous=index.previous)
        self._runs = RunManager(clock=self.clock, store=store, env=self, spawn=self._task,
                                make_interpreter=lambda runs: Interpreter(
                                    hub=hub, alerts=alerts, house=house, runs=runs,
                                    placeholders=placeholders, index=index, timers=timers,
                                    spawn=self._task, env=self, language=language))
        self._restorer = Restorer(
            cfg=self.cfg, store=store, runs=self._runs, index=index, timers=timers,
            scenarios=scenarios, now=self.clock.now, value=self.value,
            paths=list(paths) if paths is not None else config_scenario_paths(hub.config))
        self._early = EarlyEvents(hub.bus.subscribe)
        self._routine = default_routine(self.cfg.routine, self._place.tz)

    # -- lifecycle ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Restore persisted timers and runs, then handle events until cancelled."""
        await self._store.migrate()
        await self._apply_stored_parameters()
        self._house.load(await self._store.house())
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                tg.create_task(self._store.run(), name="engine-writer")
                tg.create_task(self._timers.wheel.run(), name="engine-timers")
                if self.presence_inference is not None:
                    tg.create_task(self.presence_inference.run(), name="engine-presence")
                await self._go_live()
                self.ready.set()
                tg.create_task(self._restorer.serve_requests(self._runs.interpreter.forget),
                               name="engine-reload")
                try:
                    await asyncio.Event().wait()
                except asyncio.CancelledError:
                    self._stop_runs()
                    raise
        finally:
            self._early.close()
            self._restorer.release()
            for unsubscribe in self._unsubscribe:
                unsubscribe()
            self._unsubscribe.clear()
            self._tg = None
            self.ready.clear()

    async def _apply_stored_parameters(self) -> None:
        # Parameters set on the dashboard live in SQLite; the files hold the defaults.
        overrides = await self._store.parameters()
        files = self._restorer.set.files
        if overrides and files:
            try:
                self._restorer.set = load_scenarios(files, self.cfg, self._restorer.set.kinds, overrides)
            except ConfigError as exc:
                log.error("stored parameter overrides do not fit the scenarios any more; running "
                          "with the files' defaults:\n%s", exc)

    async def _go_live(self) -> None:
        persisted = await self._restorer.read_persisted()
        # Values the hub already knows have held "since at least now": `for:` conditions then
        # count from the engine's start rather than never being true.
        started = self.clock.now()
        await self._seed_stretches(started)
        for st in self.hub.state.all():
            for attr, value in st.attributes.items():
                self._index.changed.setdefault((st.device, attr), started)
                self._stretches.first_seen(st.device, attr, value, started)
        self._restorer.install_all()
        self._restorer.restore(set(self._runs.scenarios), persisted,
                               early=lambda: self._early.replay(self._index.handle))
        # Presence first: rules then see the house as this very event left it.
        inference = self.presence_inference
        self._unsubscribe = [*(inference.subscribe(self.hub.bus) if inference else []),
                             self.hub.bus.subscribe(self._stretches.on_state, STATE_CHANGED),
                             *self._index.subscribe(self.hub.bus)]

    async def _seed_stretches(self, now: datetime) -> None:
        # `held` conditions look back (did she sleep tonight?): after a restart the hub's history
        # remembers what this process did not see. No history table (tests, replay): nothing.
        wanted = held_attributes(s.model for s in self._restorer.set.scenarios)
        self._stretches.attributes = set(wanted)
        since = (now - self._stretches.keep).isoformat()
        if not wanted or await self._db.fetchone("SELECT name FROM sqlite_master WHERE type = 'table'"
                                   " AND name = 'history'") is None:
            return
        marks = ",".join("?" * len(wanted))
        rows = await self._db.fetchall(
            "SELECT time, device, attribute, value FROM history WHERE type = 'state_changed'"
            f" AND attribute IN ({marks}) AND time >= ? ORDER BY time, id", (*sorted(wanted), since))
        self._stretches.seed(_history_rows(rows))

    def _stop_runs(self) -> None:
        # Stopping is not cancelling: pending delays and waits stay in SQLite so the next start
        # resumes them.
        self._runs.stopping = True
        for sc in self._runs.scenarios.values():
            for run in sc.active.values():
                run.detached = True

    def _task(self, coro: Coroutine[object, object, None], name: str) -> asyncio.Task[None]:
        if self._tg is None:
            coro.close()
            raise RuntimeError("the engine is not running (await engine.run() first)")
        return self._tg.create_task(coro, name=name)

    async def flush(self) -> None:
        """Wait until every queued database write is committed."""
        await self._store.flush()

    async def flush_durable(self) -> None:
        """Wait until what a restart needs (timers, waiting runs, house state) is committed;
        traces and latches may still wait for their group commit (engine/store.py)."""
        await self._store.flush_durable()

    # -- scenarios ------------------------------------------------------------------------------

    @property
    def scenario_set(self) -> ScenarioSet:
        """The scenarios running now."""
        return self._restorer.set

    @property
    def paths(self) -> list[str | Path]:
        """The folders `reload()` loads from by default."""
        return self._restorer.paths

    @property
    def last_reload_problems(self) -> list[str]:
        """Why the last requested reload was refused (empty when it was not)."""
        return self._restorer.last_reload_problems

    async def reload(self, source: ScenarioSet | Sequence[str | Path] | None = None) -> ReloadResult:
        """Swap in a new set of scenarios atomically.

        `source` is a validated set, or paths to load (default: the configured folders). Raises
        ConfigError listing every problem, leaving the running scenarios untouched.
        """
        result = await self._restorer.reload(source, self._runs.interpreter.forget)
        # A new `held` condition remembers from now on (what came before is not in memory).
        if self._stretches.attributes is not None:
            self._stretches.attributes |= held_attributes(s.model for s in self._restorer.set.scenarios)
        return result

    def request_reload(self) -> None:
        """Ask for a reload from the configured folders (safe from a signal handler)."""
        self._restorer.request()

    async def set_parameters(self, scope: str, values: dict[str, object]) -> ReloadResult:
        """Override parameters of a file (its name) or scenario (its id) and reload.

        The new values are validated with everything else first; ConfigError leaves both the
        stored overrides and the running scenarios as they were.
        """
        overrides = await self._store.parameters()
        merged = {**overrides, scope: {**overrides.get(scope, {}), **values}}
        new_set = load_scenarios(self._restorer.set.files, self.cfg, self._restorer.set.kinds, merged)
        await self._store.set_parameters(scope, values)
        return await self.reload(new_set)

    def trigger_now(self, scenario: str, ctx: Context) -> None:
        """Run a scenario by hand (dashboard "test"); conditions still apply and are traced."""
        sc = self._runs.scenarios[scenario]
        tr = SimpleTriggerRT(owner=sc.id, index=-1, id="manual", model=None,
                             description="started by hand", key=f"{sc.id}|manual")
        self._runs.fire(tr, {"type": "manual"}, ctx)

    async def traces(self, scenario: str | None = None, limit: int = 20) -> list[Trace]:
        """Recent traces (committed first), newest first."""
        await self.flush()
        return await load_traces(self._db, scenario, limit)

    async def why(self, scenario: str, *, files: FileIds | None = None,
                  problems: Sequence[str] = ()) -> Why:
        """Why `scenario` did or did not run, as this engine runs it (see engine/why.py)."""
        await self.flush()
        return await explain(self._db, self.cfg, scenario, self.scenario_set.get(scenario),
                             self.clock.now(), files=files, problems=problems)

    def status(self) -> list[ScenarioStatus]:
        """Per scenario: id, description, file, enabled, runs going, timers pending (dashboard)."""
        return scenario_status(self._runs.scenarios.values(), self._timers.pending())

    # -- the environment conditions and templates see --------------------------------------------

    def value(self, device: str, attribute: str) -> object:
        """A device attribute's current value (None when unknown)."""
        if attribute == "available":
            st = self.hub.state
            return st.get(device).available if device in st else None
        return self.hub.state.attribute(device, attribute)

    def changed_at(self, device: str, attribute: str) -> datetime | None:
        return self._index.changed.get((device, attribute))

    def now(self) -> datetime:
        return self.clock.now()

    def local_now(self) -> datetime:
        return self.clock.now().astimezone(self._place.tz)

    def house(self, name: str) -> str:
        return self._house.get(name)

    def alert_active(self, key: str) -> bool:
        """Whether the alert `key` is active, as the alert sink (the one record) says."""
        return self.alerts.is_active(key)

    def sun_time(self, day: date, event: str) -> datetime | None:
        return sun_event(self._place.latitude, self._place.longitude, day, event, self._place.tz)

    def held(self, device: str, attribute: str, test: Callable[[object], bool],
             since: datetime, *, total: bool = False) -> timedelta:
        """The longest stretch `test` held for `device.attribute` since `since`, or with `total`
        all of them added up (held conditions)."""
        measure = self._stretches.total if total else self._stretches.longest
        return measure(device, attribute, test, since, self.clock.now())

    def routine(self) -> Routine:
        """The resident's routine the `quiet` and `routine` conditions use (defaults until learned)."""
        return self._routine

    def use_routine(self, routine: Routine) -> None:
        """Take a newly computed routine (controller.routine.RoutineKeeper, nightly)."""
        self._routine = routine

    # -- the house ------------------------------------------------------------------------------

    @property
    def mode(self) -> str:
        """The house mode: day, night, away or holiday."""
        return self._house.mode

    @property
    def presence(self) -> str:
        """The resident's presence: home, away or unknown."""
        return self._house.presence

    def presence_info(self) -> dict[str, object]:
        """The presence with since when and why, and a running override (the dashboard)."""
        info: dict[str, object] = dict(self._house.notes())
        inference = self.presence_inference
        info["inferred"] = inference is not None
        info["override_until"] = inference.override_text() if inference is not None else None
        return info

    def set_mode(self, mode: str, ctx: Context) -> None:
        """Change the house mode (dashboard, scenarios); announced as a house_changed event."""
        self._house.set_mode(mode, ctx)

    def set_presence(self, presence: str, ctx: Context) -> None:
        """Set the resident's presence by hand (home/away/unknown): an override of the inference
        for `presence.override_for`."""
        self._house.set_presence(presence, ctx)


def _history_rows(rows: Sequence[sqlite3.Row]) -> list[tuple[str, str, object, datetime]]:
    """History rows as (device, attribute, value, time); rows that do not parse are skipped."""
    out: list[tuple[str, str, object, datetime]] = []
    for r in rows:
        try:
            out.append((str(r["device"]), str(r["attribute"]), json.loads(str(r["value"])),
                        datetime.fromisoformat(str(r["time"]))))
        except (ValueError, TypeError):
            continue
    return out
