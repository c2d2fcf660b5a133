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

This module is the facade and the concurrency: what changes an alert is in `lifecycle`
(pure), what a raise of an active key does in `occurrences` (pure) and `raising`, when steps
fall due in `escalation`, how a message reaches a phone in `delivery`, what people read in
`texts`.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from controller.alerts import lifecycle, texts, topics
from controller.alerts.active import ActiveAlerts
from controller.alerts.channels.base import Channel
from controller.alerts.delivery import Courier, reached
from controller.alerts.escalation import due, policy_of
from controller.alerts.lifecycle import Transition
from controller.alerts.links import AckLinks
from controller.alerts.model import (
    ACKNOWLEDGED,
    CANCELLED,
    KIND_ACKNOWLEDGED,
    KIND_EXPIRED,
    KIND_RESOLVED,
    RESOLVED,
    SEVERITIES,
    AckOutcome,
    Alert,
    Recipient,
)
from controller.alerts.policy import AlertsConfig, EscalationPolicy
from controller.alerts.raising import Raiser
from controller.alerts.store import (
    AlertStore,
    AuditEntry,
    AuditRow,
    Delivery,
    NewDelivery,
    TimelineItem,
)
from controller.alerts.tokens import AckClaims
from controller.alerts.work import Work
from controller.bus import EventBus
from controller.clock import Clock
from controller.events import ALERT_CHANGED, AlertAction, AlertChanged, Context, Severity
from controller.store import Database

if TYPE_CHECKING:
    from controller.hub import Hub

log = logging.getLogger(__name__)

KEY_FILE_NAME = "alerts.key"


@dataclass(frozen=True, slots=True)
class _Supervise:
    alert_id: str


@dataclass(frozen=True, slots=True)
class _Deliver:
    delivery: Delivery
    after_restart: bool = False


def _attach_channels(svc: AlertService) -> None:
    # Channels that acknowledge by themselves (an alarm centre over SCAIP) get the service's hooks.
    for ch in svc.channels.values():
        if hasattr(ch, "attach"):
            ch.attach(clock=svc.clock, acknowledge=svc.acknowledge, alert=svc.get)


