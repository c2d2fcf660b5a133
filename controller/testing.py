"""Stand-ins that record instead of acting: for tests, and for dry runs such as `huis replay`.

Nothing here pages anyone or sends anything. `RecordingAlertSink` tells the bus about alerts as
the alert service would, so scenarios that follow alerts behave as in the home;
`MemoryAlertSink` only keeps lists; `MemoryLink` keeps what the hub would have published.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from controller.events import ALERT_CHANGED, AlertAction, Context, Severity
from controller.hub import Hub
from controller.mqtt import MemoryLink

__all__ = ["AlertRecord", "MemoryAlertSink", "MemoryLink", "RecordingAlertSink"]


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertRecord:
    """One change of an alert as the rule engine caused it."""

    time: datetime
    action: str  # raised | resolved | acknowledged
    id: str
    key: str
    scenario: str
    severity: Severity
    message: str = ""
    reason: str = ""
    audience: str = "caregivers"
    recipients: tuple[str, ...] = ()
    cause: str = ""


class RecordingAlertSink:
    """An AlertSink that pages nobody: it records, and tells the bus as the alert subsystem would.

    Like the real subsystem it publishes `alert` events on the hub bus (raised, resolved, and
    `acknowledge()` for tests), so scenarios that follow alerts behave as in the home.
    """

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self.records: list[AlertRecord] = []
        self._active: dict[str, AlertRecord] = {}
        self._seq = 0

    async def raise_alert(self, *, key: str, scenario: str, severity: Severity, message: str,
                          context: Context, data: Mapping[str, object]) -> str:
        current = self._active.get(key)
        if current is not None:
            return current.id
        self._seq += 1
        recipients = data.get("recipients", ())
        record = AlertRecord(time=self._hub.clock.now(), action="raised", id=f"alert-{self._seq}",
                             key=key, scenario=scenario, severity=severity, message=message,
                             audience=str(data.get("audience", "caregivers")),
                             recipients=tuple(recipients) if isinstance(recipients, list | tuple) else (),
                             cause=context.explain())
        self.records.append(record)
        self._active[key] = record
        self._publish("raised", record, context, None)
        return record.id

    async def resolve_alert(self, *, key: str, reason: str, context: Context) -> bool:
        current = self._active.pop(key, None)
        if current is None:
            return False
        record = AlertRecord(time=self._hub.clock.now(), action="resolved", id=current.id, key=key,
                             scenario=current.scenario, severity=current.severity,
                             message=current.message, reason=reason, audience=current.audience,
                             cause=context.explain())
        self.records.append(record)
        self._publish("resolved", record, context, None)
        return True

    def is_active(self, key: str) -> bool:
        """Whether the alert `key` was raised and not resolved (the engine asks this)."""
        return key in self._active

    def acknowledge(self, key: str, by: str) -> None:
        """A caregiver acknowledges the active alert `key` (as the alert pages would report)."""
        current = self._active[key]
        ctx = Context(origin=f"user:{by}", description=f"acknowledged {current.id}")
        record = AlertRecord(time=self._hub.clock.now(), action="acknowledged", id=current.id,
                             key=key, scenario=current.scenario, severity=current.severity,
                             message=current.message, audience=current.audience, cause=ctx.explain())
        self.records.append(record)
        self._publish("acknowledged", record, ctx, by)

    def _publish(self, action: str, record: AlertRecord, ctx: Context, by: str | None) -> None:
        # The alert subsystem's states after each action (controller/alerts/model.py).
        state = {"raised": "raised", "acknowledged": "acknowledged", "resolved": "resolved"}[action]
        self._hub.bus.publish(ALERT_CHANGED.event(time=record.time, context=ctx, data={
            "action": AlertAction(action), "id": record.id, "key": record.key,
            "scenario": record.scenario, "severity": record.severity, "state": state,
            "message": record.message, "by": by, "channel": None}))

    def active(self) -> list[AlertRecord]:
        """Alerts raised and not resolved, oldest first."""
        return list(self._active.values())

    def raised(self) -> list[AlertRecord]:
        """Every raise, in order."""
        return [r for r in self.records if r.action == "raised"]

    def resolved(self) -> list[AlertRecord]:
        """Every resolve that found an active alert, in order."""
        return [r for r in self.records if r.action == "resolved"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RaisedAlert:
    """One `raise_alert` call as a MemoryAlertSink saw it."""

    id: str
    key: str
    scenario: str
    severity: Severity
    message: str
    context: Context
    data: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolvedAlert:
    """One `resolve_alert` call that found an active alert."""

    key: str
    reason: str
    context: Context


class MemoryAlertSink:
    """Alerts kept in a list: what a run would have raised, without paging anyone."""

    def __init__(self) -> None:
        self.raised: list[RaisedAlert] = []
        self.resolved: list[ResolvedAlert] = []
        self._active: dict[str, RaisedAlert] = {}

    async def raise_alert(self, *, key: str, scenario: str, severity: Severity, message: str,
                          context: Context, data: Mapping[str, object]) -> str:
        if key in self._active:
            return self._active[key].id
        alert = RaisedAlert(id=f"alert-{len(self.raised) + 1}", key=key, scenario=scenario,
                            severity=severity, message=message, context=context, data=dict(data))
        self.raised.append(alert)
        self._active[key] = alert
        return alert.id

    async def resolve_alert(self, *, key: str, reason: str, context: Context) -> bool:
        if self._active.pop(key, None) is None:
            return False
        self.resolved.append(ResolvedAlert(key=key, reason=reason, context=context))
        return True

    def is_active(self, key: str) -> bool:
        return key in self._active

    def active(self) -> list[RaisedAlert]:
        """Alerts raised and not resolved, oldest first."""
        return list(self._active.values())
