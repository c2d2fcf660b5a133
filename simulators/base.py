"""What every simulated device has: identity, a publisher, timers on the clock, availability, battery.

A simulator behaves like the real model on the wire and nothing more: it publishes what the
device (or its bridge) would publish, on the same topics, with the same retain flags, and obeys
the same commands. Its timing (heartbeats, movement, timeouts) runs on the injected clock.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, ClassVar

from controller.clock import Clock
from controller.errors import HuisError
from controller.yamlfile import suggest
from simulators.connection import Publisher, encode

log = logging.getLogger(__name__)


class SimulationError(HuisError):
    """A simulated device was asked for something it cannot do; the message says why."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SimSpec:
    """The configured facts about one simulated device."""

    id: str
    kind: str
    topic: str
    model: str | None = None
    room: str | None = None
    name: str = ""
    power: str | None = None  # 'battery' or 'mains'; default: the kind's
    options: Mapping[str, Any] = field(default_factory=dict)
    timezone: tzinfo | None = None  # the home's, for schedules and day/night behaviour


_TRUE = {"true", "on", "yes", "1", "closed"}
_FALSE = {"false", "off", "no", "0", "open"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Attr:
    """An attribute `huis simulate` may set on a device, and how to read its value."""

    name: str
    type: str  # 'bool', 'int', 'float', 'str' or 'choice'
    help: str
    choices: tuple[str, ...] = ()
    lo: float | None = None
    hi: float | None = None

    def coerce(self, value: Any) -> Any:
        """The typed value of `value` (text from a command line or JSON); ValueError saying why not."""
        if self.type == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError(f"{self.name} takes true or false, not {value!r}")
        if self.type in ("int", "float"):
            try:
                number = float(value) if not isinstance(value, bool) else None
            except (TypeError, ValueError):
                number = None
            if number is None:
                raise ValueError(f"{self.name} takes a number, not {value!r}")
            if (self.lo is not None and number < self.lo) or (self.hi is not None and number > self.hi):
                raise ValueError(f"{self.name} must be between {self.lo:g} and {self.hi:g}, not {value!r}")
            return round(number) if self.type == "int" else number
        if self.type == "choice":
            text = str(value).strip()
            for choice in self.choices:
                if text.lower() == choice.lower():
                    return choice
            hint = suggest(text.lower(), [c.lower() for c in self.choices])
            raise ValueError(f"{self.name} takes one of {', '.join(self.choices)}, not {value!r}"
                             + (f"; {hint}" if hint else ""))
        return str(value)


AVAILABILITY_ATTR = Attr(name="availability", type="choice", choices=("online", "offline"),
                         help="make the device drop off the network, or come back")


class Battery:
    """A battery that drains linearly over clock time from a starting level."""

    def __init__(self, clock: Clock, level: float = 100.0, drain_per_day: float = 0.5) -> None:
        self._clock = clock
        self._level = level
        self._since = clock.now()
        self.drain_per_day = drain_per_day

    def level(self) -> float:
        """Percentage left now."""
        days = (self._clock.now() - self._since).total_seconds() / 86400
        return max(0.0, self._level - self.drain_per_day * days)

    def percent(self) -> int:
        """Percentage left now, as devices report it."""
        return round(self.level())

    def set(self, level: float) -> None:
        """Put in a battery at `level` percent (tests of low-battery warnings)."""
        self._level = level
        self._since = self._clock.now()


class Simulator:
    """Base of every simulated device."""

    kind: ClassVar[str]
    power: ClassVar[str] = "battery"
    # How often the device reports on its own (a heartbeat with battery), in seconds.
    report_interval: ClassVar[float] = 3600.0
    attributes: ClassVar[tuple[Attr, ...]] = ()

    def __init__(self, spec: SimSpec, clock: Clock) -> None:
        self.spec = spec
        self.clock = clock
        self.online = False
        self.out: Publisher | None = None
        self._tg: asyncio.TaskGroup | None = None
        self._timers: dict[str, asyncio.Task[None]] = {}
        # Seeded by id: the same device looks the same in every run, which keeps demos repeatable.
        self.rng = random.Random(spec.id)
        opts = spec.options
        self.battery: Battery | None = None
        if (spec.power or self.power) == "battery":
            self.battery = Battery(clock, float(opts.get("battery", 100 - self.rng.randint(0, 25))),
                                   float(opts.get("battery_drain_per_day", 0.5)))
        self._lq = self.rng.randint(70, 190)

    @property
    def id(self) -> str:
        return self.spec.id

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.spec.id} on {self.spec.topic}>"

    # -- lifecycle ------------------------------------------------------------------------------

    def attach(self, out: Publisher, tg: asyncio.TaskGroup) -> None:
        """Connect the device without announcing it: it publishes only what it is made to do.

        `huis simulate` uses this for one change by hand, so that the change is the only
        message the hub sees (a real device does not re-announce itself when a door opens).
        """
        self.out = out
        self._tg = tg
        self.online = True

    def start(self, out: Publisher, tg: asyncio.TaskGroup) -> None:
        """Attach, announce availability and state, and start the device's own timers in `tg`."""
        self.attach(out, tg)
        self.set_online(True)
        self.spawn("heartbeat", self._heartbeat())

    def detach(self) -> None:
        """Stop the device's timers without announcing anything."""
        for task in self._timers.values():
            task.cancel()
        self._timers.clear()

    def stop(self) -> None:
        """Stop timers and announce the device offline (a clean shutdown)."""
        self.detach()
        if self.out is not None:
            self.set_online(False)

    def set_online(self, online: bool) -> None:
        """Join or leave the network; an offline device publishes nothing and obeys nothing."""
        self.online = online
        self.publish_availability(online)
        if online:
            self.publish_state()

    def publish_availability(self, online: bool) -> None:
        """Announce availability the way the device's bridge does."""

    def publish_state(self) -> None:
        """Publish the device's full current state, if it has one."""

    def subscriptions(self) -> list[str]:
        """Topics carrying commands for this device."""
        return []

    def handle(self, topic: str, payload: bytes) -> None:
        """A message on one of `subscriptions()`."""

    async def apply(self, values: Mapping[str, Any]) -> None:
        """Set attributes by hand (`huis simulate`, stories); returns when the device is done."""
        for name, value in values.items():
            if name == "availability":
                self.set_online(value == "online")
            else:
                await self.apply_one(name, value)

    async def apply_one(self, name: str, value: Any) -> None:
        """Set one attribute (already coerced by `coerce`)."""
        if name == "battery" and self.battery is not None:
            self.battery.set(value)
            self.publish_state()
            return
        raise SimulationError(f"{self.id} has no attribute '{name}'")

    def coerce(self, values: Mapping[str, Any]) -> dict[str, object]:
        """Typed values for `apply`; SimulationError naming the attribute and what it takes."""
        known = {a.name: a for a in (*self.attributes, AVAILABILITY_ATTR)}
        out: dict[str, Any] = {}
        for name, value in values.items():
            attr = known.get(name)
            if attr is None:
                hint = suggest(name, known)
                raise SimulationError(
                    f"a {self.kind} device has no attribute '{name}'"
                    + (f"; {hint}" if hint else f" (it has: {', '.join(known)})"))
            try:
                out[name] = attr.coerce(value)
            except ValueError as exc:
                raise SimulationError(f"{self.id}: {exc}") from exc
        return out

    def initial(self, local: datetime) -> None:
        """Take a realistic state for the home's local time before starting (bed occupied at night)."""

    # -- helpers for subclasses -----------------------------------------------------------------

    def send(self, topic: str, payload: Mapping[str, Any] | bytes, *, retain: bool = False) -> None:
        """Publish, unless the device is offline or not started."""
        if self.out is None:
            raise SimulationError(f"{self.id} is not started")
        data = payload if isinstance(payload, bytes) else encode(payload)
        self.out.send(topic, data, qos=1, retain=retain)

    def spawn(self, name: str, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run `coro` in the home's task group, replacing a running task of the same name."""
        if self._tg is None:
            coro.close()
            raise SimulationError(f"{self.id} is not started")
        old = self._timers.pop(name, None)
        if old is not None:
            old.cancel()
        task = self._tg.create_task(coro, name=f"{self.id}:{name}")
        self._timers[name] = task
        return task

    def later(self, name: str, seconds: float, action: Callable[[], None]) -> None:
        """Call `action` after `seconds` of clock time; a later call with the same name replaces it."""

        async def wait_then_act() -> None:
            await self.clock.sleep(seconds)
            self._timers.pop(name, None)
            action()

        self.spawn(name, wait_then_act())

    def cancel(self, name: str) -> None:
        """Cancel a pending timer, if any."""
        task = self._timers.pop(name, None)
        if task is not None:
            task.cancel()

    def pending(self, name: str) -> asyncio.Task[None] | None:
        """The running task called `name`, if any."""
        task = self._timers.get(name)
        return task if task is not None and not task.done() else None

    def local_now(self) -> datetime:
        """Clock time in the home's time zone."""
        now = self.clock.now()
        return now.astimezone(self.spec.timezone) if self.spec.timezone else now

    def linkquality(self) -> int:
        """Link quality as Zigbee reports it: a per-device level with some jitter."""
        return max(0, min(255, self._lq + self.rng.randint(-6, 6)))

    async def _heartbeat(self) -> None:
        while True:
            await self.clock.sleep(self.report_interval)
            if self.online:
                self.publish_state()
