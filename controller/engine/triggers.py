"""The trigger index: which compiled triggers an event can fire, found by dictionary lookups.

State triggers by (device, attribute) and then by the value or threshold they wait for
(state_index.py), device-event triggers by device, hub triggers by hub event
name; alert, mode and presence triggers in short lists; time and sun triggers each get a task
that sleeps until their next moment. `attach()` adds triggers and returns the callable that
removes them again (as Home Assistant's helpers/trigger.py does): a scenario keeps it until it is
reloaded, a `wait` until it ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, TypeVar
from zoneinfo import ZoneInfo

from controller.bus import EventBus
from controller.clock import Clock
from controller.engine import model as m
from controller.engine.compiled import (
    EventTriggerRT,
    HubTriggerRT,
    SimpleTriggerRT,
    StateTriggerRT,
    TriggerRT,
    Vars,
    in_choice,
)
from controller.engine.house import HOUSE_CHANGED, HouseChanged
from controller.engine.names import DeviceNames
from controller.engine.state_index import AttributeTriggers
from controller.engine.sun import next_sun_event, next_time_of_day
from controller.engine.timers import ForTimers
from controller.events import (
    ALERT_CHANGED,
    AVAILABILITY,
    DEVICE_EVENT,
    HUB_STATUS,
    PAYLOAD_ERROR,
    STATE_CHANGED,
    AlertChanged,
    AvailabilityChanged,
    Context,
    DeviceEventData,
    Event,
    HubStatus,
    PayloadProblem,
    StateChanged,
    is_a,
)

log = logging.getLogger(__name__)

MISSED_AFTER = timedelta(minutes=1)  # a time trigger woken this late was skipped, not late

Spawn = Callable[[Coroutine[object, object, None], str], "asyncio.Task[None]"]
Handler = Callable[[Event[object]], None]
T = TypeVar("T", bound=TriggerRT)


class Detach(Protocol):
    """Removes attached triggers; `keep_rows` keeps their stored `for:` timers (a reload)."""

    def __call__(self, *, keep_rows: bool = False) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Place:
    """Where the home is, for time and sun triggers."""

    tz: ZoneInfo
    latitude: float
    longitude: float


class TriggerIndex:
    """Compiled triggers by what fires them, and the bus handlers that look them up."""

    def __init__(self, *, clock: Clock, place: Place, names: DeviceNames, timers: ForTimers,
                 spawn: Spawn) -> None:
        self._clock = clock
        self._place = place
        self._names = names
        self._timers = timers
        self._spawn = spawn
        self._state: dict[tuple[str, str], AttributeTriggers] = {}
        self._events: dict[str, list[EventTriggerRT]] = {}
        self._hub: dict[str, list[HubTriggerRT]] = {}
        self._alerts: list[SimpleTriggerRT] = []
        self._house: list[SimpleTriggerRT] = []
        self._loops: dict[int, asyncio.Task[None]] = {}
        # What the engine saw of each (device, attribute): {previous...} placeholders and
        # `for:` in state conditions read these.
        self.previous: dict[tuple[str, str], object] = {}
        self.changed: dict[tuple[str, str], datetime] = {}
        self._available: dict[str, bool] = {}

    # -- attaching ------------------------------------------------------------------------------

    def attach(self, trs: Iterable[TriggerRT]) -> Detach:
        """Start listening for `trs`; the returned callable stops it."""
        attached = list(trs)
        for tr in attached:
            self._add(tr)

        def detach(*, keep_rows: bool = False) -> None:
            for tr in attached:
                self._remove(tr, keep_rows=keep_rows)

        return detach

    def _add(self, tr: TriggerRT) -> None:
        if isinstance(tr, StateTriggerRT):
            for dev in tr.devices:
                bucket = self._state.get((dev, tr.attribute))
                if bucket is None:
                    bucket = self._state[(dev, tr.attribute)] = AttributeTriggers()
                bucket.add(tr)
        elif isinstance(tr, EventTriggerRT):
            for dev in tr.devices:
                self._events.setdefault(dev, []).append(tr)
        elif isinstance(tr, HubTriggerRT):
            self._hub.setdefault(tr.event, []).append(tr)
        elif isinstance(tr, SimpleTriggerRT):
            self._add_simple(tr)

    def _add_simple(self, tr: SimpleTriggerRT) -> None:
        t = tr.model
        if isinstance(t, m.AlertTrigger):
            self._alerts.append(tr)
        elif isinstance(t, m.ModeTrigger | m.PresenceTrigger):
            self._house.append(tr)
        elif isinstance(t, m.TimeTrigger | m.SunTrigger):
            self._loops[id(tr)] = self._spawn(self._time_loop(tr, t), f"time {tr.key}")

    def _remove(self, tr: TriggerRT, *, keep_rows: bool) -> None:
        if isinstance(tr, StateTriggerRT):
            for dev in tr.devices:
                bucket = self._state.get((dev, tr.attribute))
                if bucket is not None:
                    bucket.discard(tr)
            self._timers.drop(tr, keep_rows=keep_rows)
        elif isinstance(tr, EventTriggerRT):
            for dev in tr.devices:
                _discard(self._events.get(dev), tr)
        elif isinstance(tr, HubTriggerRT):
            _discard(self._hub.get(tr.event), tr)
        elif isinstance(tr, SimpleTriggerRT):
            _discard(self._alerts, tr)
            _discard(self._house, tr)
        loop = self._loops.pop(id(tr), None)
        if loop is not None:
            loop.cancel()

    # -- bus events -----------------------------------------------------------------------------

    def subscribe(self, bus: EventBus) -> list[Callable[[], None]]:
        """Follow every event type the engine reacts to; returns the unsubscribers."""
        return [bus.subscribe(self.on_state, STATE_CHANGED),
                bus.subscribe(self.on_device_event, DEVICE_EVENT),
                bus.subscribe(self.on_availability, AVAILABILITY),
                bus.subscribe(self.on_alert, ALERT_CHANGED),
                bus.subscribe(self.on_house, HOUSE_CHANGED),
                bus.subscribe(self.on_payload_error, PAYLOAD_ERROR),
                bus.subscribe(self.on_hub_status, HUB_STATUS)]

    def handle(self, event: Event[object]) -> None:
        """Hand one event of any type to its handler (events kept from before the start)."""
        if is_a(event, STATE_CHANGED):
            self.on_state(event)
        elif is_a(event, DEVICE_EVENT):
            self.on_device_event(event)
        elif is_a(event, AVAILABILITY):
            self.on_availability(event)
        elif is_a(event, ALERT_CHANGED):
            self.on_alert(event)
        elif is_a(event, HOUSE_CHANGED):
            self.on_house(event)
        elif is_a(event, PAYLOAD_ERROR):
            self.on_payload_error(event)
        elif is_a(event, HUB_STATUS):
            self.on_hub_status(event)

    def on_state(self, event: Event[StateChanged]) -> None:
        dev = event.device
        if dev is None:
            return
        now, ctx = event.time, event.context
        for attr, (old, new) in event.data["changes"].items():
            key = (dev, attr)
            self.previous[key] = old
            self.changed[key] = now
            trs = self._state.get(key)
            if trs:
                # Only the triggers whose test this change can alter (engine/state_index.py).
                for tr in trs.concerned(old, new):
                    self._timers.state_changed(tr, dev, old, new, ctx, now)
            if attr == "battery":
                self._battery(dev, old, new, ctx)

    def _battery(self, dev: str, old: object, new: object, ctx: Context) -> None:
        for tr in tuple(self._hub.get("battery_low", ())):
            if tr.devices is not None and dev not in tr.devices:
                continue
            if _below(new, tr.below) and not _below(old, tr.below):
                tvars = self._names.vars(dev)
                tvars.update({"event": "battery_low", "attribute": "battery", "from": old,
                              "to": new, "value": new})
                _fire(tr, tvars, ctx)

    def on_device_event(self, event: Event[DeviceEventData]) -> None:
        dev = event.device
        trs = self._events.get(dev) if dev is not None else None
        if not trs or dev is None:
            return
        name = event.data.get("event")
        data = {k: v for k, v in event.data.items() if k != "event"}
        for tr in tuple(trs):
            if tr.events is not None and name not in tr.events:
                continue
            if any(_norm(data.get(k)) != v for k, v in tr.data.items()):
                continue
            tvars = self._names.vars(dev)
            tvars.update({"event": name, "data": data})
            _fire(tr, tvars, event.context)

    def on_availability(self, event: Event[AvailabilityChanged]) -> None:
        dev, bridge = event.device, event.data.get("bridge")
        if dev is None:
            if bridge is not None:  # the bridge itself: one notice, not one per device behind it
                self._hub_event("bridge_online" if event.data["online"] else "bridge_offline", None,
                                {"reason": event.data["reason"], "bridge": bridge}, event.context)
            return
        online = event.data["online"]
        old = self._available.get(dev)
        self._available[dev] = online
        self.on_state(STATE_CHANGED.event(time=event.time, context=event.context,
                            device=dev, data={"changes": {"available": (old, online)}}))
        if bridge is None:
            name = "device_online" if online else "device_offline"
            self._hub_event(name, dev, {"reason": event.data["reason"]}, event.context)

    def on_payload_error(self, event: Event[PayloadProblem]) -> None:
        self._hub_event("payload_error", event.device,
                        {"topic": event.data["topic"], "reason": event.data["reason"]}, event.context)

    def _hub_event(self, name: str, dev: str | None, data: Vars, ctx: Context) -> None:
        for tr in tuple(self._hub.get(name, ())):
            if tr.devices is None or dev in tr.devices:
                tvars = self._names.vars(dev) if dev else {}
                tvars.update({"event": name, "data": data})
                _fire(tr, tvars, ctx)

    def on_hub_status(self, event: Event[HubStatus]) -> None:
        connected = event.data["mqtt_connected"]
        name = "mqtt_connected" if connected else "mqtt_disconnected"
        for tr in tuple(self._hub.get(name, ())):
            _fire(tr, {"event": name}, event.context)

    def on_alert(self, event: Event[AlertChanged]) -> None:
        d = event.data
        action, key = d["action"], d["key"]
        for tr in tuple(self._alerts):
            t = tr.model
            assert isinstance(t, m.AlertTrigger)
            if not in_choice(action, t.action) or (t.key is not None and t.key != key):
                continue
            if (t.scenario is not None and t.scenario != d["scenario"]) or \
                    not in_choice(d["severity"], t.severity):
                continue
            tvars: Vars = {
                "event": action, "action": action, "key": key, "scenario": d["scenario"],
                "severity": d["severity"], "by": d["by"],
                "data": {k: v for k, v in d.items() if isinstance(v, str | int | float | bool)}}
            _fire(tr, tvars, event.context)

    def on_house(self, event: Event[HouseChanged]) -> None:
        for name, (old, new) in event.data["changes"].items():
            for tr in tuple(self._house):
                t = tr.model
                assert isinstance(t, m.ModeTrigger | m.PresenceTrigger)
                if (name == "mode") != isinstance(t, m.ModeTrigger):
                    continue
                if t.to is not None and not in_choice(new, t.to):
                    continue
                if t.from_ is not None and not in_choice(old, t.from_):
                    continue
                _fire(tr, {"attribute": name, "from": old, "to": new, "value": new}, event.context)

    # -- time and sun ---------------------------------------------------------------------------

    async def _time_loop(self, tr: SimpleTriggerRT, t: m.TimeTrigger | m.SunTrigger) -> None:
        while True:
            when = self._next_moment(t)
            if when is None:
                return
            await self._clock.sleep_until(when)
            if self._clock.now() - when > MISSED_AFTER:
                # The clock jumped (a demo fast-forward, a suspended host): a wake-up light at
                # 02:00 because 07:00 was skipped would be worse than no wake-up light.
                log.info("%s: %s missed (clock now %s)", tr.owner, when.isoformat(),
                         self._clock.now().isoformat())
                continue
            local = self._clock.now().astimezone(self._place.tz)
            ctx = Context(origin="clock", description=f"{tr.description} at {local:%H:%M}")
            event = t.event if isinstance(t, m.SunTrigger) else "time"
            _fire(tr, {"event": event, "time": f"{local:%H:%M}"}, ctx)

    def _next_moment(self, t: m.TimeTrigger | m.SunTrigger) -> datetime | None:
        now, place = self._clock.now(), self._place
        if isinstance(t, m.TimeTrigger):
            times = t.at if isinstance(t.at, list) else [t.at]
            return next_time_of_day(now, times, place.tz, t.weekdays)
        return next_sun_event(now, place.latitude, place.longitude, t.event, t.offset, place.tz,
                              t.weekdays)


def _fire(tr: TriggerRT, tvars: Vars, ctx: Context) -> None:
    assert tr.fire is not None
    tr.fire(tr, tvars, ctx)


def _discard(bucket: list[T] | None, tr: T) -> None:
    if bucket is not None and tr in bucket:
        bucket.remove(tr)


def _below(value: object, limit: float) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value < limit


def _norm(value: object) -> object:
    return value.casefold() if isinstance(value, str) else value
