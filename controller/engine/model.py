"""The scenario language as pydantic models: what a technician may write in `scenarios/*.yaml`.

These models check shape and types only. References to devices, rooms, caregivers and
parameters are checked by the loader against the home configuration, and the engine compiles
the validated models into its own fast structures (`controller/engine/compiled.py`).
"""

from __future__ import annotations

from datetime import time, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from controller.durations import parse_duration
from controller.events import Severity

ID_PATTERN = r"^[a-z][a-z0-9_]*$"
Id = Annotated[str, Field(pattern=ID_PATTERN)]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DUTCH_WEEKDAYS = ("ma", "di", "wo", "do", "vr", "za", "zo")
_WEEKDAY_GROUPS = {"weekdays": (0, 1, 2, 3, 4), "weekend": (5, 6), "daily": tuple(range(7))}

_DURATION_SCHEMA: dict[str, object] = {
    "anyOf": [
        {"type": "string", "pattern": r"^\s*(\d+(\.\d+)?\s*(ms|d|h|m|s)\s*)+$|^\d{1,2}:\d{2}(:\d{2})?$"},
        {"type": "number", "minimum": 0},
    ],
    "description": "a duration: '90s', '10m', '1h30m', '2d' or seconds",
}
_SIGNED_DURATION_SCHEMA: dict[str, object] = {
    "anyOf": [
        {"type": "string", "pattern": r"^[+-]?\s*(\d+(\.\d+)?\s*(ms|d|h|m|s)\s*)+$"},
        {"type": "number"},
    ],
    "description": "a duration before (-) or after (+): '-30m', '1h'",
}
_TIME_SCHEMA: dict[str, object] = {
    "anyOf": [
        {"type": "string", "pattern": r"^\d{1,2}:\d{2}(:\d{2})?$"},
        # YAML 1.1 reads an unquoted 22:00 as the number 1320 (minutes).
        {"type": "integer", "minimum": 0, "maximum": 1439},
    ],
    "description": "a time of day, quoted: '07:30'",
}
_WEEKDAY_NAMES = [*WEEKDAYS, *_DUTCH_WEEKDAYS]
_WEEKDAYS_SCHEMA: dict[str, object] = {
    "anyOf": [
        {"type": "string", "enum": [*_WEEKDAY_NAMES, *_WEEKDAY_GROUPS]},
        {"type": "array", "items": {"type": "string", "enum": _WEEKDAY_NAMES}, "minItems": 1},
    ],
    "description": "days: [mon, tue, ...], 'weekdays', 'weekend' (Dutch ma..zo also work)",
}


def _duration(value: object) -> timedelta:
    return parse_duration(value)


def _signed_duration(value: object) -> timedelta:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("-"):
            return -parse_duration(text[1:])
        return parse_duration(text.removeprefix("+"))
    if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
        return -parse_duration(-value)
    return parse_duration(value)


