"""The medication dispenser, speaking huis's own protocol under `huis/dispenser/<id>`.

- `<base>/availability`: `{"state": "online"}` / `{"state": "offline"}`, retained;
- `<base>/event`: `{"event": "dose_due" | "dose_taken" | "dose_missed" | "refill_low",
  "dose": "08:00", "time": "2026-01-05T08:00:00+01:00"}` (local time with offset);
- `<base>/state`: `{"doses_left": 27, "next_dose": "13:00", "battery": 96}`.

At each scheduled time (local) the dispenser offers the dose (`dose_due`). Taking it publishes
`dose_taken`; if it is not taken within the window (60 minutes by default) it is locked away
(`dose_missed`). Either way a sachet is used; at `refill_low_at` doses left it asks for a refill.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any, ClassVar

from controller.clock import Clock
from controller.durations import parse_duration
from simulators.base import Attr, SimSpec, SimulationError, Simulator

EVENTS = ("dose_due", "dose_taken", "dose_missed", "refill_low")
DEFAULT_SCHEDULE = ("08:00", "13:00", "18:00", "22:00")


def parse_times(values: Sequence[str]) -> tuple[time, ...]:
    """'HH:MM' strings as sorted times; SimulationError for anything else."""
    out = []
    for v in values:
        try:
            hh, mm = str(v).split(":")
            out.append(time(int(hh), int(mm)))
        except ValueError as exc:
            raise SimulationError(f"'{v}' is not a dose time (write HH:MM, e.g. '08:00')") from exc
    return tuple(sorted(set(out)))


class DispenserSimulator(Simulator):
    """A dispenser with a daily schedule of dose times."""

    kind: ClassVar[str] = "dispenser"
    report_interval: ClassVar[float] = 300.0  # the heartbeat docs/devices.md promises
    attributes: ClassVar[tuple[Attr, ...]] = (
        Attr(name="event", type="choice", choices=EVENTS,
             help="dose_due offers the next dose now; dose_taken takes the offered one; "
                  "dose_missed and refill_low report those"),
        Attr(name="taken", type="bool", help="true: the resident takes the offered dose"),
        Attr(name="doses_left", type="int", lo=0, hi=1000, help="sachets left on the roll"),
        Attr(name="battery", type="int", lo=0, hi=100, help="put in a battery at this level (%)"),
    )

    def __init__(self, spec: SimSpec, clock: Clock, *, schedule: Sequence[str] | None = None,
                 window: timedelta | None = None, doses_left: int | None = None) -> None:
        super().__init__(spec, clock)
        opts = spec.options
        self.schedule = parse_times(schedule or opts.get("schedule") or DEFAULT_SCHEDULE)
        if not self.schedule:
            raise SimulationError(f"{spec.id}: the dose schedule is empty")
        self.window = window or parse_duration(opts.get("missed_after", "60m"))
        self.doses_left = int(doses_left if doses_left is not None else opts.get("doses_left", 28))
        self.refill_low_at = int(opts.get("refill_low_at", 6))
        self.due: str | None = None  # the dose on offer, 'HH:MM'
        self.events: list[dict[str, Any]] = []  # everything it announced, for tests and the tour

    @property
    def base(self) -> str:
        return self.spec.topic

    def start(self, out: Any, tg: Any) -> None:
        super().start(out, tg)
        self.spawn("schedule", self._schedule_loop())

    def publish_availability(self, online: bool) -> None:
        self.send(f"{self.base}/availability", {"state": "online" if online else "offline"},
                  retain=True)

    def _tz(self) -> Any:
        return self.spec.timezone or UTC

    def next_dose_at(self, after: datetime) -> tuple[datetime, str]:
        """The first scheduled dose strictly after `after`, as a clock time and 'HH:MM'."""
        local = after.astimezone(self._tz())
        for day in range(2):
            date = local.date() + timedelta(days=day)
            for t in self.schedule:
                at = datetime.combine(date, t, tzinfo=self._tz())
                if at > local:
                    return at.astimezone(UTC), t.strftime("%H:%M")
        raise AssertionError("a non-empty daily schedule always has a next dose")

    def state(self) -> dict[str, object]:
        out: dict[str, Any] = {"doses_left": self.doses_left,
                               "next_dose": self.next_dose_at(self.clock.now())[1]}
        if self.battery is not None:
            out["battery"] = self.battery.percent()
        return out

    def publish_state(self) -> None:
        if self.online and self.out is not None:
            self.send(f"{self.base}/state", self.state())

    def publish_event(self, event: str, dose: str) -> None:
        """Announce an event, stamped with local time."""
        payload = {"event": event, "dose": dose,
                   "time": self.clock.now().astimezone(self._tz()).isoformat(timespec="seconds")}
        self.events.append(payload)
        if self.online and self.out is not None:
            self.send(f"{self.base}/event", payload)

    # -- what happens --------------------------------------------------------------------------

    def offer(self, dose: str) -> None:
        """Offer a dose now (the alarm sounds); missed if not taken within the window."""
        if self.due is not None:
            self._miss()  # the previous one is locked away before the next is offered
        self.due = dose
        self.publish_event("dose_due", dose)
        self.publish_state()
        self.later("missed", self.window.total_seconds(), self._miss)

    def take_dose(self) -> str:
        """The resident takes the offered dose; returns which one. SimulationError if none is due."""
        if self.due is None:
            raise SimulationError(f"{self.id}: no dose is due, so there is nothing to take")
        dose, self.due = self.due, None
        self.cancel("missed")
        self.publish_event("dose_taken", dose)
        self._use_sachet(dose)
        return dose

    def _miss(self) -> None:
        if self.due is None:
            return
        dose, self.due = self.due, None
        self.cancel("missed")
        self.publish_event("dose_missed", dose)
        self._use_sachet(dose)

    def _use_sachet(self, dose: str) -> None:
        self.doses_left = max(0, self.doses_left - 1)
        self.publish_state()
        if self.doses_left <= self.refill_low_at:
            self.publish_event("refill_low", dose)

    async def _schedule_loop(self) -> None:
        while True:
            at, dose = self.next_dose_at(self.clock.now())
            await self.clock.sleep_until(at)
            if self.due != dose:  # offered by hand this very minute already (a story)
                self.offer(dose)

    async def apply_one(self, name: str, value: Any) -> None:
        if name == "taken":
            if value:
                self.take_dose()
        elif name == "event":
            if value == "dose_due":
                # The dose of this minute if one is scheduled now, else the next one.
                dose = self.next_dose_at(self.clock.now() - timedelta(minutes=1))[1]
                if self.due != dose:  # already offered by the schedule this very minute
                    self.offer(dose)
            elif value == "dose_taken":
                if self.due is None:
                    self.offer(self._last_scheduled())
                self.take_dose()
            elif value == "dose_missed":
                if self.due is None:
                    self.offer(self._last_scheduled())
                self._miss()
            else:
                self.publish_event("refill_low", self.due or self._last_scheduled())
        elif name == "doses_left":
            self.doses_left = value
            self.publish_state()
        else:
            await super().apply_one(name, value)

    def _last_scheduled(self) -> str:
        local = self.clock.now().astimezone(self._tz()).time()
        earlier = [t for t in self.schedule if t <= local]
        return (earlier[-1] if earlier else self.schedule[-1]).strftime("%H:%M")
