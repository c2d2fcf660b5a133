"""The seam between the rule engine and the alert subsystem.

The engine raises and resolves alerts through an `AlertSink` and asks it which are active (the
sink is the one record: a copy in the engine went stale when an alert was cancelled). The alert
subsystem publishes every change of an alert back on the hub bus as an event of type
`ALERT_CHANGED` whose data is an `AlertChanged` (both in controller/events.py).
`MemoryAlertSink` keeps alerts in memory: for tests, replays and dry runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from controller.events import ALERT_CHANGED, Context

# The engine's name for the alert event type; the one definition is in controller/events.py.
ALERT_EVENT = ALERT_CHANGED


class AlertSink(Protocol):
    """What the rule engine raises, resolves and looks up alerts through."""

    async def raise_alert(self, *, key: str, scenario: str, severity: str, message: str,
                          context: Context, data: Mapping[str, object]) -> str:
        """Store and start delivering an alert; an active alert with `key` is returned as is."""
        ...

    async def resolve_alert(self, *, key: str, reason: str, context: Context) -> bool:
        """Resolve the active alert with `key`; False when there was none."""
        ...

    def is_active(self, key: str) -> bool:
        """Whether an alert with `key` is active now (from memory: conditions ask on the hot path)."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class RaisedAlert:
    """One `raise_alert` call as a MemoryAlertSink saw it."""

    id: str
    key: str
    scenario: str
    severity: str
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

    async def raise_alert(self, *, key: str, scenario: str, severity: str, message: str,
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