def parse_time_of_day(value: object) -> time:
    """'07:30' (or YAML's 450 for an unquoted 7:30) -> time(7, 30); ValueError with a hint."""
    if isinstance(value, time):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < 24 * 60:
            return time(value // 60, value % 60)
        raise ValueError(f"{value!r} is not a time of day (quote it: '07:30')")
    if isinstance(value, str):
        parts = value.strip().split(":")
        if 2 <= len(parts) <= 3 and all(p.isdigit() for p in parts):
            h, m, s = (int(p) for p in (*parts, "0")[:3])
            if h < 24 and m < 60 and s < 60:
                return time(h, m, s)
    raise ValueError(f"{value!r} is not a time of day (try '07:30')")


def parse_weekdays(value: object) -> frozenset[int]:
    """'weekend', 'mon' or a list of day names -> {0..6} with Monday 0."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple | set | frozenset) or not items:
        raise ValueError(f"{value!r} is not a list of days (try [mon, tue] or 'weekend')")
    days: set[int] = set()
    for item in items:
        if isinstance(item, int) and not isinstance(item, bool) and 0 <= item <= 6:
            days.add(item)
            continue
        name = str(item).strip().lower()[:3] if isinstance(item, str) else ""
        if isinstance(item, str) and item.strip().lower() in _WEEKDAY_GROUPS:
            days.update(_WEEKDAY_GROUPS[item.strip().lower()])
        elif name in WEEKDAYS:
            days.add(WEEKDAYS.index(name))
        elif name[:2] in _DUTCH_WEEKDAYS and len(str(item).strip()) == 2:
            days.add(_DUTCH_WEEKDAYS.index(name[:2]))
        else:
            raise ValueError(f"{item!r} is not a day (use mon, tue, wed, thu, fri, sat, sun)")
    return frozenset(days)


Duration = Annotated[timedelta, BeforeValidator(_duration), WithJsonSchema(_DURATION_SCHEMA)]
SignedDuration = Annotated[
    timedelta, BeforeValidator(_signed_duration), WithJsonSchema(_SIGNED_DURATION_SCHEMA)
]
TimeOfDay = Annotated[time, BeforeValidator(parse_time_of_day), WithJsonSchema(_TIME_SCHEMA)]
Weekdays = Annotated[frozenset[int], BeforeValidator(parse_weekdays), WithJsonSchema(_WEEKDAYS_SCHEMA)]

Scalar = StrictBool | int | float | str
Values = Scalar | list[Scalar]
Ids = Id | list[Id]
Mode = Literal["day", "night", "away", "holiday"]
Presence = Literal["home", "away", "unknown"]
SunEvent = Literal["sunrise", "sunset", "dawn", "dusk"]
AlertChange = Literal["raised", "acknowledged", "escalated", "resolved"]
HubEventName = Literal[
    "device_offline", "device_online", "battery_low", "payload_error",
    "mqtt_disconnected", "mqtt_connected", "bridge_offline", "bridge_online",
]
MODES: tuple[str, ...] = ("day", "night", "away", "holiday")
PRESENCES: tuple[str, ...] = ("home", "away", "unknown")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Selector(_Strict):
    """Which devices: by id, and/or narrowed by kind and room."""

    device: Ids | None = Field(None, description="a device id or a list of ids")
    kind: Id | None = Field(None, description="every device of this kind (e.g. motion)")
    room: Ids | None = Field(None, description="only devices in this room (or these rooms)")

    @model_validator(mode="after")
    def _something(self) -> Selector:
        if self.device is None and self.kind is None and self.room is None:
            raise ValueError("name the devices with 'device', 'kind' and/or 'room'")
        return self


class OptionalSelector(_Strict):
    """Like Selector, but leaving all three out means every device."""

    device: Ids | None = None
    kind: Id | None = None
    room: Ids | None = None


# -- parameters ---------------------------------------------------------------------------------

ParamType = Literal["duration", "number", "integer", "boolean", "string", "time"]


class Parameter(_Strict):
    """A setting a technician can change without touching the scenario's logic."""

    type: ParamType
    default: object = Field(description="the value unless overridden")
    min: object = None
    max: object = None
    choices: list[str] | None = None
    description: str = ""


# -- triggers -----------------------------------------------------------------------------------


class _Trigger(_Strict):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]+$")] | None = Field(
        None, description="name for `type: trigger` conditions and {trigger.id}"
    )


class StateTrigger(_Trigger, Selector):
    """A device attribute changes (and optionally stays so `for` a while)."""

    type: Literal["state"]
    attribute: str
    to: Values | None = None
    from_: Values | None = Field(None, alias="from")
    above: float | None = None
    below: float | None = None
    for_: Duration | None = Field(None, alias="for")
    match: Literal["any", "all"] = "any"

    @model_validator(mode="after")
    def _all_needs_target(self) -> StateTrigger:
        if self.match == "all" and self.to is None and self.above is None and self.below is None:
            raise ValueError("'match: all' needs 'to', 'above' or 'below'")
        return self


class TimeTrigger(_Trigger):
    """A time of day, optionally on some weekdays only."""

    type: Literal["time"]
    at: TimeOfDay | list[TimeOfDay]
    weekdays: Weekdays | None = None


class SunTrigger(_Trigger):
    """Sunrise, sunset, dawn or dusk at the home's location, with an offset."""

    type: Literal["sun"]
    event: SunEvent
    offset: SignedDuration = timedelta(0)
    weekdays: Weekdays | None = None


class EventTrigger(_Trigger, Selector):
    """A momentary device event (button action, SOS press, dispenser event)."""

    type: Literal["event"]
    event: str | list[str] | None = None
    data: dict[str, Scalar] = Field(default_factory=dict)


class AlertTrigger(_Trigger):
    """An alert was raised, acknowledged, escalated or resolved."""

    type: Literal["alert"]
    action: AlertChange | list[AlertChange]
    key: str | None = None
    scenario: Id | None = None
    severity: Severity | list[Severity] | None = None


class HubTrigger(_Trigger, OptionalSelector):
    """The hub's own events: a device offline/online, a low battery, the MQTT link."""

    type: Literal["hub"]
    event: HubEventName
    below: float = Field(15, ge=0, le=100, description="battery_low: threshold in percent")


