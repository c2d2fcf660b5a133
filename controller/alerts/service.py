"""The alert service: raise, escalate, deliver, acknowledge, resolve; all of it restart-safe.

How an alert is never lost:

1. `raise_alert` commits the alert, its "raised" audit entry and the deliveries of the first
   escalation step (status *pending*) in one transaction, and only then sends anything.
2. Each later step is one transaction too: the alert's next step and deadline (`step`,
   `next_at`) move forward together with the pending deliveries that step implies.
3. A delivery becomes *sent* (or *failed*) in the transaction that records its attempts.

After a crash, `open()` finds every active alert and continues from its persisted deadline,
and re-sends every delivery still *pending*. A pending delivery is one whose send may or may
not have happened: the process died between handing it to a channel and committing the
result (a window of one HTTP round trip). We re-send those (at least once) rather than risk
a caregiver never being paged; nothing already recorded as *sent* is ever sent again, so a
restart duplicates at most the messages that were in flight at the moment of the crash.
Home Assistant replaces a re-sent notification on the phone (same `tag`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from controller.alerts.channels.base import Channel
from controller.alerts.escalation import hold_for_quiet, step_due, step_recipients
from controller.alerts.model import (
    ACKNOWLEDGED,
    CANCELLED,
    DELIVERED,
    DELIVERING,
    KIND_ACKNOWLEDGED,
    KIND_ALERT,
    KIND_RESOLVED,
    RAISED,
    RESOLVED,
    SEVERITIES,
    AckOutcome,
    Alert,
    Notification,
    Recipient,
    Severity,
    chain_of,
)
from controller.alerts.policy import AlertsConfig, EscalationPolicy, PolicyStep
from controller.alerts.store import (
    FAILED,
    SENT,
    SKIPPED,
    AlertStore,
    Attempt,
    AuditEntry,
    Delivery,
    DuplicateKey,
    NewDelivery,
)
from controller.alerts.tokens import AckClaims, AckSigner, TokenError, load_or_create_key
from controller.bus import EventBus
from controller.clock import Clock, monotonic
from controller.engine.alert_sink import ALERT_EVENT
from controller.errors import DeliveryError
from controller.events import Context, Event
from controller.store import Database

log = logging.getLogger(__name__)

KEY_FILE_NAME = "alerts.key"

_TITLES = {
    "nl": {"urgent": "Dringend", "warning": "Let op", "info": "Bericht",
           KIND_ACKNOWLEDGED: "Iemand gaat erheen", KIND_RESOLVED: "Afgehandeld"},
    "en": {"urgent": "Urgent", "warning": "Attention", "info": "Notice",
           KIND_ACKNOWLEDGED: "Someone is on the way", KIND_RESOLVED: "Resolved"},
}


class AlertService:
    """Caregiver alerts for one home. Implements the rule engine's `AlertSink`.

    Run `run()` under the hub's TaskGroup; `raise_alert` and friends may be called before it
    starts (work queues until it does).
    """

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        bus: EventBus,
        resident: str,
        caregivers: Mapping[str, Recipient],
        config: AlertsConfig,
        channels: Mapping[str, Channel] | Iterable[Channel],
        base_url: str,
        key_file: str | Path | None = None,
        timezone: str = "Europe/Amsterdam",
    ) -> None:
        self.db = db
        self.store = AlertStore(db)
        self.clock = clock
        self.bus = bus
        self.resident = resident
        self.caregivers = dict(caregivers)
        self.config = config
        self.channels: dict[str, Channel] = (
            dict(channels) if isinstance(channels, Mapping) else {c.type: c for c in channels})
        # Links must work from a caregiver's phone: alerts.yaml's public_url wins over the
        # address the dashboard listens on (often loopback).
        self.base_url = (config.public_url or base_url).rstrip("/")
        if key_file is None:
            if db.path == ":memory:":
                raise ValueError("an in-memory database needs an explicit key_file")
            key_file = Path(db.path).parent / KEY_FILE_NAME
        self.key_file = Path(key_file)
        self.tz = ZoneInfo(timezone)
        self.signer: AckSigner | None = None
        self._alerts: dict[str, Alert] = {}
        self._by_key: dict[str, str] = {}
        self._contexts: dict[str, Context] = {}
        self._changed: dict[str, asyncio.Event] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._open_lock = asyncio.Lock()
        self._opened = False
        self._busy = 0
        self._quiet = asyncio.Event()
        self._quiet.set()

    @classmethod
    def from_hub(cls, hub: Any, db: Database, config: AlertsConfig, *, base_url: str,
                 channels: Mapping[str, Channel] | Iterable[Channel] | None = None,
                 key_file: str | Path | None = None) -> AlertService:
        """A service for `hub`'s home: its caregivers, resident, clock, bus and MQTT link."""
        cfg = hub.config
        return cls(db=db, clock=hub.clock, bus=hub.bus, resident=cfg.resident.pseudonym,
                   caregivers=config.recipients(cfg.caregivers), config=config,
                   channels=channels if channels is not None else default_channels(config, hub.link),
                   base_url=base_url, key_file=key_file, timezone=cfg.home.location.timezone)

    # -- lifecycle ----------------------------------------------------------------------------

    async def open(self) -> None:
        """Create tables, load the link key, and pick up whatever a previous run left active."""
        async with self._open_lock:
            if self._opened:
                return
            await self.store.open()
            self.signer = AckSigner(load_or_create_key(self.key_file))
            restored = await self.store.active()
            for alert in restored:
                self._remember(alert, Context(origin="alerts", description=f"alert {alert.id} restored"))
                self._enqueue(("supervise", alert.id))
            pending = await self.store.pending_deliveries()
            for d in pending:
                self._enqueue(("deliver", (d, True)))
            if restored or pending:
                log.warning("restored %d active alert(s) and %d unfinished deliveries",
                            len(restored), len(pending))
            self._opened = True

    async def run(self) -> None:
        """Escalate and deliver until cancelled."""
        await self.open()
        async with asyncio.TaskGroup() as tg:
            while True:
                kind, arg = await self._queue.get()
                # The busy count taken by _enqueue passes to the task, which gives it back.
                if kind == "supervise":
                    tg.create_task(self._supervise(arg), name=f"alert-{arg}")
                else:
                    tg.create_task(self._deliver(*arg), name=f"alert-delivery-{arg[0].id}")

    async def aclose(self) -> None:
        """Close channels that hold connections (the database belongs to whoever opened it)."""
        for ch in self.channels.values():
            closer = getattr(ch, "aclose", None)
            if closer is not None:
                await closer()

    async def settled(self) -> None:
        """Wait until nothing is in progress except waiting for the clock (tests, benchmarks).

        Work queued by `raise_alert` counts as in progress, so this needs `run()` running.
        """
        while True:
            if self._busy == 0:
                # A task woken by an event resumes within a few loop turns; look again.
                for _ in range(5):
                    await asyncio.sleep(0)
                if self._busy == 0:
                    return
            await self._quiet.wait()

    def _acquire(self) -> None:
        self._busy += 1
        self._quiet.clear()

    def _release(self) -> None:
        self._busy -= 1
        if self._busy == 0:
            self._quiet.set()

    def _enqueue(self, item: tuple[str, Any]) -> None:
        self._acquire()
        self._queue.put_nowait(item)

    def _remember(self, alert: Alert, ctx: Context) -> None:
        self._alerts[alert.id] = alert
        self._by_key[alert.key] = alert.id
        self._contexts[alert.id] = ctx
        self._changed.setdefault(alert.id, asyncio.Event())

    def _forget(self, alert: Alert) -> None:
        self._alerts.pop(alert.id, None)
        if self._by_key.get(alert.key) == alert.id:
            del self._by_key[alert.key]
        self._contexts.pop(alert.id, None)
        self._locks.pop(alert.id, None)
        ev = self._changed.pop(alert.id, None)
        if ev is not None:
            ev.set()  # its supervisor wakes, sees the alert is gone, and ends

    @asynccontextmanager
    async def _locked(self, alert_id: str) -> AsyncIterator[None]:
        # Every read-modify-write of one active alert goes through its lock, so an
        # acknowledgement and an escalation step can never overwrite each other's row. A closed
        # alert is never written again, so it needs (and keeps) no lock.
        if alert_id not in self._alerts:
            yield
            return
        lock = self._locks.setdefault(alert_id, asyncio.Lock())
        async with lock:
            yield

    # -- the rule engine's interface ----------------------------------------------------------

    async def raise_alert(self, *, key: str, scenario: str, severity: str, message: str,
                          context: Context, data: Mapping[str, Any]) -> str:
        """Store an alert and start escalating it; an active alert with `key` is returned as is."""
        await self.open()
        if severity not in SEVERITIES:
            raise ValueError(f"severity {severity!r} is not one of {', '.join(SEVERITIES)}")
        existing = self._by_key.get(key)
        if existing is not None:
            return existing
        sev: Severity = severity  # type: ignore[assignment]
        now = self.clock.now()
        policy = routed(self.config.policy_for(scenario, sev), data)
        for_technicians = data.get("audience") == "technician"
        alert = Alert(id=f"al-{uuid.uuid4().hex[:16]}", key=key, scenario=scenario, severity=sev,
                      message=message, resident=self.resident, policy=policy.name, state=RAISED,
                      cause=context.explain(), cause_chain=chain_of(context),
                      # As it will read back from the database: JSON values only (times as text).
                      data=json.loads(json.dumps(dict(data), default=str)),
                      raised_at=now, updated_at=now, step=0,
                      next_at=None if for_technicians else self._due(policy, sev, now, 0))
        audit = [self._entry(alert, "raised", user=context.origin, detail=context.explain())]
        deliveries: list[NewDelivery] = []
        if alert.next_at is not None and alert.next_at <= now:
            # The first step is due at once: record it in the same transaction (one fsync
            # fewer on the path from sensor to phone), still before anything is sent.
            alert, step_audit, deliveries = self._step(alert, policy, now)
            audit += step_audit
        elif for_technicians:
            audit.append(self._entry(alert, "held", detail="for technicians: shown on the dashboard, nobody paged"))
        else:
            audit.append(self._entry(alert, "held", detail=f"first step at {alert.next_at}"))
        self._acquire()
        try:
            try:
                created = await self.store.insert(alert, audit, deliveries)
            except DuplicateKey:
                return await self._existing_id(key)
            ctx = context.child("alerts", f"alert {alert.id}: {message}")
            self._remember(alert, ctx)
            self._publish("raised", alert)
            if deliveries:
                self._publish("escalated", alert)
            for d in created:
                self._enqueue(("deliver", (d, False)))
            self._enqueue(("supervise", alert.id))
            return alert.id
        finally:
            self._release()

    async def _existing_id(self, key: str) -> str:
        if key in self._by_key:
            return self._by_key[key]
        for alert in await self.store.active():
            if alert.key == key:
                return alert.id
        raise RuntimeError(f"alert key {key!r} was taken but no active alert has it")

    async def resolve_alert(self, *, key: str, reason: str, context: Context) -> bool:
        """Resolve the active alert with `key` and tell everyone who was paged `reason`."""
        await self.open()
        alert_id = self._by_key.get(key)
        if alert_id is None:
            return False
        done = await self._close(alert_id, state=RESOLVED, resolution="rule", by=context.origin,
                                 channel=None, note=reason, notice=lambda _r: reason)
        return done is not None

    # -- caregivers and technicians -----------------------------------------------------------

    async def send_test(self, caregiver: str, *, by: str) -> str:
        """An urgent test alert to one caregiver only (no escalation), to check their phone."""
        if caregiver not in self.caregivers:
            raise KeyError(caregiver)
        name = self.name_of(caregiver)
        return await self.raise_alert(
            key=f"test.{caregiver}", scenario="test", severity="urgent",
            message=f"Testmelding voor {name}: druk op 'Ik ga erheen' om te controleren dat alles werkt.",
            context=Context(origin=f"user:{by}", description=f"test alert for {caregiver}"),
            data={"recipients": [caregiver], "test": True,
                  "message_en": f"Test alert for {name}: press 'I'm on my way' to check that everything works."})

    async def acknowledge(self, alert_id: str, *, by: str, channel: str,
                          nonce: str | None = None) -> AckOutcome:
        """`by` is going: stop escalating now and tell the others who were paged."""
        await self.open()
        async with self._locked(alert_id):
            alert = self._alerts.get(alert_id)
            if alert is None:
                stored = await self.store.get(alert_id)
                if nonce is not None and stored is not None:
                    await self.store.use_nonce(nonce, alert_id, by, self.clock.now())
                return AckOutcome(ok=False, reason="closed" if stored else "unknown", alert=stored,
                                  by=stored.acknowledged_by or stored.resolved_by if stored else None)
            if alert.state == ACKNOWLEDGED:
                if nonce is not None:
                    await self.store.use_nonce(nonce, alert_id, by, self.clock.now())
                return AckOutcome(ok=False, reason="already", alert=alert, by=alert.acknowledged_by)
            now = self.clock.now()
            updated = replace(alert, state=ACKNOWLEDGED, acknowledged_by=by, acknowledged_via=channel,
                              acknowledged_at=now, next_at=None, updated_at=now)
            name = self.name_of(by)
            notices = [NewDelivery(alert_id=alert_id, kind=KIND_ACKNOWLEDGED, step=0, recipient=r,
                                   text=self._going_text(name, r))
                       for r in await self.store.paged(alert_id) if r != by]
            try:
                created = await self.store.save(
                    updated, audit=[self._entry(updated, "acknowledged", user=by, channel=channel)],
                    deliveries=notices, nonce=(nonce, by) if nonce else None)
            except sqlite3.IntegrityError:
                return AckOutcome(ok=False, reason="reused", alert=alert, by=alert.acknowledged_by)
            self._alerts[alert_id] = updated
        self._changed[alert_id].set()
        self._publish("acknowledged", updated, by=by, channel=channel)
        for d in created or []:
            self._enqueue(("deliver", (d, False)))
        return AckOutcome(ok=True, reason="acknowledged", alert=updated, by=by)

    async def acknowledge_link(self, token: str) -> AckOutcome:
        """Acknowledge through a signed link: forged, expired and reused links are refused."""
        await self.open()
        claims = await self.check_link(token)
        if isinstance(claims, AckOutcome):
            return claims
        if await self.store.nonce_used(claims.nonce):
            return await self._refused("reused", claims, await self.get(claims.alert_id))
        outcome = await self.acknowledge(claims.alert_id, by=claims.recipient,
                                         channel=claims.channel, nonce=claims.nonce)
        if outcome.reason == "reused":
            return await self._refused("reused", claims, outcome.alert)
        return outcome

    async def check_link(self, token: str) -> AckClaims | AckOutcome:
        """The claims of a genuine, unexpired link, or the refusal (which is audited)."""
        await self.open()
        assert self.signer is not None
        try:
            return self.signer.verify(token, now=self.clock.now())
        except TokenError as exc:
            return await self._refused(exc.reason, None, None, detail=str(exc))

    async def _refused(self, reason: str, claims: AckClaims | None, alert: Alert | None,
                       detail: str = "") -> AckOutcome:
        await self.store.record_audit([AuditEntry(
            time=self.clock.now(), alert_id=claims.alert_id if claims else None,
            event="ack_link_refused", resident=self.resident,
            user=claims.recipient if claims else None, channel=claims.channel if claims else None,
            detail=f"{reason}: {detail}" if detail else reason)])
        return AckOutcome(ok=False, reason=reason, alert=alert,
                          by=alert.acknowledged_by if alert else None)

    async def resolve(self, alert_id: str, *, by: str, note: str, channel: str = "dashboard") -> Alert | None:
        """A caregiver closes the alert with a note; those paged are told. None if not active."""
        await self.open()
        name = self.name_of(by)
        return await self._close(alert_id, state=RESOLVED, resolution="caregiver", by=by,
                                 channel=channel, note=note,
                                 notice=lambda r: self._resolved_text(name, note, r))

    async def cancel(self, alert_id: str, *, by: str, reason: str) -> Alert | None:
        """Withdraw an alert (a false alarm, a test); those paged are told. None if not active."""
        await self.open()
        return await self._close(alert_id, state=CANCELLED, resolution="cancelled", by=by,
                                 channel="dashboard", note=reason,
                                 notice=lambda r: self._cancelled_text(reason, r))

    async def _close(self, alert_id: str, *, state: str, resolution: str, by: str,
                     channel: str | None, note: str, notice: Any) -> Alert | None:
        async with self._locked(alert_id):
            alert = self._alerts.get(alert_id)
            if alert is None:
                return None
            now = self.clock.now()
            paged = await self.store.paged(alert_id)
            if not paged and state == RESOLVED and resolution == "rule":
                # Over before anyone was reached: nothing to resolve for anybody.
                state, resolution = CANCELLED, "cancelled"
            updated = replace(alert, state=state, resolution=resolution, resolved_by=by,
                              resolved_at=now, note=note, next_at=None, updated_at=now)
            notices = [NewDelivery(alert_id=alert_id, kind=KIND_RESOLVED, step=0, recipient=r,
                                   text=notice(r)) for r in paged if r != by]
            created = await self.store.save(
                updated, audit=[self._entry(updated, state, user=by, channel=channel, detail=note)],
                deliveries=notices)
            self._forget(alert)
        self._publish("resolved" if state == RESOLVED else "cancelled", updated, by=by, channel=channel)
        for d in created or []:
            self._enqueue(("deliver", (d, False)))
        return updated

    # -- escalation ---------------------------------------------------------------------------

    def _due(self, policy: EscalationPolicy, severity: str, raised_at: datetime, step: int) -> datetime | None:
        due = step_due(policy, raised_at, step)
        rule = self.config.severities[severity]
        if due is not None and rule.quiet_hours and severity != "urgent":
            due = hold_for_quiet(due, self.config.quiet_hours, self.tz)
        return due

    def _policy(self, alert: Alert) -> EscalationPolicy:
        # A policy renamed or removed since the alert was raised: fall back to today's rule.
        base = self.config.policies.get(alert.policy) or self.config.policy_for(alert.scenario, alert.severity)
        return routed(base, alert.data)

    def _step(self, alert: Alert, policy: EscalationPolicy,
              now: datetime) -> tuple[Alert, list[AuditEntry], list[NewDelivery]]:
        """The alert after running its next step, with that step's audit entries and deliveries."""
        step = alert.step
        if step >= len(policy.steps):
            # After downtime, repeats that are long overdue collapse into one (no burst).
            while (later := step_due(policy, alert.raised_at, step + 1)) is not None and later <= now:
                step += 1
        who = [r for r in step_recipients(policy, step) if r in self.caregivers]
        nxt = self._due(policy, alert.severity, alert.raised_at, step + 1)
        state = DELIVERING if alert.state == RAISED else alert.state
        updated = replace(alert, step=step + 1, next_at=nxt, state=state, updated_at=now)
        what = "repeat" if step >= len(policy.steps) else f"step {step + 1}"
        audit = []
        if alert.state == RAISED:
            audit.append(self._entry(updated, "delivering"))
        audit.append(self._entry(updated, "escalated", detail=f"{what}: {', '.join(who) or 'nobody'}"))
        deliveries = [NewDelivery(alert_id=alert.id, kind=KIND_ALERT, step=step, recipient=r) for r in who]
        return updated, audit, deliveries

    async def _supervise(self, alert_id: str) -> None:
        # Holds one busy count (from _enqueue) except while waiting for the clock.
        try:
            while True:
                alert = self._alerts.get(alert_id)
                changed = self._changed.get(alert_id)
                if alert is None or changed is None:
                    return
                changed.clear()
                wake = self._next_wake(alert)
                now = self.clock.now()
                if wake is None or wake > now:
                    await self._wait(wake, changed)
                    continue
                if alert.escalating and alert.next_at is not None and alert.next_at <= now:
                    await self._escalate(alert_id)
                else:
                    await self._close(alert_id, state=RESOLVED, resolution="auto", by="hub", channel=None,
                                      note="automatisch afgesloten",
                                      notice=lambda r: self._auto_text(r))
        finally:
            self._release()

    def _next_wake(self, alert: Alert) -> datetime | None:
        times = []
        if alert.escalating and alert.next_at is not None:
            times.append(alert.next_at)
        auto = self._policy(alert).auto_resolve_after
        if auto is not None:
            times.append(alert.raised_at + auto)
        return min(times) if times else None

    async def _wait(self, when: datetime | None, changed: asyncio.Event) -> None:
        self._release()
        try:
            waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(changed.wait())]
            if when is not None:
                waits.append(asyncio.ensure_future(self.clock.sleep_until(when)))
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waits:
                    w.cancel()
        finally:
            self._acquire()

    async def _escalate(self, alert_id: str) -> None:
        async with self._locked(alert_id):
            alert = self._alerts.get(alert_id)
            if alert is None or not alert.escalating or alert.next_at is None:
                return
            now = self.clock.now()
            updated, audit, deliveries = self._step(alert, self._policy(alert), now)
            created = await self.store.save(updated, audit=audit, deliveries=deliveries,
                                            expect_state=alert.state)
            if created is None:
                return
            self._alerts[alert_id] = updated
        self._publish("escalated", updated)
        for d in created:
            self._enqueue(("deliver", (d, False)))

    # -- delivery -----------------------------------------------------------------------------

    def _wanted(self, d: Delivery) -> bool:
        if d.kind != KIND_ALERT:
            return True
        alert = self._alerts.get(d.alert_id)
        return alert is not None and alert.escalating

    async def _deliver(self, d: Delivery, after_restart: bool) -> None:
        # Holds one busy count (from _enqueue) except while backing off on the clock.
        try:
            alert = self._alerts.get(d.alert_id) or await self.store.get(d.alert_id)
            if alert is None:
                return
            if not self._wanted(d):
                await self._finish(d, alert, SKIPPED, None, None, [], "not needed any more")
                return
            recipient = self.caregivers.get(d.recipient)
            if recipient is None:
                await self._finish(d, alert, FAILED, None, None, [], f"unknown caregiver {d.recipient}")
                return
            allowed = self.config.severities[alert.severity].channels
            targets = [t for t in recipient.channels if t.type in allowed and t.type in self.channels]
            attempts: list[Attempt] = []
            for target in targets:
                channel = self.channels[target.type]
                for attempt in range(1 + target.retries):
                    if not self._wanted(d):
                        await self._finish(d, alert, SKIPPED, None, None, [], "not needed any more")
                        return
                    note = self._notification(alert, d, recipient, target.type)
                    started, t0 = self.clock.now(), monotonic()
                    error: str | None = None
                    receipt: str | None = None
                    try:
                        async with asyncio.timeout(target.timeout.total_seconds()):
                            receipt = await channel.send(note, target)
                    except TimeoutError:
                        error = f"no answer within {target.timeout.total_seconds():g}s"
                    except DeliveryError as exc:
                        error = str(exc)
                    except Exception as exc:  # a channel bug must not stop the others
                        log.exception("channel %s failed on alert %s", target.type, d.alert_id)
                        error = f"channel error: {exc!r}"
                    result = Attempt(delivery_id=d.id, alert_id=d.alert_id, recipient=d.recipient,
                                     channel=target.type, attempt=attempt + 1, started_at=started,
                                     finished_at=started + timedelta(seconds=monotonic() - t0),
                                     ok=error is None, error=error, receipt=receipt)
                    if error is None:
                        detail = "re-sent after restart" if after_restart else ""
                        await self._finish(d, alert, SENT, target.type, receipt, [result], detail)
                        return
                    log.warning("alert %s to %s via %s failed (attempt %d): %s", d.alert_id,
                                d.recipient, target.type, attempt + 1, error)
                    attempts.append(result)
                    await self.store.finish_attempts([result])
                    if attempt < target.retries:
                        self._release()
                        try:
                            await self.clock.sleep(target.backoff.total_seconds() * 2 ** attempt)
                        finally:
                            self._acquire()
            await self._finish(d, alert, FAILED, None, None, [],
                               "no channel left" if targets else "no channel configured for this severity")
        finally:
            self._release()

    async def _finish(self, d: Delivery, alert: Alert, status: str, channel: str | None,
                      receipt: str | None, attempts: list[Attempt], detail: str) -> None:
        now = self.clock.now()
        event = {SENT: "delivered" if d.kind == KIND_ALERT else "notified",
                 FAILED: "delivery_failed", SKIPPED: "delivery_skipped"}[status]
        if d.kind != KIND_ALERT:
            detail = f"{d.kind}: {detail}" if detail else d.kind
        async with self._locked(d.alert_id):
            current = self._alerts.get(d.alert_id, alert)
            updated = None
            if status == SENT and d.kind == KIND_ALERT and current.state in (RAISED, DELIVERING):
                updated = replace(current, state=DELIVERED, updated_at=now)
            entry = self._entry(updated or current, event, user=d.recipient, channel=channel, detail=detail)
            await self.store.finish_delivery(d, status=status, channel=channel, receipt=receipt,
                                             attempts=attempts, now=now, alert=updated, audit=[entry])
            if updated is not None and d.alert_id in self._alerts:
                self._alerts[d.alert_id] = updated
        if status == SENT and d.kind == KIND_ALERT:
            self._publish("delivered", updated or current, by=d.recipient, channel=channel)
        elif status == FAILED:
            log.error("alert %s could not reach %s on any channel", d.alert_id, d.recipient)

    def _notification(self, alert: Alert, d: Delivery, who: Recipient, channel: str) -> Notification:
        assert self.signer is not None
        token = self.signer.issue(alert_id=alert.id, recipient=who.id, channel=channel,
                                  now=self.clock.now(), ttl=self.config.ack_link_ttl)
        lang = who.language if who.language in _TITLES else "nl"
        url = f"{self.base_url}/alerts/ack/{token}"
        if d.kind == KIND_ALERT:
            title = f"{_TITLES[lang][alert.severity]}: {alert.resident}"
            message = str(alert.data.get("message_en") or alert.message) if lang == "en" else alert.message
            return Notification(alert_id=alert.id, kind=d.kind, severity=alert.severity, title=title,
                                message=message, recipient=who, view_url=url + ("?lang=en" if lang == "en" else ""),
                                ack_url=url, tag=f"huis-{alert.id}",
                                ack_label="I'm on my way" if lang == "en" else "Ik ga erheen",
                                view_label="View" if lang == "en" else "Bekijk")
        title = f"{_TITLES[lang][d.kind]}: {alert.resident}"
        return Notification(alert_id=alert.id, kind=d.kind, severity=alert.severity, title=title,
                            message=d.text, recipient=who, view_url=url, ack_url=None,
                            tag=f"huis-{alert.id}")

    # -- texts people read --------------------------------------------------------------------

    def name_of(self, who: str | None) -> str:
        """A caregiver's display name (their id for anyone else)."""
        if who is None:
            return ""
        r = self.caregivers.get(who)
        return r.name if r else who

    def _lang(self, recipient: str) -> str:
        r = self.caregivers.get(recipient)
        return r.language if r else "nl"

    def _going_text(self, name: str, recipient: str) -> str:
        if self._lang(recipient) == "en":
            return f"{name} is on the way to {self.resident}."
        return f"{name} gaat erheen."

    def _resolved_text(self, name: str, note: str, recipient: str) -> str:
        if self._lang(recipient) == "en":
            return f"Resolved by {name}: {note}"
        return f"Afgehandeld door {name}: {note}"

    def _cancelled_text(self, reason: str, recipient: str) -> str:
        if self._lang(recipient) == "en":
            return f"Alert withdrawn: {reason}"
        return f"Melding ingetrokken: {reason}"

    def _auto_text(self, recipient: str) -> str:
        if self._lang(recipient) == "en":
            return "Closed automatically: nothing more is needed."
        return "Automatisch afgesloten: er is niets meer nodig."

    # -- events and audit ---------------------------------------------------------------------

    def _entry(self, alert: Alert, event: str, *, user: str | None = None, channel: str | None = None,
               detail: str = "") -> AuditEntry:
        return AuditEntry(time=alert.updated_at if event != "raised" else alert.raised_at,
                          alert_id=alert.id, event=event, resident=alert.resident, user=user,
                          channel=channel, detail=detail)

    def _publish(self, action: str, alert: Alert, *, by: str | None = None, channel: str | None = None) -> None:
        parent = self._contexts.get(alert.id) or Context(origin="alerts", description=f"alert {alert.id}")
        ctx = parent.child(f"caregiver:{by}" if by and by in self.caregivers else "alerts",
                           f"{action} {alert.id}")
        self.bus.publish(Event(type=ALERT_EVENT, time=self.clock.now(), context=ctx, data={
            "action": action, "id": alert.id, "key": alert.key, "scenario": alert.scenario,
            "severity": alert.severity, "by": by, "channel": channel, "state": alert.state,
            "message": alert.message,
        }))

    # -- reading ------------------------------------------------------------------------------

    def active(self) -> list[Alert]:
        """Alerts not yet resolved or cancelled, oldest first (from memory, no I/O)."""
        return sorted(self._alerts.values(), key=lambda a: (a.raised_at, a.id))

    async def get(self, alert_id: str) -> Alert | None:
        await self.open()
        return self._alerts.get(alert_id) or await self.store.get(alert_id)

    async def recent(self, limit: int = 50) -> list[Alert]:
        await self.open()
        return await self.store.recent(limit)

    async def timeline(self, alert_id: str) -> list[dict[str, Any]]:
        """Transitions and delivery attempts of one alert, in time order."""
        await self.open()
        items: list[dict[str, Any]] = []
        for row in reversed(await self.store.audit(alert_id=alert_id, limit=10_000)):
            items.append({"time": row["time"], "type": "transition", "event": row["event"],
                          "user": row["user"], "channel": row["channel"], "detail": row["detail"],
                          "seq": row["seq"]})
        for a in await self.store.attempts(alert_id):
            items.append({"time": a["started_at"], "type": "attempt", "event": "attempt",
                          "user": a["recipient"], "channel": a["channel"], "kind": a["kind"],
                          "step": a["step"], "attempt": a["attempt"], "ok": bool(a["ok"]),
                          "error": a["error"], "receipt": a["receipt"], "finished": a["finished_at"]})
        # Stable sort: within one instant, transitions keep their audit order.
        items.sort(key=lambda i: i["time"])
        return items

    async def audit(self, *, alert_id: str | None = None, limit: int = 200,
                    before: int | None = None) -> list[dict[str, Any]]:
        """The audit log, newest first."""
        await self.open()
        return await self.store.audit(alert_id=alert_id, limit=limit, before=before)

    async def record_view(self, alert_id: str | None, *, user: str | None, channel: str, detail: str = "") -> None:
        """Audit that someone looked at an alert (who saw which resident's data, when)."""
        await self.open()
        await self.store.record_audit([AuditEntry(time=self.clock.now(), alert_id=alert_id, event="viewed",
                                                  resident=self.resident, user=user, channel=channel,
                                                  detail=detail)])


