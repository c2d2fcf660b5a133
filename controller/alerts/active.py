"""The active alerts in memory: the service's answer to "is this alert on?" without any I/O.

The database is the truth after a restart; while running, every change is written there first
and then mirrored here. Each active alert also has a lock (so an acknowledgement and an
escalation step never overwrite each other's row) and a change signal (so its supervisor
wakes when someone else changed it). Several alerts may share a key (a new urgent occurrence
while an earlier one is still active, docs/alerts.md "Occurrences"); a per-key lock keeps two
raises of one key from deciding at the same time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from controller.alerts.model import Alert
from controller.events import Context


class ActiveAlerts:
    """Alerts not yet resolved or cancelled, by id and by key, with their causes."""

    def __init__(self) -> None:
        self._alerts: dict[str, Alert] = {}
        self._by_key: dict[str, list[str]] = {}  # oldest first
        self._contexts: dict[str, Context] = {}
        self._changed: dict[str, asyncio.Event] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._key_locks: dict[str, asyncio.Lock] = {}

    def __contains__(self, alert_id: object) -> bool:
        return alert_id in self._alerts

    def get(self, alert_id: str) -> Alert | None:
        """The active alert `alert_id`, or None."""
        return self._alerts.get(alert_id)

    def id_of(self, key: str) -> str | None:
        """The id of the latest active alert with `key`, or None."""
        ids = self._by_key.get(key)
        return ids[-1] if ids else None

    def of_key(self, key: str) -> list[Alert]:
        """The active alerts with `key`, oldest first."""
        return [self._alerts[i] for i in self._by_key.get(key, ())]

    def keys(self) -> list[str]:
        """Keys of the active alerts."""
        return list(self._by_key)

    def context(self, alert_id: str) -> Context | None:
        """What caused the alert, as the events about it will name it."""
        return self._contexts.get(alert_id)

    def changed(self, alert_id: str) -> asyncio.Event | None:
        """Set whenever the alert changes or closes; its supervisor waits on it."""
        return self._changed.get(alert_id)

    def oldest_first(self) -> list[Alert]:
        """Every active alert, oldest first."""
        # Stable: alerts raised in the same instant keep the order they were raised in.
        return sorted(self._alerts.values(), key=lambda a: a.raised_at)

    def add(self, alert: Alert, ctx: Context) -> None:
        """A new (or restored) active alert."""
        self._alerts[alert.id] = alert
        ids = self._by_key.setdefault(alert.key, [])
        if alert.id not in ids:
            ids.append(alert.id)
        self._contexts[alert.id] = ctx
        self._changed.setdefault(alert.id, asyncio.Event())

    def update(self, alert: Alert) -> None:
        """The alert's new row, if it is still active here."""
        if alert.id in self._alerts:
            self._alerts[alert.id] = alert

    def notify(self, alert_id: str) -> None:
        """Wake the alert's supervisor."""
        ev = self._changed.get(alert_id)
        if ev is not None:
            ev.set()

    def remove(self, alert: Alert) -> None:
        """The alert is over."""
        self._alerts.pop(alert.id, None)
        ids = self._by_key.get(alert.key, [])
        if alert.id in ids:
            ids.remove(alert.id)
        if not ids:
            self._by_key.pop(alert.key, None)
        self._contexts.pop(alert.id, None)
        self._locks.pop(alert.id, None)
        ev = self._changed.pop(alert.id, None)
        if ev is not None:
            ev.set()  # its supervisor wakes, sees the alert is gone, and ends

    @asynccontextmanager
    async def key_locked(self, key: str) -> AsyncIterator[None]:
        """Hold `key`'s lock while deciding what a raise of it does and storing that."""
        # Kept for good: a home has a few dozen keys, and dropping a lock someone waits for
        # would let two raises in at once.
        async with self._key_locks.setdefault(key, asyncio.Lock()):
            yield

    @asynccontextmanager
    async def locked(self, alert_id: str) -> AsyncIterator[None]:
        """Hold the alert's lock for one read-modify-write."""
        # A closed alert is never written again, so it needs (and keeps) no lock.
        if alert_id not in self._alerts:
            yield
            return
        lock = self._locks.setdefault(alert_id, asyncio.Lock())
        async with lock:
            yield
