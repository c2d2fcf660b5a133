"""Stand-ins that record instead of acting: for tests, and for dry runs such as `huis replay`.

Nothing here pages anyone or sends anything. `RecordingAlertSink` tells the bus about alerts as
the alert service would, so scenarios that follow alerts behave as in the home;
`MemoryAlertSink` only keeps lists; `MemoryLink` keeps what the hub would have published.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from controller.engine import ALERT_EVENT, MemoryAlertSink
from controller.events import Context, Event
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
    severity: str
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

    async def raise_alert(self, *, key: str, scenario: str, severity: str, message: str,
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
        self._hub.bus.publish(Event(type=ALERT_EVENT, time=record.time, context=ctx,
                                    data={"action": action, "key": record.key,
                                          "scenario": record.scenario,
                                          "severity": record.severity, "by": by}))

    def active(self) -> list[AlertRecord]:
        """Alerts raised and not resolved, oldest first."""
        return list(self._active.values())

    def raised(self) -> list[AlertRecord]:
        """Every raise, in order."""
        return [r for r in self.records if r.action == "raised"]

    def resolved(self) -> list[AlertRecord]:
        """Every resolve that found an active alert, in order."""
        return [r for r in self.records if r.action == "resolved"]
