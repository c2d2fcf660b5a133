"""Values of the alert system: alerts, their states, recipients and the notifications they get."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from controller.events import Severity

SEVERITIES: tuple[Severity, ...] = ("urgent", "warning", "info")

# States, in the order an alert normally goes through them.
RAISED = "raised"  # stored, nobody paged yet
DELIVERING = "delivering"  # the first escalation step has been handed to channels
# "Shown" is not "delivered": the hub's own page (or an MQTT system) has it, but no service that
# pushes to a person's phone has accepted it yet. Escalation goes on exactly as before.
SHOWN = "shown"
DELIVERED = "delivered"  # a push service for a caregiver's phone (ntfy, HA app, Apprise) accepted it
ACKNOWLEDGED = "acknowledged"  # a caregiver said "ik ga erheen": escalation stops
RESOLVED = "resolved"  # over: by a rule, by a caregiver with a note, or automatically
CANCELLED = "cancelled"  # withdrawn before anyone was reached, or by a technician

ACTIVE_STATES = (RAISED, DELIVERING, SHOWN, DELIVERED, ACKNOWLEDGED)
ESCALATING_STATES = (RAISED, DELIVERING, SHOWN, DELIVERED)

# How far a channel gets a notification (a channel's `reach`).
REACH_DEVICE = "device"  # handed to a service that pushes to a person's phone or inbox
REACH_PAGE = "page"  # the hub's own caregiver page: seen only by someone who looks
REACH_SYSTEM = "system"  # handed to another system (an MQTT subscriber): no person known to be reached

# What a delivery carries: the alert itself, or a follow-up to those already paged.
KIND_ALERT = "alert"
KIND_ACKNOWLEDGED = "acknowledged"
KIND_RESOLVED = "resolved"
KIND_REPEAT = "repeat"  # the same thing happened again: told to those already paged
KIND_EXPIRED = "expired"  # closed by the expiry rule: told to those paged

@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelTarget:
    """One way to reach one caregiver: a channel type plus its per-caregiver options."""

    type: str
    options: Mapping[str, object] = field(default_factory=dict)
    timeout: timedelta = timedelta(seconds=10)
    retries: int = 2  # extra attempts after the first
    backoff: timedelta = timedelta(seconds=2)  # before the first retry; doubles each time

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValueError("retries cannot be negative")
        if self.timeout <= timedelta(0):
            raise ValueError("timeout must be positive")


@dataclass(frozen=True, slots=True, kw_only=True)
class Recipient:
    """A caregiver as the alert system sees them: a name to show and channels in order."""

    id: str
    name: str
    relation: str | None = None
    language: Literal["nl", "en"] = "nl"
    channels: tuple[ChannelTarget, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """One alert as stored. The service replaces it with an updated copy on every transition."""

    id: str
    key: str
    scenario: str
    severity: Severity
    message: str
    resident: str
    policy: str
    state: str
    cause: str  # Context.explain(): the cause chain as one line
    cause_chain: tuple[Mapping[str, str], ...] = ()
    data: Mapping[str, object] = field(default_factory=dict)
    raised_at: datetime
    updated_at: datetime
    step: int = 0  # the next escalation step to run
    next_at: datetime | None = None  # when it runs; None once escalation is over
    acknowledged_by: str | None = None
    acknowledged_via: str | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution: str | None = None  # 'rule', 'caregiver', 'auto', 'expired' or 'cancelled'
    note: str | None = None
    # Occurrences (docs/alerts.md "Occurrences"): an urgent raise while an alert with the same
    # key is active becomes a new alert linked to the latest one; other repeats are counted.
    previous_id: str | None = None  # the active alert of the same key this one follows
    occurrence: int = 1  # 1 for the first of a chain of linked alerts, 2 for "opnieuw", ...
    repeats: int = 0  # later raises counted on this alert instead of paging anew
    last_repeat_at: datetime | None = None
    renotified_at: datetime | None = None  # when those paged were last told it happened again
    origin: str | None = None  # what raised it (a rule run's action): raising it again is a no-op

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def escalating(self) -> bool:
        return self.state in ESCALATING_STATES

    @property
    def last_activity(self) -> datetime:
        """Its latest raise, repeat, acknowledgement or re-notification: expiry counts from here."""
        times = [t for t in (self.acknowledged_at, self.last_repeat_at, self.renotified_at) if t]
        return max([self.raised_at, *times])

    def as_dict(self) -> dict[str, object]:
        """A JSON-friendly copy."""

        def iso(t: datetime | None) -> str | None:
            return t.isoformat() if t is not None else None

        return {
            "id": self.id, "key": self.key, "scenario": self.scenario, "severity": self.severity,
            "message": self.message, "resident": self.resident, "policy": self.policy,
            "state": self.state, "cause": self.cause, "cause_chain": [dict(c) for c in self.cause_chain],
            "data": dict(self.data), "raised_at": iso(self.raised_at),
            "updated_at": iso(self.updated_at), "step": self.step, "next_at": iso(self.next_at),
            "acknowledged_by": self.acknowledged_by, "acknowledged_via": self.acknowledged_via,
            "acknowledged_at": iso(self.acknowledged_at), "resolved_at": iso(self.resolved_at),
            "resolved_by": self.resolved_by, "resolution": self.resolution, "note": self.note,
            "previous_id": self.previous_id, "occurrence": self.occurrence, "repeats": self.repeats,
            "last_repeat_at": iso(self.last_repeat_at), "renotified_at": iso(self.renotified_at),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Notification:
    """What one channel is asked to put on one caregiver's phone."""

    alert_id: str
    kind: str  # KIND_ALERT or a follow-up: KIND_ACKNOWLEDGED, KIND_RESOLVED, KIND_REPEAT, ...
    severity: Severity
    title: str
    message: str
    recipient: Recipient
    view_url: str  # the alert's page (opens the signed link's confirm page)
    ack_url: str | None = None  # POST here to acknowledge; only on KIND_ALERT
    ack_label: str = "Ik ga erheen"
    view_label: str = "Bekijk"
    tag: str = ""  # stable per alert, so phones that support it replace instead of stack
    # Idempotency key: the same for every attempt of one delivery (and after a restart), different
    # for every delivery. Channels that can pass one on do (ntfy's sequence_id, MQTT's payload).
    key: str = ""

    @property
    def urgent(self) -> bool:
        return self.severity == "urgent"


@dataclass(frozen=True, slots=True, kw_only=True)
class AckOutcome:
    """What happened to an acknowledgement: `ok`, or why not, and the alert as it now is."""

    ok: bool
    reason: str  # 'acknowledged', 'already', 'closed', 'unknown', 'forged', 'expired', 'reused'
    alert: Alert | None = None
    by: str | None = None