def routed(policy: EscalationPolicy, data: Mapping[str, Any]) -> EscalationPolicy:
    """The policy for one alert: a scenario's explicit `recipients` replace the first step.

    Later steps still apply, so an alert sent to one person still reaches the care team if
    nobody acknowledges it.
    """
    to = tuple(r for r in data.get("recipients") or () if isinstance(r, str))
    if not to:
        return policy
    if data.get("test"):
        # A test reaches only the people asked for, once; it closes itself after an hour.
        return replace(policy, steps=(PolicyStep(after=timedelta(0), notify=to),), repeat_every=None,
                       auto_resolve_after=timedelta(hours=1))
    return replace(policy, steps=(PolicyStep(after=timedelta(0), notify=to), *policy.steps[1:]))


def default_channels(config: AlertsConfig, link: Any) -> list[Channel]:
    """The standard channels, configured from `channels:` in config/alerts.yaml."""
    from controller.alerts.channels.apprise_channel import AppriseChannel
    from controller.alerts.channels.homeassistant import HomeAssistantChannel
    from controller.alerts.channels.mqtt import MqttChannel
    from controller.alerts.channels.ntfy import NtfyChannel
    from controller.alerts.channels.page import PageChannel

    s = config.channel_settings
    ntfy = s.get("ntfy", {})
    ha = s.get("homeassistant", {})
    out: list[Channel] = [
        NtfyChannel(server=str(ntfy.get("server", "https://ntfy.sh")), token_env=ntfy.get("token_env")),
        AppriseChannel(),
        MqttChannel(link, topic=str(s.get("mqtt", {}).get("topic", "huis/alerts"))),
        PageChannel(),
    ]
    if ha.get("url"):
        out.append(HomeAssistantChannel(url=str(ha["url"]), token_env=ha.get("token_env")))
    return out
