"""An alert's life as pure transitions, each returning the changed alert and its audit entries.

raised -> delivering (first step paged) -> shown (only the hub's page has it) -> delivered (a
push service for a phone accepted it) -> acknowledged
(someone is going) -> resolved (or expired) or cancelled. What a raise of an active key does is
in `occurrences`. Nothing here reads a clock, a database or the
network: the service supplies `now` and stores what these return, so the rules are tested
without any I/O and a restarted hub recomputes the same answers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from controller.alerts.escalation import step_due, step_recipients
from controller.alerts.model import (
    ACKNOWLEDGED,
    CANCELLED,
    DELIVERED,
    DELIVERING,
    KIND_ALERT,
    RAISED,
    RESOLVED,
    SHOWN,
    Alert,
)
from controller.alerts.policy import EscalationPolicy
from controller.alerts.store import AuditEntry, NewDelivery
from controller.events import Context, Severity

# When step n (0-based) of an alert falls due, after quiet hours; None when it never does.
Deadline = Callable[[int], datetime | None]


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    """An alert after one change, the audit entries recording it and the deliveries it needs."""

    alert: Alert
    audit: tuple[AuditEntry, ...] = ()
    deliveries: tuple[NewDelivery, ...] = ()


def entry(alert: Alert, event: str, *, user: str | None = None, channel: str | None = None,
          detail: str = "") -> AuditEntry:
    """An audit entry about `alert`, stamped with the time of its latest change."""
    return AuditEntry(time=alert.updated_at if event != "raised" else alert.raised_at,
                      alert_id=alert.id, event=event, resident=alert.resident, user=user,
                      channel=channel, detail=detail)


def is_due(alert: Alert, now: datetime) -> bool:
    """Whether the alert's next escalation step should run now."""
    return alert.escalating and alert.next_at is not None and alert.next_at <= now


def expires_at(alert: Alert, policy: EscalationPolicy) -> datetime | None:
    """When a left-over alert closes by the expiry rule (docs/alerts.md, "Occurrences"), or None.

    An alert nothing schedules any more (acknowledged, or its steps are over) expires
    `expire_after` after its last activity, unless its policy closes it itself. An urgent
    alert nobody acknowledged never expires: it keeps escalating. Technician notices stay until
    their rule or a technician closes them.
    """
    if policy.auto_resolve_after is not None:
        return None  # the policy's own closing rule
    if alert.data.get("audience") == "technician":
        return None  # a to-do on the technician's console (a device offline), not a page
    if alert.state != ACKNOWLEDGED and (alert.severity == "urgent" or alert.next_at is not None):
        return None  # nobody is going yet: it keeps escalating, never silently expires
    return alert.last_activity + policy.expire_after


def closes_by_itself(alert: Alert, policy: EscalationPolicy, now: datetime) -> str | None:
    """'auto' or 'expired' when the alert's time is up now; None otherwise."""
    if policy.auto_resolve_after is not None and alert.raised_at + policy.auto_resolve_after <= now:
        return "auto"
    expiry = expires_at(alert, policy)
    return "expired" if expiry is not None and expiry <= now else None


def next_wake(alert: Alert, policy: EscalationPolicy) -> datetime | None:
    """When the alert next needs attention: its next step, its automatic close or its expiry."""
    times = []
    if alert.escalating and alert.next_at is not None:
        times.append(alert.next_at)
    if policy.auto_resolve_after is not None:
        times.append(alert.raised_at + policy.auto_resolve_after)
    if (expiry := expires_at(alert, policy)) is not None:
        times.append(expiry)
    return min(times) if times else None


def stepped(alert: Alert, policy: EscalationPolicy, now: datetime, *, caregivers: Collection[str],
            deadline: Deadline) -> Transition:
    """The alert after running its next step, paging that step's caregivers."""
    step = alert.step
    if step >= len(policy.steps):
        # After downtime, repeats that are long overdue collapse into one (no burst).
        while (later := step_due(policy, alert.raised_at, step + 1)) is not None and later <= now:
            step += 1
    who = [r for r in step_recipients(policy, step) if r in caregivers]
    state = DELIVERING if alert.state == RAISED else alert.state
    updated = replace(alert, step=step + 1, next_at=deadline(step + 1), state=state, updated_at=now)
    what = "repeat" if step >= len(policy.steps) else f"step {step + 1}"
    audit = [entry(updated, "delivering")] if alert.state == RAISED else []
    audit.append(entry(updated, "escalated", detail=f"{what}: {', '.join(who) or 'nobody'}"))
    deliveries = tuple(NewDelivery(alert_id=alert.id, kind=KIND_ALERT, step=step, recipient=r)
                       for r in who)
    return Transition(alert=updated, audit=tuple(audit), deliveries=deliveries)