class ModeTrigger(_Trigger):
    """The house mode changed."""

    type: Literal["mode"]
    to: Mode | list[Mode] | None = None
    from_: Mode | list[Mode] | None = Field(None, alias="from")


class PresenceTrigger(_Trigger):
    """The resident's presence changed."""

    type: Literal["presence"]
    to: Presence | None = None
    from_: Presence | None = Field(None, alias="from")


Trigger = Annotated[
    StateTrigger | TimeTrigger | SunTrigger | EventTrigger | AlertTrigger | HubTrigger
    | ModeTrigger | PresenceTrigger,
    Field(discriminator="type"),
]

# -- conditions ---------------------------------------------------------------------------------


class TimeCondition(_Strict):
    """Local time within [after, before); crosses midnight when after > before."""

    type: Literal["time"]
    after: TimeOfDay | None = None
    before: TimeOfDay | None = None
    weekdays: Weekdays | None = None

    @model_validator(mode="after")
    def _bound(self) -> TimeCondition:
        if self.after is None and self.before is None and self.weekdays is None:
            raise ValueError("give 'after', 'before' and/or 'weekdays'")
        return self


class SunCondition(_Strict):
    """Between two sun events (crossing midnight like `time`)."""

    type: Literal["sun"]
    after: SunEvent | None = None
    before: SunEvent | None = None
    after_offset: SignedDuration = timedelta(0)
    before_offset: SignedDuration = timedelta(0)

    @model_validator(mode="after")
    def _bound(self) -> SunCondition:
        if self.after is None and self.before is None:
            raise ValueError("give 'after' and/or 'before'")
        return self


class StateCondition(Selector):
    """Devices' attribute is (not) a value, above/below a number, possibly for a while."""

    type: Literal["state"]
    attribute: str
    is_: Values | None = Field(None, alias="is")
    not_: Values | None = Field(None, alias="not")
    above: float | None = None
    below: float | None = None
    for_: Duration | None = Field(None, alias="for")
    match: Literal["any", "all"] = "all"

    @model_validator(mode="after")
    def _test(self) -> StateCondition:
        if self.is_ is None and self.not_ is None and self.above is None and self.below is None:
            raise ValueError("give 'is', 'not', 'above' and/or 'below'")
        return self


class HeldCondition(Selector):
    """A device attribute held a value for at least `for` at a stretch since a time of day.

    "Slept since the night began": `{type: held, device: bed_sensor, attribute: occupancy,
    is: true, for: 30m, since: "22:00"}`. `since` is the latest such time at or before now (at
    03:00 that is yesterday's 22:00). A stretch counts when it was still going at or after
    `since`, in full (in bed from 21:00 and up at 22:40 is 100 minutes); one still going counts
    up to now; any listed device counts.

    With `in_total: true` the stretches since `since` are added up instead: "in bed for 11 hours
    tonight" counts 23:00-06:00 and 06:10-11:00 as 11h50m, toilet visit or not. A stretch that
    began before `since` counts from `since`.
    """

    type: Literal["held"]
    attribute: str
    is_: Values = Field(alias="is")
    for_: Duration = Field(alias="for")
    since: TimeOfDay
    in_total: bool = Field(False, description="add up every stretch since `since` (default: the longest one)")


class ResidentCondition(_Strict):
    """The resident is home, away or unknown (nobody can tell)."""

    type: Literal["resident"]
    is_: Presence = Field(alias="is")


class ModeCondition(_Strict):
    """The house mode is one of these."""

    type: Literal["mode"]
    is_: Mode | list[Mode] = Field(alias="is")


class AlertCondition(_Strict):
    """An alert with this key is (not) active."""

    type: Literal["alert"]
    key: str
    active: bool = True


class TriggerCondition(_Strict):
    """The run was started by this trigger (id)."""

    type: Literal["trigger"]
    id: str | list[str]


class WaitCondition(_Strict):
    """The last `wait` of this run ended by its trigger or its timeout."""

    type: Literal["wait"]
    result: Literal["trigger", "timeout"]


class ParameterCondition(_Strict):
    """A parameter has this value (e.g. a protection switched on)."""

    type: Literal["parameter"]
    name: Id
    is_: Values = Field(alias="is")


class QuietCondition(_Strict):
    """Nothing active in the home (no movement seen, no bed or door change) for longer than a
    duration, or than the resident's own usual quiet gap for the part of the day the quiet began
    in (`routine`)."""

    type: Literal["quiet"]
    longer_than: Literal["routine"] | Duration = Field(
        description="'routine' (learned limit, see docs/scenarios.md) or a duration")


