"""Raising an alert: a new one (maybe linked to an earlier one of its key), or a repeat of one.

The rules are `occurrences.decide` (docs/alerts.md, "Occurrences"); this applies them under the
key's lock, so two raises of one key never both decide "new", and stores the outcome in one
transaction before anything is sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from controller.alerts import lifecycle, occurrences, texts
from controller.alerts.active import ActiveAlerts
from controller.alerts.delivery import Publish
from controller.alerts.escalation import policy_of, routed
from controller.alerts.model import Alert, Recipient
from controller.alerts.policy import AlertsConfig, EscalationPolicy
from controller.alerts.store import AlertStore, Delivery, DuplicateKey
from controller.alerts.work import Work
from controller.clock import Clock
from controller.events import AlertAction, Context, Severity

# When step n of an alert falls due, for a policy, severity and raise time.
DeadlineFor = Callable[[EscalationPolicy, str, datetime], lifecycle.Deadline]


class Raiser:
    """Decides and stores what each raise does; the service supervises what it started."""

    def __init__(self, *, active: ActiveAlerts, store: AlertStore, clock: Clock, work: Work,
                 config: AlertsConfig, resident: str, caregivers: Mapping[str, Recipient],
                 publish: Publish, deadline: DeadlineFor,
                 started: Callable[[Alert, list[Delivery]], None],
                 enqueue: Callable[[Iterable[Delivery] | None], None],
                 lang: Callable[[str], texts.Lang]) -> None:
        self.active = active
        self.store = store
        self.clock = clock
        self.work = work
        self.config = config
        self.resident = resident
        self.caregivers = caregivers
        self.publish = publish
        self.deadline = deadline
        self.started = started
        self.enqueue = enqueue
        self.lang = lang

    async def raise_alert(self, *, key: str, scenario: str, severity: Severity, message: str,
                          context: Context, data: Mapping[str, Any]) -> str:
        """A new alert, or a repeat counted on (or re-notified about) an active one; its id."""
        origin = data.get("origin")
        self.work.acquire()
        try:
            async with self.active.key_locked(key):
                if isinstance(origin, str) and (known := await self.raised_by(key, origin)):
                    return known
                earlier = self.active.of_key(key)
                policy = (policy_of(self.config, earlier[-1]) if earlier
                          else self.config.policy_for(scenario, severity))
                decision = occurrences.decide(severity, earlier, policy, self.clock.now())
                if decision.repeat_of is not None and await self.repeat(decision.repeat_of.id):
                    return decision.repeat_of.id
                return await self._insert(key=key, scenario=scenario, severity=severity, message=message,
                                          context=context, data=data, previous=decision.previous)
        finally:
            self.work.release()

    async def raised_by(self, key: str, origin: str) -> str | None:
        """The alert a raise with this `origin` made for `key` before, if any."""
        for alert in self.active.of_key(key):
            if alert.origin == origin:
                return alert.id
        stored = await self.store.by_origin(key, origin)
        return stored.id if stored else None

    async def _insert(self, *, key: str, scenario: str, severity: Severity, message: str,
                      context: Context, data: Mapping[str, Any], previous: Alert | None) -> str:
        policy = routed(self.config.policy_for(scenario, severity), data)
        now = self.clock.now()
        raised = lifecycle.raised(alert_id=f"al-{uuid.uuid4().hex[:16]}", key=key, scenario=scenario,
                                  severity=severity, message=message, resident=self.resident,
                                  context=context, data=data, policy=policy, now=now,
                                  caregivers=self.caregivers, previous=previous,
                                  deadline=self.deadline(policy, severity, now))
        alert = raised.alert
        try:
            created = await self.store.insert(alert, raised.audit, raised.deliveries)
        except DuplicateKey:  # the same origin, stored meanwhile by another process
            return await self.raised_by(key, str(alert.origin)) or alert.id
        self.active.add(alert, context.child("alerts", f"alert {alert.id}: {message}"))
        self.publish(AlertAction.RAISED, alert)
        if raised.deliveries:
            self.publish(AlertAction.ESCALATED, alert)
        self.started(alert, created)
        return alert.id

    async def repeat(self, alert_id: str) -> bool:
        """Count one more raise on an active alert, re-notifying if due; False if it closed meanwhile."""
        async with self.active.locked(alert_id):
            alert = self.active.get(alert_id)
            if alert is None:
                return False
            now = self.clock.now()
            renotify = occurrences.renotify_due(alert, policy_of(self.config, alert), now)
            paged = await self.store.paged(alert_id) if renotify else []
            change = occurrences.repeated(
                alert, now=now, renotify=renotify, paged=paged,
                text={r: texts.repeated(self.lang(r), alert, alert.repeats + 2) for r in paged})
            created = await self.store.save(change.alert, audit=change.audit, deliveries=change.deliveries)
            self.active.update(change.alert)
        self.active.notify(alert_id)  # its expiry moved
        self.publish(AlertAction.REPEATED, change.alert)
        self.enqueue(created)
        return True
