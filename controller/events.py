"""Events that flow over the bus, each carrying the context that says what caused it."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypedDict

_ids = itertools.count(1)


def new_id(prefix: str) -> str:
    """A process-unique id; cheap enough for the hot path."""
    return f"{prefix}-{next(_ids)}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    """Why something happened: an origin (device, rule, user, hub) and the context before it."""

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

    def explain(self) -> str:
        """The cause chain as one readable line, oldest cause first."""
        return " <- ".join(
            f"{c.origin}: {c.description}" if c.description else c.origin for c in self.chain()
        )


# Event types. Kept as plain strings so scenarios can name them in YAML.
STATE_CHANGED = "state_changed"  # a device attribute changed value
DEVICE_EVENT = "device_event"  # a momentary device event (button action, dispenser event)
AVAILABILITY = "availability"  # a device went online/offline
PAYLOAD_ERROR = "payload_error"  # a device sent something we could not decode
COMMAND_SENT = "command_sent"  # the hub sent a command to a device
HUB_STATUS = "hub_status"  # the hub's own link went up/down


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Something that happened in the home, at a time, for a reason."""

    type: str
    time: datetime
    context: Context
    device: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


# -- alert events ---------------------------------------------------------------------------------
# Kept at the end: the alert subsystem owns this part; `Context` above belongs to the kernel.


class AlertAction(StrEnum):
    """What happened to an alert; the `action` of every `AlertChanged` payload."""

    RAISED = "raised"
    DELIVERED = "delivered"  # a caregiver's channel accepted it
    ACKNOWLEDGED = "acknowledged"
    ESCALATED = "escalated"  # an escalation step paged people (the first step too)
    RESOLVED = "resolved"
    CANCELLED = "cancelled"


class AlertChanged(TypedDict):
    """The payload of a bus event of type "alert": one change of one alert.

    `by` is the caregiver (or user) who caused it, None for the hub itself; `channel` is where
    they did it from, or the channel that delivered it.
    """

    action: AlertAction
    id: str
    key: str
    scenario: str
    severity: str
    state: str  # the alert's state after the change (controller.alerts.model's states)
    message: str
    by: str | None
    channel: str | None


ALERT_CHANGED = "alert"  # the type of the bus events whose data is an `AlertChanged`