class RoutineCondition(_Strict):
    """Where the resident's learned routine says we are: past the usual wake time (not up yet
    would be unusual) or in the usual night."""

    type: Literal["routine"]
    is_: Literal["past_wake_time", "night"] = Field(alias="is")


class AndCondition(_Strict):
    type: Literal["and"]
    conditions: list[Condition] = Field(min_length=1)


class OrCondition(_Strict):
    type: Literal["or"]
    conditions: list[Condition] = Field(min_length=1)


class NotCondition(_Strict):
    type: Literal["not"]
    conditions: list[Condition] = Field(min_length=1)


Condition = Annotated[
    TimeCondition | SunCondition | StateCondition | ResidentCondition | ModeCondition
    | AlertCondition | TriggerCondition | WaitCondition | ParameterCondition
    | QuietCondition | RoutineCondition | AndCondition | OrCondition | NotCondition
    | HeldCondition,
    Field(discriminator="type"),
]

# -- actions ------------------------------------------------------------------------------------

LightState = Literal["on", "off", "toggle", "ON", "OFF", "TOGGLE"]


class LightAction(Selector):
    """Switch, dim or colour lights."""

    type: Literal["light"]
    state: StrictBool | LightState | None = None
    brightness: int | None = Field(None, ge=0, le=254)
    brightness_percent: float | None = Field(None, ge=0, le=100)
    color_temp: int | Literal["coolest", "cool", "neutral", "warm", "warmest"] | None = Field(
        None, description="mireds, or a name (warm, cool, ...)"
    )
    kelvin: int | None = Field(None, ge=2000, le=6500)
    transition: Duration | None = None

    @field_validator("state")
    @classmethod
    def _norm(cls, v: bool | str | None) -> str | None:
        if v is None:
            return None
        if isinstance(v, bool):
            return "ON" if v else "OFF"
        return v.upper()

    @model_validator(mode="after")
    def _something(self) -> LightAction:
        if self.brightness is not None and self.brightness_percent is not None:
            raise ValueError("give 'brightness' or 'brightness_percent', not both")
        if self.color_temp is not None and self.kelvin is not None:
            raise ValueError("give 'color_temp' or 'kelvin', not both")
        if (self.state is None and self.brightness is None and self.brightness_percent is None
                and self.color_temp is None and self.kelvin is None):
            raise ValueError("give 'state', a brightness or a colour temperature")
        return self

    def values(self) -> dict[str, Any]:
        """The command in the devices' vocabulary (controller.device_kind.Command); the light
        adapter turns it into its wire format (kelvin into mireds, for one)."""
        out: dict[str, Any] = {}
        if self.state is not None:
            out["state"] = self.state
        if self.brightness is not None:
            out["brightness"] = self.brightness
        if self.brightness_percent is not None:
            out["brightness_percent"] = _whole(self.brightness_percent)
        if self.color_temp is not None:
            out["color_temp"] = self.color_temp
        if self.kelvin is not None:
            out["kelvin"] = self.kelvin
        if self.transition is not None:
            out["transition"] = _whole(self.transition.total_seconds())
        return out


def _whole(value: float) -> int | float:
    return int(value) if value == int(value) else value


class CurtainAction(Selector):
    """Open, close or stop curtains, or move them to a position."""

    type: Literal["curtain"]
    state: Literal["open", "close", "stop", "OPEN", "CLOSE", "STOP"] | None = None
    position: int | None = Field(None, ge=0, le=100)

    @model_validator(mode="after")
    def _one(self) -> CurtainAction:
        if (self.state is None) == (self.position is None):
            raise ValueError("give either 'state' or 'position'")
        return self

    def values(self) -> dict[str, Any]:
        """The command in the devices' vocabulary (controller.device_kind.Command)."""
        if self.state is not None:
            return {"state": self.state.upper()}
        return {"position": self.position}


class AnnounceAction(_Strict):
    """Speak a text on a speaker."""

    type: Literal["announce"]
    text: str = Field(min_length=1)
    language: Literal["nl", "en"] | None = None
    speaker: Id | None = None
    topic: str | None = Field(None, description="MQTT topic when there is no speaker device")


class RaiseAlertAction(_Strict):
    """Raise an alert to caregivers (or a notice to the technician)."""

    type: Literal["alert"]
    key: str | None = Field(None, description="template; default: the scenario id")
    severity: Severity
    message: str = Field(min_length=1)
    message_en: str | None = Field(None, min_length=1,
                                   description="the message in English (template); default: message")
    audience: Literal["caregivers", "technician"] = "caregivers"
    to: list[Id] = Field(default_factory=list, description="caregiver ids")