def raised(*, alert_id: str, key: str, scenario: str, severity: Severity, message: str,
           resident: str, context: Context, data: Mapping[str, object], policy: EscalationPolicy,
           now: datetime, caregivers: Collection[str], deadline: Deadline,
           previous: Alert | None = None) -> Transition:
    """A new alert, with its first step already run when that is due at once.

    `previous` is the active alert of the same key this one follows (a new urgent occurrence):
    the new alert is linked to it, and both get an audit entry saying so.
    """
    for_technicians = data.get("audience") == "technician"
    origin = data.get("origin")
    alert = Alert(id=alert_id, key=key, scenario=scenario, severity=severity, message=message,
                  resident=resident, policy=policy.name, state=RAISED, cause=context.explain(),
                  cause_chain=tuple(context.to_json()),
                  # As it will read back from the database: JSON values only (times as text).
                  data=json.loads(json.dumps(dict(data), default=str)),
                  raised_at=now, updated_at=now, step=0,
                  next_at=None if for_technicians else deadline(0),
                  origin=origin if isinstance(origin, str) else None,
                  previous_id=previous.id if previous else None,
                  occurrence=previous.occurrence + 1 if previous else 1)
    first = entry(alert, "raised", user=context.origin, detail=context.explain())
    if previous is not None:
        how = (f"acknowledged by {previous.acknowledged_by} at {previous.acknowledged_at.isoformat()}"
               if previous.acknowledged_at is not None else f"still {previous.state}")
        first = replace(first, detail=f"again (occurrence {alert.occurrence}), after {previous.id}"
                                      f" ({how}): {first.detail}")
        on_previous = AuditEntry(time=now, alert_id=previous.id, event="reoccurred",
                                 resident=resident, detail=f"raised again as {alert.id}")
        first_entries: tuple[AuditEntry, ...] = (on_previous, first)
    else:
        first_entries = (first,)
    if alert.next_at is not None and alert.next_at <= now:
        # The first step is due at once: record it in the same transaction (one fsync
        # fewer on the path from sensor to phone), still before anything is sent.
        step = stepped(alert, policy, now, caregivers=caregivers, deadline=deadline)
        return replace(step, audit=(*first_entries, *step.audit))
    held = ("for technicians: shown on the dashboard, nobody paged" if for_technicians
            else f"first step at {alert.next_at}")
    return Transition(alert=alert, audit=(*first_entries, entry(alert, "held", detail=held)))


def delivered(alert: Alert, now: datetime) -> Alert | None:
    """The alert once a push service for a caregiver's phone accepted it; None when that changes nothing."""
    if alert.state in (RAISED, DELIVERING, SHOWN):
        return replace(alert, state=DELIVERED, updated_at=now)
    return None


def shown(alert: Alert, now: datetime) -> Alert | None:
    """The alert once only the hub's page (or another system) has it; None when that changes nothing."""
    if alert.state in (RAISED, DELIVERING):
        return replace(alert, state=SHOWN, updated_at=now)
    return None


def acknowledged(alert: Alert, *, by: str, channel: str, now: datetime) -> Transition:
    """`by` is going: escalation stops."""
    updated = replace(alert, state=ACKNOWLEDGED, acknowledged_by=by, acknowledged_via=channel,
                      acknowledged_at=now, next_at=None, updated_at=now)
    return Transition(alert=updated, audit=(entry(updated, "acknowledged", user=by, channel=channel),))


def closed(alert: Alert, *, state: str, resolution: str, by: str, channel: str | None, note: str,
           now: datetime, anyone_paged: bool) -> Transition:
    """The alert resolved or cancelled (`state`); over for good."""
    if not anyone_paged and state == RESOLVED and resolution == "rule":
        # Over before anyone was reached: nothing to resolve for anybody.
        state, resolution = CANCELLED, "cancelled"
    updated = replace(alert, state=state, resolution=resolution, resolved_by=by, resolved_at=now,
                      note=note, next_at=None, updated_at=now)
    event = "expired" if resolution == "expired" else state
    return Transition(alert=updated, audit=(entry(updated, event, user=by, channel=channel, detail=note),))
