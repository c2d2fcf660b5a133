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


# What a raise of a key that is already active does (docs/alerts.md, "Occurrences"), as the
# alert service decides it; the doubles below mirror it without clocks or policies: an urgent
# raise is a new alert linked to the latest active one, any other is counted on it. (They do
# not model re-notification or expiry: nobody acknowledges in a dry run.)


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertRecord:
    """One change of an alert as the rule engine caused it."""

    time: datetime
    action: str  # raised | repeated | resolved | acknowledged
    id: str
    key: str
    scenario: str
    severity: Severity
    message: str = ""
    reason: str = ""
    audience: str = "caregivers"
    recipients: tuple[str, ...] = ()
    cause: str = ""
    previous_id: str | None = None  # a new urgent occurrence: the active alert it follows
    occurrence: int = 1


class RecordingAlertSink:
    """An AlertSink that pages nobody: it records, and tells the bus as the alert subsystem would.

    Like the real subsystem it publishes `alert` events on the hub bus (raised, resolved, and
    `acknowledge()` for tests), so scenarios that follow alerts behave as in the home. A
    repeated non-urgent raise is recorded as `repeated` with the id of the alert it counts on.
    """

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self.records: list[AlertRecord] = []
        self._active: dict[str, list[AlertRecord]] = {}  # by key, oldest first
        self._origins: dict[tuple[str, str], str] = {}
        self._seq = 0

    async def raise_alert(self, *, key: str, scenario: str, severity: Severity, message: str,
                          context: Context, data: Mapping[str, object]) -> str:
        origin = data.get("origin")
        if isinstance(origin, str) and (key, origin) in self._origins:
            return self._origins[(key, origin)]  # the same occurrence, raised again
        earlier = self._active.get(key, [])
        now = self._hub.clock.now()
        if earlier and severity != "urgent":
            latest = earlier[-1]
            self.records.append(AlertRecord(time=now, action="repeated", id=latest.id, key=key,
                                            scenario=latest.scenario, severity=latest.severity,
                                            message=message, reason=f"counted on {latest.id}",
                                            audience=latest.audience, cause=context.explain()))
            return latest.id
        self._seq += 1
        recipients = data.get("recipients", ())
        previous = earlier[-1] if earlier else None
        record = AlertRecord(time=now, action="raised", id=f"alert-{self._seq}",
                             key=key, scenario=scenario, severity=severity, message=message,
                             audience=str(data.get("audience", "caregivers")),
                             recipients=tuple(recipients) if isinstance(recipients, list | tuple) else (),
                             cause=context.explain(), previous_id=previous.id if previous else None,
                             occurrence=previous.occurrence + 1 if previous else 1)
        self.records.append(record)
        self._active.setdefault(key, []).append(record)
        if isinstance(origin, str):
            self._origins[(key, origin)] = record.id
        self._publish("raised", record, context, None)
        return record.id

    async def resolve_alert(self, *, key: str, reason: str, context: Context) -> bool:
        """Resolve every active alert of `key` (each occurrence), as the alert service does."""
        closed = self._active.pop(key, [])
        for current in closed:
            record = AlertRecord(time=self._hub.clock.now(), action="resolved", id=current.id, key=key,
                                 scenario=current.scenario, severity=current.severity,
                                 message=current.message, reason=reason, audience=current.audience,
                                 cause=context.explain())
            self.records.append(record)
            self._publish("resolved", record, context, None)
        return bool(closed)

    def is_active(self, key: str) -> bool:
        """Whether an alert `key` was raised and not resolved (the engine asks this)."""
        return bool(self._active.get(key))

    def acknowledge(self, key: str, by: str) -> None:
        """A caregiver acknowledges the latest active alert `key` (as the alert pages would report)."""
        current = self._active[key][-1]
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
        return sorted((r for rs in self._active.values() for r in rs), key=lambda r: r.time)

    def raised(self) -> list[AlertRecord]:
        """Every raise that made an alert, in order."""
        return [r for r in self.records if r.action == "raised"]

    def repeated(self) -> list[AlertRecord]:
        """Every raise counted on an active alert of its key, in order."""
        return [r for r in self.records if r.action == "repeated"]

    def resolved(self) -> list[AlertRecord]:
        """Every resolve of an active alert, in order."""
        return [r for r in self.records if r.action == "resolved"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RaisedAlert:
    """One `raise_alert` call that made an alert, as a MemoryAlertSink saw it."""

    id: str
    key: str
    scenario: str
    severity: Severity
    message: str
    context: Context
    data: Mapping[str, object] = field(default_factory=dict)
    previous_id: str | None = None  # a new urgent occurrence: the active alert it follows


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolvedAlert:
    """One alert a `resolve_alert` call closed."""

    key: str
    reason: str
    context: Context
    id: str = ""


class MemoryAlertSink:
    """Alerts kept in a list: what a run would have raised, without paging anyone.

    `repeats` counts, per alert id, the later non-urgent raises of its key counted on it.
    """

    def __init__(self) -> None:
        self.raised: list[RaisedAlert] = []
        self.resolved: list[ResolvedAlert] = []
        self.repeats: dict[str, int] = {}
        self._active: dict[str, list[RaisedAlert]] = {}

    async def raise_alert(self, *, key: str, scenario: str, severity: Severity, message: str,
                          context: Context, data: Mapping[str, object]) -> str:
        origin = data.get("origin")
        same = [a for a in self.raised if a.key == key and origin is not None and a.data.get("origin") == origin]
        if same:
            return same[0].id  # the same occurrence, raised again
        earlier = self._active.get(key, [])
        if earlier and severity != "urgent":
            self.repeats[earlier[-1].id] = self.repeats.get(earlier[-1].id, 0) + 1
            return earlier[-1].id
        alert = RaisedAlert(id=f"alert-{len(self.raised) + 1}", key=key, scenario=scenario,
                            severity=severity, message=message, context=context, data=dict(data),
                            previous_id=earlier[-1].id if earlier else None)
        self.raised.append(alert)
        self._active.setdefault(key, []).append(alert)
        return alert.id

    async def resolve_alert(self, *, key: str, reason: str, context: Context) -> bool:
        closed = self._active.pop(key, [])
        self.resolved += [ResolvedAlert(key=key, reason=reason, context=context, id=a.id) for a in closed]
        return bool(closed)

    def is_active(self, key: str) -> bool:
        return bool(self._active.get(key))

    def active(self) -> list[RaisedAlert]:
        """Alerts raised and not resolved, oldest first."""
        return [a for a in self.raised if a in self._active.get(a.key, [])]
