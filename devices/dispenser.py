"""Medication dispenser, in huis's own MQTT convention (docs/devices.md has the full spec).

No standard exists, so we defined one after how Medido-class dispensers behave: the dispenser
holds the schedule, alarms when a dose is due, registers when the resident takes it and gives
up after its own window, and it knows how many doses are left. Base topic `huis/dispenser/<id>`:

- `<base>/event`: {"event": "dose_taken", "dose": "08:00", "time": "2026-01-05T08:04:12+01:00"}
  -> DeviceEvent "dose_due" | "dose_taken" | "dose_missed" | "refill_low";
- `<base>/state`: {"doses_left": 12, "next_dose": "13:00", "next_dose_at":
  "2026-01-05T13:00:00+01:00", "battery": 100, "door": "closed", "alarm": false} ->
  DispenserReading (published on change and at least every 5 minutes, so silence means trouble);
- `<base>/availability`: {"state": "online"|"offline"}, retained and set as the MQTT last will;
- `<base>/set`: {"snooze": 600, "dose": "08:00"} postpones a due dose's alarm (seconds).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from controller.durations import parse_duration
from controller.errors import PayloadError
from devices.base import (
    Command,
    DeviceEvent,
    DeviceSpec,
    Fields,
    Outgoing,
    Reading,
    check_keys,
    decode_availability,
    field_names,
    get_str,
    get_time,
    json_message,
    json_object,
    merged,
    show,
)

EVENTS = ("dose_due", "dose_taken", "dose_missed", "refill_low")
DOSE_EVENTS = ("dose_due", "dose_taken", "dose_missed")
DOSES_MAX = 10_000  # a roll of sachets is a few hundred at most; more is a broken counter
DOSE_ID_MAX = 40  # '08:00', or a name such as 'ontbijt'
SNOOZE = (timedelta(minutes=1), timedelta(hours=2))


@dataclass(frozen=True, slots=True, kw_only=True)
class DispenserReading(Reading):
    doses_left: int | None = None
    next_dose: str | None = None  # dose id, e.g. '13:00'
    next_dose_at: str | None = None  # ISO 8601 with offset
    battery: int | None = None  # % of the backup battery
    door: str | None = None  # 'open' or 'closed' (the refill door)
    alarm: bool | None = None  # alarming now for a due dose


class Dispenser:
    kind: ClassVar[str] = "dispenser"
    models: ClassVar[tuple[str, ...]] = ("medido",)
    power: ClassVar[str] = "mains"
    heartbeat: ClassVar[bool] = True  # state at least every 5 minutes (docs/devices.md)
    refreshes: ClassVar[bool] = False
    attributes: ClassVar[tuple[str, ...]] = field_names(DispenserReading)
    events: ClassVar[tuple[str, ...]] = EVENTS

    def subscriptions(self, spec: DeviceSpec) -> list[str]:
        return [f"{spec.topic}/event", f"{spec.topic}/state", f"{spec.topic}/availability"]

    def refresh(
        self, spec: DeviceSpec, attributes: Mapping[str, object], readings: list[Reading], now: datetime
    ) -> dict[str, object]:
        return merged(readings)

    def decode(self, spec: DeviceSpec, topic: str, payload: bytes) -> list[Reading]:
        if topic == f"{spec.topic}/availability":
            return [decode_availability(payload)]
        if topic == f"{spec.topic}/event":
            return decode_event(json_object(payload))
        if topic == f"{spec.topic}/state":
            return decode_state(json_object(payload))
        raise PayloadError(f"not a dispenser topic: {topic!r}")

    def encode(self, spec: DeviceSpec, command: Command) -> list[Outgoing]:
        values = command.values
        check_keys(self.kind, values, ("snooze", "dose"))
        if values.get("snooze") is None:
            raise ValueError("a dispenser command needs 'snooze' (a duration such as '10m')")
        try:
            snooze = parse_duration(values["snooze"])
        except ValueError as exc:
            raise ValueError(f"'snooze': {exc}") from exc
        if not SNOOZE[0] <= snooze <= SNOOZE[1]:
            raise ValueError(f"'snooze' should be between 1m and 2h, got {values['snooze']!r}")
        body: dict[str, object] = {"snooze": round(snooze.total_seconds())}
        dose = values.get("dose")
        if dose is not None:
            if not isinstance(dose, str) or not dose or len(dose) > DOSE_ID_MAX:
                raise ValueError(f"'dose' should be a dose id such as '08:00', got {dose!r}")
            body["dose"] = dose
        return [json_message(f"{spec.topic}/set", body)]


def decode_event(data: dict[str, object]) -> list[Reading]:
    """A dispenser event; unknown extra keys are ignored so newer firmware can add some.

    The event, its time and (for a dose) its dose are the event: without them it is refused.
    A bad `due` or `doses_left` is dropped and reported, and the event stands.
    """
    name = data.get("event")
    if not isinstance(name, str) or name not in EVENTS:
        raise PayloadError(f"'event' should be one of {', '.join(EVENTS)}, got {show(name)}")
    when = get_time(data, "time")
    if when is None:
        raise PayloadError(f"{name} event has no 'time'")
    event: dict[str, object] = {"time": when.isoformat()}
    dose = get_str(data, "dose", DOSE_ID_MAX)
    if dose is not None:
        event["dose"] = dose
    elif name in DOSE_EVENTS:
        raise PayloadError(f"{name} event has no 'dose'")
    f = Fields(data)
    due = f.time("due")
    if due is not None:
        event["due"] = due.isoformat()
    doses_left = f.whole("doses_left", 0, DOSES_MAX)
    if doses_left is not None:
        event["doses_left"] = doses_left
    return f.readings(DeviceEvent(name=name, data=event))


def decode_state(data: dict[str, object]) -> list[Reading]:
    """The dispenser's state message, attribute by attribute."""
    f = Fields(data)
    next_at = f.time("next_dose_at")
    return f.readings(DispenserReading(
        doses_left=f.whole("doses_left", 0, DOSES_MAX),
        next_dose=f.text("next_dose", DOSE_ID_MAX),
        next_dose_at=None if next_at is None else next_at.isoformat(),
        battery=f.whole("battery", 0, 100),
        door=f.choice("door", ("open", "closed")),
        alarm=f.flag("alarm"),
    ))