class ResolveAlertAction(_Strict):
    """Resolve an alert raised earlier."""

    type: Literal["resolve"]
    key: str | None = None
    reason: str = "opgelost"


class SetModeAction(_Strict):
    type: Literal["set_mode"]
    mode: Mode


class SetPresenceAction(_Strict):
    type: Literal["set_presence"]
    presence: Presence


class DelayAction(_Strict):
    """Wait a while (durable: survives a restart)."""

    type: Literal["delay"]
    duration: Duration


class WaitAction(_Strict):
    """Wait for one of these triggers, at most `timeout` (durable)."""

    type: Literal["wait"]
    triggers: list[Trigger] = Field(min_length=1)
    timeout: Duration | None = None
    on_trigger: Literal["continue", "stop"] = "continue"
    on_timeout: Literal["continue", "stop"] = "continue"


class IfAction(_Strict):
    type: Literal["if"]
    conditions: list[Condition] = Field(min_length=1)
    then: list[Action] = Field(default_factory=list)
    else_: list[Action] = Field(default_factory=list, alias="else")


class CancelAction(_Strict):
    """Stop the running runs of scenarios."""

    type: Literal["cancel"]
    scenario: Ids


class MqttAction(_Strict):
    """Publish a raw MQTT message."""

    type: Literal["mqtt"]
    topic: str = Field(min_length=1)
    payload: str | dict[str, object] = ""
    qos: Literal[0, 1, 2] = 1
    retain: bool = False


class CommandAction(Selector):
    """Any device command, in Zigbee2MQTT /set vocabulary."""

    type: Literal["command"]
    values: dict[str, object] = Field(min_length=1)


Action = Annotated[
    LightAction | CurtainAction | AnnounceAction | RaiseAlertAction | ResolveAlertAction
    | SetModeAction | SetPresenceAction | DelayAction | WaitAction | IfAction | CancelAction
    | MqttAction | CommandAction,
    Field(discriminator="type"),
]

# -- scenarios and files ------------------------------------------------------------------------


class Scenario(_Strict):
    """One scenario: when (triggers), only if (conditions), do (actions)."""

    id: Id
    description: str = ""
    enabled: bool = True
    mode: Literal["single", "restart", "queued", "parallel"] = "single"
    max_queued: int = Field(10, ge=1, le=1000)
    cooldown: Duration | None = None
    parameters: dict[Id, Parameter] = Field(default_factory=dict)
    triggers: list[Trigger] = Field(min_length=1)
    conditions: list[Condition] = Field(default_factory=list)
    actions: list[Action] = Field(min_length=1)


class ScenarioFile(_Strict):
    """A scenario file: shared parameters and one or more scenarios."""

    name: Id | None = Field(None, description="scope of the file's parameters (default: file stem)")
    description: str = ""
    parameters: dict[Id, Parameter] = Field(default_factory=dict)
    scenarios: list[Scenario] = Field(min_length=1)


class FileShell(_Strict):
    """A file with its scenarios left unchecked, so each can be validated (and fail) on its own."""

    name: Id | None = None
    description: str = ""
    parameters: dict[Id, Parameter] = Field(default_factory=dict)
    scenarios: list[object] = Field(min_length=1)


for _model in (AndCondition, OrCondition, NotCondition, IfAction, WaitAction, Scenario,
               ScenarioFile):
    _model.model_rebuild()

TRIGGER_TYPES: dict[str, type[BaseModel]] = {
    "state": StateTrigger, "time": TimeTrigger, "sun": SunTrigger, "event": EventTrigger,
    "alert": AlertTrigger, "hub": HubTrigger, "mode": ModeTrigger, "presence": PresenceTrigger,
}
CONDITION_TYPES: dict[str, type[BaseModel]] = {
    "time": TimeCondition, "sun": SunCondition, "state": StateCondition,
    "resident": ResidentCondition, "mode": ModeCondition, "alert": AlertCondition,
    "trigger": TriggerCondition, "wait": WaitCondition, "parameter": ParameterCondition,
    "quiet": QuietCondition, "routine": RoutineCondition, "and": AndCondition, "or": OrCondition, "not": NotCondition,
    "held": HeldCondition,
}
ACTION_TYPES: dict[str, type[BaseModel]] = {
    "light": LightAction, "curtain": CurtainAction, "announce": AnnounceAction,
    "alert": RaiseAlertAction, "resolve": ResolveAlertAction, "set_mode": SetModeAction,
    "set_presence": SetPresenceAction, "delay": DelayAction, "wait": WaitAction, "if": IfAction,
    "cancel": CancelAction, "mqtt": MqttAction, "command": CommandAction,
}
