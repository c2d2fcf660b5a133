"""Events that flow over the bus, each carrying the context that says what caused it."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Generic, Literal, NotRequired, TypedDict, TypeGuard, TypeVar

_ids = itertools.count(1)


def new_id(prefix: str) -> str:
    """A process-unique id; cheap enough for the hot path."""
    return f"{prefix}-{next(_ids)}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    """Why something happened: an origin (device, rule, user, hub) and the context before it.

    One stored form (`to_json`, read back by `from_json`) and one readable form (`links`,
    `explain`): traces, alerts, the history and the narrator all go through these.
    """

    id: str = field(default_factory=lambda: new_id("ctx"))
    origin: str
    description: str = ""
    parent: Context | None = None

    def child(self, origin: str, description: str = "") -> Context:
        """A context caused by this one."""
        return Context(origin=origin, description=description, parent=self)

    def chain(self) -> list[Context]:
        """This context and its ancestors, the original cause last."""
        out: list[Context] = []
        ctx: Context | None = self
        while ctx is not None:
            out.append(ctx)
            ctx = ctx.parent
        return out

    @property
    def link(self) -> str:
        """This link alone as text: 'origin: description', or the origin."""
        return f"{self.origin}: {self.description}" if self.description else self.origin

    def links(self) -> list[str]:
        """The cause chain as text, one link each, newest first (a trace's `cause`)."""
        return [c.link for c in self.chain()]

    def explain(self) -> str:
        """The cause chain as one readable line, newest first: 'a: x <- b: y <- c'."""
        return " <- ".join(self.links())

    def to_json(self) -> list[dict[str, str]]:
        """The cause chain as JSON, newest first: {"id", "origin", "description"} per link."""
        return [{"id": c.id, "origin": c.origin, "description": c.description}
                for c in self.chain()]

    @classmethod
    def from_json(cls, data: object) -> Context | None:
        """The newest context of a stored chain; None for an empty one.

        Reads every form a chain was ever stored in: `to_json`'s list of links; the
        `[origin, description]` pairs, oldest first, of engine timers saved before issue 11; a
        trace's `links()`; an `explain()` line (the history). Links get fresh ids: an id is
        only unique within the process that made it.
        """
        pairs = _stored_pairs(data)  # oldest first
        ctx: Context | None = None
        for origin, description in pairs:
            ctx = Context(origin=origin, description=description, parent=ctx)
        return ctx


def _stored_pairs(data: object) -> list[tuple[str, str]]:
    if isinstance(data, str):
        return [_parse_link(text) for text in reversed(data.split(" <- "))]
    if not isinstance(data, list | tuple):
        return []
    pairs: list[tuple[str, str]] = []
    for item in data:
        if isinstance(item, str):
            pairs.insert(0, _parse_link(item))
        elif isinstance(item, Mapping):
            pairs.insert(0, (str(item.get("origin", "")), str(item.get("description", ""))))
        elif isinstance(item, list | tuple) and item:
            pairs.append((str(item[0]), str(item[1]) if len(item) > 1 else ""))
    return pairs


def _parse_link(text: str) -> tuple[str, str]:
    origin, _, description = text.partition(": ")
    return origin, description


P = TypeVar("P", covariant=True)  # an event's payload type
Q = TypeVar("Q")
# Invariant: an event built with an event type must carry exactly that type's payload.
T = TypeVar("T")


class EventType(str, Generic[T]):
    """An event type: its name (what scenarios write in YAML) and, for the type checker, its payload.

    In the spirit of Home Assistant's `EventType[T]`: `bus.subscribe(listener, STATE_CHANGED)`
    hands `listener` an `Event[StateChanged]`, and `is_a(event, STATE_CHANGED)` narrows an event
    of any type to one. At run time it is the plain string.
    """

    __slots__ = ()

    def event(self, *, time: datetime, context: Context, data: T, device: str | None = None) -> Event[T]:
        """An event of this type; the type checker holds `data` to this type's payload."""
        return Event(type=self, time=time, context=context, data=data, device=device)


class StateChanged(TypedDict):
    """Attributes of a device that changed value: {name: (old, new)}."""

    changes: dict[str, tuple[object, object]]


# A momentary device event: "event" names it (a button action, a dispenser event); the other
# keys are its data (which dose). Flat, because scenarios match and template on those keys.
DeviceEventData = Mapping[str, object]


class AvailabilityChanged(TypedDict):
    """A device went online or offline, and why we think so. With `bridge` (and no device),
    the bridge itself did; on a device, its bridge's state decided, not the device."""

    online: bool
    reason: str
    bridge: NotRequired[str]


class PayloadProblem(TypedDict):
    """A device sent something its adapter could not decode."""

    topic: str
    reason: str


class CommandSent(TypedDict):
    """The hub sent a command to a device (the adapter's vocabulary, before wire encoding)."""

    values: dict[str, object]


class HubStatus(TypedDict):
    """The hub's own MQTT link went up or down."""

    mqtt_connected: bool


STATE_CHANGED: EventType[StateChanged] = EventType("state_changed")
DEVICE_EVENT: EventType[DeviceEventData] = EventType("device_event")
AVAILABILITY: EventType[AvailabilityChanged] = EventType("availability")
PAYLOAD_ERROR: EventType[PayloadProblem] = EventType("payload_error")
COMMAND_SENT: EventType[CommandSent] = EventType("command_sent")
HUB_STATUS: EventType[HubStatus] = EventType("hub_status")


@dataclass(frozen=True, slots=True, kw_only=True)
class Event(Generic[P]):
    """Something that happened in the home, at a time, for a reason; `data` as its type says."""

    type: EventType[P]
    time: datetime
    context: Context
    data: P
    device: str | None = None


def is_a(event: Event[object], event_type: EventType[Q]) -> TypeGuard[Event[Q]]:
    """Whether `event` is of `event_type` (and so carries its payload type)."""
    return event.type == event_type


# -- alert events ---------------------------------------------------------------------------------
# Kept at the end: the alert subsystem owns this part; `Context` above belongs to the kernel.


class AlertAction(StrEnum):
    """What happened to an alert; the `action` of every `AlertChanged` payload."""

    RAISED = "raised"
    DELIVERED = "delivered"  # a push service for a caregiver's phone accepted it
    SHOWN = "shown"  # only the hub's own page (or another system) has it: no phone reached yet
    ACKNOWLEDGED = "acknowledged"
    ESCALATED = "escalated"  # an escalation step paged people (the first step too)
    RESOLVED = "resolved"
    CANCELLED = "cancelled"
    REPEATED = "repeated"  # raised again while active: counted, or told again to those paged


# How urgent an alert is; scenarios write it, the escalation policies page by it.
Severity = Literal["urgent", "warning", "info"]


class AlertChanged(TypedDict):
    """The payload of a bus event of type "alert": one change of one alert.

    `by` is the caregiver (or user) who caused it, None for the hub itself; `channel` is where
    they did it from, or the channel that delivered it.
    """

    action: AlertAction
    id: str
    key: str
    scenario: str
    severity: Severity
    state: str  # the alert's state after the change (controller.alerts.model's states)
    message: str
    message_en: NotRequired[str]  # the scenario's English message, when it gives one
    by: str | None
    channel: str | None


ALERT_CHANGED: EventType[AlertChanged] = EventType("alert")  # scenarios name it "alert"
