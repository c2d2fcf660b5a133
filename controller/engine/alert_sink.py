"""The seam between the rule engine and the alert subsystem.

The engine raises and resolves alerts through an `AlertSink` and asks it which are active (the
sink is the one record: a copy in the engine went stale when an alert was cancelled). The alert
subsystem publishes every change of an alert back on the hub bus as an event of type
`ALERT_CHANGED` whose data is an `AlertChanged` (both in controller/events.py).
`MemoryAlertSink` (controller/testing.py) keeps alerts in memory: for tests and dry runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from controller.events import Context, Severity


class AlertSink(Protocol):
    """What the rule engine raises, resolves and looks up alerts through."""

    async def raise_alert(self, *, key: str, scenario: str, severity: Severity, message: str,
                          context: Context, data: Mapping[str, object]) -> str:
        """Store and start delivering an alert; an active alert with `key` is returned as is."""
        ...

    async def resolve_alert(self, *, key: str, reason: str, context: Context) -> bool:
        """Resolve the active alert with `key`; False when there was none."""
        ...

    def is_active(self, key: str) -> bool:
        """Whether an alert with `key` is active now (from memory: conditions ask on the hot path)."""
        ...