def _start_channel_loops(svc: AlertService, tg: asyncio.TaskGroup) -> None:
    # Channels with a loop of their own (SCAIP heartbeats) run under the service's TaskGroup.
    for ch in svc.channels.values():
        if hasattr(ch, "run"):
            tg.create_task(ch.run(), name=f"alert-channel-{ch.type}")


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
        wall: Clock | None = None,
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
        # Link expiry is a security window: on `wall` (real time in a running hub, see
        # huis/compose.py), not on a clock a demo may move. Default: the service's clock.
        self.links = AckLinks(key_file=self.key_file, store=self.store, clock=wall or clock,
                              resident=resident, base_url=self.base_url, ttl=config.ack_link_ttl)
        _attach_channels(self)
        self._active = ActiveAlerts()
        self._queue: asyncio.Queue[_Supervise | _Deliver] = asyncio.Queue()
        self._open_lock = asyncio.Lock()
        self._opened = False
        self._work = Work()
        self._raiser = Raiser(active=self._active, store=self.store, clock=clock, work=self._work,
                              config=config, resident=resident, caregivers=self.caregivers,
                              publish=self._publish, deadline=self._deadline, started=self._started,
                              enqueue=self._enqueue_all, lang=self._lang)
        self._courier = Courier(active=self._active, store=self.store, clock=clock, work=self._work,
                                channels=self.channels, caregivers=self.caregivers, config=config,
                                link=self.links.issue, publish=self._publish)

    @classmethod
    def from_hub(cls, hub: Hub, db: Database, config: AlertsConfig, *, base_url: str,
                 channels: Mapping[str, Channel] | Iterable[Channel] | None = None,
                 key_file: str | Path | None = None, wall: Clock | None = None) -> AlertService:
        """A service for `hub`'s home: its caregivers, resident, clock, bus and MQTT link."""
        if channels is None:
            # Imported here: the standard channels pull in HTTP and Home Assistant clients that
            # a service given its own channels (tests, benchmarks) never needs.
            from controller.alerts.channels.standard import default_channels

            channels = default_channels(config, hub.link)
        cfg = hub.config
        return cls(db=db, clock=hub.clock, bus=hub.bus, resident=cfg.resident.pseudonym,
                   caregivers=config.recipients(cfg.caregivers), config=config, channels=channels,
                   base_url=base_url, key_file=key_file, timezone=cfg.home.location.timezone, wall=wall)

    # -- running ------------------------------------------------------------------------------

    async def open(self) -> None:
        """Create tables, load the link key, and pick up whatever a previous run left active."""
        async with self._open_lock:
            if self._opened:
                return
            await self.store.open()
            self.links.open()
            # Generated ntfy topics live next to the link key, in the hub's data folder.
            topics.fill_in(self.caregivers, self.key_file.parent, self.config)
            restored = await self.store.active()
            for alert in restored:
                self._active.add(alert, Context(origin="alerts", description=f"alert {alert.id} restored"))
                self._enqueue(_Supervise(alert.id))
            pending = await self.store.pending_deliveries()
            for d in pending:
                self._enqueue(_Deliver(d, after_restart=True))
            if restored or pending:
                log.warning("restored %d active alert(s) and %d unfinished deliveries",
                            len(restored), len(pending))
            self._opened = True

    async def run(self) -> None:
        """Escalate and deliver until cancelled."""
        await self.open()
        async with asyncio.TaskGroup() as tg:
            _start_channel_loops(self, tg)
            while True:
                job = await self._queue.get()
                # The work count taken by _enqueue passes to the task, which gives it back.
                if isinstance(job, _Supervise):
                    tg.create_task(self._supervise(job.alert_id), name=f"alert-{job.alert_id}")
                else:
                    tg.create_task(self._courier.deliver(job.delivery, job.after_restart),
                                   name=f"alert-delivery-{job.delivery.id}")

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
        await self._work.settled()

    def _enqueue(self, job: _Supervise | _Deliver) -> None:
        self._work.acquire()
        self._queue.put_nowait(job)

    def _enqueue_all(self, deliveries: Iterable[Delivery] | None) -> None:
        for d in deliveries or ():
            self._enqueue(_Deliver(d))

    # -- the rule engine's interface ----------------------------------------------------------

    def is_active(self, key: str) -> bool:
        """Whether any alert with `key` is active (from memory, no I/O)."""
        return self._active.id_of(key) is not None

    async def active_keys(self) -> list[str]:
        """Keys of the active alerts; the engine reads them at start-up."""
        await self.open()
        return self._active.keys()

    async def raise_alert(self, *, key: str, scenario: str, severity: Severity, message: str,
                          context: Context, data: Mapping[str, Any]) -> str:
        """Store an alert and page, or count a repeat of an active key; returns the alert's id.

        docs/alerts.md, "Occurrences": an urgent raise always pages (a new alert, linked to an
        active one of its key); other raises of an active key are counted on it or re-notify
        those it paged. A raise with the `origin` of an earlier one (a rule run's action run
        again after a restart) returns that alert: one occurrence, one page.
        """
        await self.open()
        if severity not in SEVERITIES:
            raise ValueError(f"severity {severity!r} is not one of {', '.join(SEVERITIES)}")
        return await self._raiser.raise_alert(key=key, scenario=scenario, severity=severity,
                                              message=message, context=context, data=data)

    def _started(self, alert: Alert, deliveries: list[Delivery]) -> None:
        self._enqueue_all(deliveries)
        self._enqueue(_Supervise(alert.id))

    async def resolve_alert(self, *, key: str, reason: str, context: Context) -> bool:
        """Resolve every active alert with `key` and tell everyone they paged `reason`."""
        await self.open()
        done = [await self._close(alert.id, state=RESOLVED, resolution="rule", by=context.origin,
                                  channel=None, note=reason, notice=lambda _r: reason)
                for alert in self._active.of_key(key)]
        return any(d is not None for d in done)

    # -- caregivers and technicians -----------------------------------------------------------

    async def send_test(self, caregiver: str, *, by: str) -> str:
        """An urgent test alert to one caregiver only (no escalation), to check their phone."""
        if caregiver not in self.caregivers:
            raise KeyError(caregiver)
        message = texts.phone_check_messages(self.name_of(caregiver))
        return await self.raise_alert(
            key=f"test.{caregiver}", scenario="test", severity="urgent", message=message["nl"],
            context=Context(origin=f"user:{by}", description=f"test alert for {caregiver}"),
            data={"recipients": [caregiver], "test": True, "message_en": message["en"]})

    async def acknowledge(self, alert_id: str, *, by: str, channel: str,
                          nonce: str | None = None) -> AckOutcome:
        """`by` is going: stop escalating now and tell the others who were paged."""
        await self.open()
        async with self._active.locked(alert_id):
            alert = self._active.get(alert_id)
            if alert is None or alert.state == ACKNOWLEDGED:
                return await self._not_acknowledged(alert_id, alert, by=by, nonce=nonce)
            change = lifecycle.acknowledged(alert, by=by, channel=channel, now=self.clock.now())
            name = self.name_of(by)
            notices = [NewDelivery(alert_id=alert_id, kind=KIND_ACKNOWLEDGED, step=0, recipient=r,
                                   text=texts.going(self._lang(r), name, self.resident))
                       for r in await self.store.paged(alert_id) if r != by]
            try:
                created = await self.store.save(change.alert, audit=change.audit, deliveries=notices,
                                                nonce=(nonce, by) if nonce else None)
            except sqlite3.IntegrityError:
                return AckOutcome(ok=False, reason="reused", alert=alert, by=alert.acknowledged_by)
            self._active.update(change.alert)
        self._active.notify(alert_id)
        self._publish(AlertAction.ACKNOWLEDGED, change.alert, by=by, channel=channel)
        self._enqueue_all(created)
        return AckOutcome(ok=True, reason="acknowledged", alert=change.alert, by=by)

    async def _not_acknowledged(self, alert_id: str, alert: Alert | None, *, by: str,
                                nonce: str | None) -> AckOutcome:
        # Already acknowledged, or no longer active: the link is used up all the same.
        if alert is not None:
            if nonce is not None:
                await self.store.use_nonce(nonce, alert_id, by, self.clock.now())
            return AckOutcome(ok=False, reason="already", alert=alert, by=alert.acknowledged_by)
        stored = await self.store.get(alert_id)
        if nonce is not None and stored is not None:
            await self.store.use_nonce(nonce, alert_id, by, self.clock.now())
        return AckOutcome(ok=False, reason="closed" if stored else "unknown", alert=stored,
                          by=stored.acknowledged_by or stored.resolved_by if stored else None)

    async def acknowledge_link(self, token: str, *, address: str | None = None) -> AckOutcome:
        """Acknowledge through a signed link: forged, expired and reused links are refused
        (and audited, counted per sending `address`)."""
        await self.open()
        claims = await self.check_link(token, address=address)
        if isinstance(claims, AckOutcome):
            return claims
        if await self.store.nonce_used(claims.nonce):
            return await self.links.refused("reused", claims, await self.get(claims.alert_id))
        outcome = await self.acknowledge(claims.alert_id, by=claims.recipient,
                                         channel=claims.channel, nonce=claims.nonce)
        if outcome.reason == "reused":
            return await self.links.refused("reused", claims, outcome.alert)
        return outcome

    async def check_link(self, token: str, *, address: str | None = None) -> AckClaims | AckOutcome:
        """The claims of a genuine, unexpired link, or the refusal (which is audited)."""
        await self.open()
        return await self.links.check(token, address=address)

    async def resolve(self, alert_id: str, *, by: str, note: str, channel: str = "dashboard") -> Alert | None:
        """A caregiver closes the alert with a note; those paged are told. None if not active."""
        await self.open()
        name = self.name_of(by)
        return await self._close(alert_id, state=RESOLVED, resolution="caregiver", by=by,
                                 channel=channel, note=note,
                                 notice=lambda r: texts.resolved(self._lang(r), name, note))

    async def cancel(self, alert_id: str, *, by: str, reason: str) -> Alert | None:
        """Withdraw an alert (a false alarm, a test); those paged are told. None if not active."""
        await self.open()
        return await self._close(alert_id, state=CANCELLED, resolution="cancelled", by=by,
                                 channel="dashboard", note=reason,
                                 notice=lambda r: texts.cancelled(self._lang(r), reason))

    async def _close(self, alert_id: str, *, state: str, resolution: str, by: str,
                     channel: str | None, note: str, notice: Callable[[str], str],
                     kind: str = KIND_RESOLVED) -> Alert | None:
        async with self._active.locked(alert_id):
            alert = self._active.get(alert_id)
            if alert is None:
                return None
            paged = await self.store.paged(alert_id)
            change = lifecycle.closed(alert, state=state, resolution=resolution, by=by, channel=channel,
                                      note=note, now=self.clock.now(), anyone_paged=bool(paged))
            notices = [NewDelivery(alert_id=alert_id, kind=kind, step=0, recipient=r,
                                   text=notice(r)) for r in paged if r != by]
            created = await self.store.save(change.alert, audit=change.audit, deliveries=notices)
            self._active.remove(alert)
        self._publish(AlertAction(change.alert.state), change.alert, by=by, channel=channel)
        self._enqueue_all(created)
        return change.alert

    # -- escalation ---------------------------------------------------------------------------

    def _deadline(self, policy: EscalationPolicy, severity: str,
                  raised_at: datetime) -> lifecycle.Deadline:
        return lambda step: due(self.config, self.tz, policy, severity, raised_at, step)

    def _stepped(self, alert: Alert, policy: EscalationPolicy, now: datetime) -> Transition:
        return lifecycle.stepped(alert, policy, now, caregivers=self.caregivers,
                                 deadline=self._deadline(policy, alert.severity, alert.raised_at))

    async def _supervise(self, alert_id: str) -> None:
        # Holds one work count (from _enqueue) except while waiting for the clock.
        try:
            while True:
                alert = self._active.get(alert_id)
                changed = self._active.changed(alert_id)
                if alert is None or changed is None:
                    return
                changed.clear()
                wake = lifecycle.next_wake(alert, policy_of(self.config, alert))
                now = self.clock.now()
                if wake is None or wake > now:
                    async with self._work.paused():
                        await self._wait(wake, changed)
                elif lifecycle.is_due(alert, now):
                    await self._escalate(alert_id)
                else:
                    await self._close_by_itself(alert, now)
        finally:
            self._work.release()

    async def _close_by_itself(self, alert: Alert, now: datetime) -> None:
        policy = policy_of(self.config, alert)
        if lifecycle.closes_by_itself(alert, policy, now) == "expired":
            after = policy.expire_after
            await self._close(alert.id, state=RESOLVED, resolution="expired", by="hub", channel=None,
                              note=texts.expired_note(after), kind=KIND_EXPIRED,
                              notice=lambda r: texts.expired(self._lang(r), after))
        else:
            await self._close(alert.id, state=RESOLVED, resolution="auto", by="hub", channel=None,
                              note=texts.AUTO_RESOLVE_NOTE,
                              notice=lambda r: texts.auto_resolved(self._lang(r)))

    async def _wait(self, when: datetime | None, changed: asyncio.Event) -> None:
        waits: list[asyncio.Future[object]] = [asyncio.ensure_future(changed.wait())]
        if when is not None:
            waits.append(asyncio.ensure_future(self.clock.sleep_until(when)))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    async def _escalate(self, alert_id: str) -> None:
        async with self._active.locked(alert_id):
            alert = self._active.get(alert_id)
            if alert is None or not alert.escalating or alert.next_at is None:
                return
            change = self._stepped(alert, policy_of(self.config, alert), self.clock.now())
            created = await self.store.save(change.alert, audit=change.audit,
                                            deliveries=change.deliveries, expect_state=alert.state)
            if created is None:
                return
            self._active.update(change.alert)
        self._publish(AlertAction.ESCALATED, change.alert)
        self._enqueue_all(created)

    # -- people and events --------------------------------------------------------------------

    def name_of(self, who: str | None) -> str:
        """A caregiver's display name (their id for anyone else)."""
        if who is None:
            return ""
        r = self.caregivers.get(who)
        return r.name if r else who

    def _lang(self, recipient: str) -> texts.Lang:
        r = self.caregivers.get(recipient)
        return texts.lang_of(r.language if r else None)

    def _publish(self, action: AlertAction, alert: Alert, *, by: str | None = None,
                 channel: str | None = None) -> None:
        parent = self._active.context(alert.id) or Context(origin="alerts", description=f"alert {alert.id}")
        ctx = parent.child(f"caregiver:{by}" if by and by in self.caregivers else "alerts",
                           f"{action} {alert.id}")
        data: AlertChanged = {
            "action": action, "id": alert.id, "key": alert.key, "scenario": alert.scenario,
            "severity": alert.severity, "by": by, "channel": channel, "state": alert.state,
            "message": alert.message, "message_en": str(alert.data.get("message_en") or alert.message),
        }
        self.bus.publish(ALERT_CHANGED.event(time=self.clock.now(), context=ctx, data=data))

    # -- reading ------------------------------------------------------------------------------

    def active(self) -> list[Alert]:
        """Alerts not yet resolved or cancelled, oldest first (from memory, no I/O)."""
        return self._active.oldest_first()

    async def get(self, alert_id: str) -> Alert | None:
        await self.open()
        return self._active.get(alert_id) or await self.store.get(alert_id)

    async def recent(self, limit: int = 50) -> list[Alert]:
        await self.open()
        return await self.store.recent(limit)

    async def reached(self, alert_id: str) -> dict[str, str]:
        """Per caregiver paged, how far the alert got: 'device' is delivered, 'page' only shown."""
        return reached(await self.store.deliveries(alert_id), self.channels)

    async def timeline(self, alert_id: str) -> list[TimelineItem]:
        """Transitions and delivery attempts of one alert, in time order."""
        await self.open()
        return await self.store.timeline(alert_id)

    async def audit(self, *, alert_id: str | None = None, limit: int = 200,
                    before: int | None = None) -> list[AuditRow]:
        """The audit log, newest first."""
        await self.open()
        return await self.store.audit(alert_id=alert_id, limit=limit, before=before)

    async def record_view(self, alert_id: str | None, *, user: str | None, channel: str, detail: str = "") -> None:
        """Audit that someone looked at an alert (who saw which resident's data, when)."""
        await self.open()
        await self.store.record_audit([AuditEntry(time=self.clock.now(), alert_id=alert_id, event="viewed",
                                                  resident=self.resident, user=user, channel=channel,
                                                  detail=detail)])
