"""The seam between the rule engine and the alert subsystem.

The engine raises and resolves alerts through an `AlertSink` and asks it which are active (the
sink is the one record: a copy in the engine went stale when an alert was cancelled). The alert
subsystem publishes every change of an alert back on the hub bus as an event of type
`ALERT_CHANGED` whose data is an `AlertChanged` (both in controller/events.py).
`MemoryAlertSink` (controller/testing.py) keeps alerts in memory: for tests and dry runs.

Several alerts may share a key (docs/alerts.md, "Occurrences"): an urgent raise while one is
active is a new alert linked to it; another raise is counted on the active one (or re-notifies
those it paged). A raise whose `data["origin"]` (the engine sets the run and action) was seen
before for the key returns that alert: one occurrence, one alert, also across restarts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from controller.events import Context, Severity


class AlertSink(Protocol):
    """What the rule engine raises, resolves and looks up alerts through."""

    async def raise_alert(self, *, key: str, scenario: str, severity: Severity, message: str,
                          context: Context, data: Mapping[str, object]) -> str:
        """Store and page an alert, or count a repeat of an active `key`; the alert's id.

        Urgent: always a new alert (linked to the latest active one of `key`). Otherwise, with
        an alert of `key` active: that alert's id, the raise counted on it.
        """
        ...

    async def resolve_alert(self, *, key: str, reason: str, context: Context) -> bool:
        """Resolve every active alert with `key`; False when there was none."""
        ...

    def is_active(self, key: str) -> bool:
        """Whether any alert with `key` is active now (from memory: conditions ask on the hot path)."""
        ...
