"""Getting one notification to one caregiver: their channels in order, retries, fall-through.

A caregiver lists channels in order of preference (ntfy, then Home Assistant, ...). Each
channel gets its own number of attempts with a doubling back-off on the clock; when all of
them fail the next channel is tried. Every failed attempt is stored as it happens, so the
timeline shows what was tried even if the hub dies halfway.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Protocol

from controller.alerts import lifecycle, texts
from controller.alerts.active import ActiveAlerts
from controller.alerts.channels.base import Channel
from controller.alerts.model import KIND_ALERT, KIND_REPEAT, Alert, ChannelTarget, Notification, Recipient
from controller.alerts.policy import AlertsConfig
from controller.alerts.store import FAILED, SENT, SKIPPED, AlertStore, Attempt, Delivery
from controller.alerts.work import Work
from controller.clock import Clock, monotonic
from controller.errors import DeliveryError
from controller.events import AlertAction

log = logging.getLogger(__name__)

NOT_NEEDED = "not needed any more"
_AUDIT_EVENT = {FAILED: "delivery_failed", SKIPPED: "delivery_skipped"}


class Publish(Protocol):
    """Tells the bus that an alert changed."""

    def __call__(self, action: AlertAction, alert: Alert, *, by: str | None = None,
                 channel: str | None = None) -> None: ...


# The signed acknowledgement link for one alert, one caregiver, one channel.
AckLink = Callable[[Alert, Recipient, str], str]


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """How one delivery ended: SENT (with the attempt that did it), FAILED or SKIPPED."""

    status: str
    channel: str | None = None
    receipt: str | None = None
    attempts: tuple[Attempt, ...] = ()  # the successful one; failures are stored as they happen
    detail: str = ""


def notification(alert: Alert, d: Delivery, who: Recipient, url: str) -> Notification:
    """What `who`'s phone shows for delivery `d`; `url` is their signed acknowledgement link."""
    lang = texts.lang_of(who.language)
    if d.kind == KIND_ALERT:
        return Notification(alert_id=alert.id, kind=d.kind, severity=alert.severity,
                            title=texts.title(lang, alert.severity, alert.resident),
                            message=texts.alert_message(alert, lang), recipient=who,
                            view_url=url + ("?lang=en" if lang == "en" else ""), ack_url=url,
                            tag=f"huis-{alert.id}", ack_label=texts.ACK_LABEL[lang],
                            view_label=texts.VIEW_LABEL[lang])
    # A repeat is the alert again: titled by its severity, like the first page.
    what = alert.severity if d.kind == KIND_REPEAT else d.kind
    return Notification(alert_id=alert.id, kind=d.kind, severity=alert.severity,
                        title=texts.title(lang, what, alert.resident), message=d.text,
                        recipient=who, view_url=url, ack_url=None, tag=f"huis-{alert.id}")


class Dispatcher:
    """Hands deliveries to channels; knows nothing of escalation or of the alert's state."""

    def __init__(self, *, channels: Mapping[str, Channel], store: AlertStore, clock: Clock,
                 work: Work) -> None:
        self.channels = channels
        self.store = store
        self.clock = clock
        self.work = work

    def targets(self, recipient: Recipient, allowed: Collection[str]) -> list[ChannelTarget]:
        """The recipient's channels that this severity may use and that this hub has."""
        return [t for t in recipient.channels if t.type in allowed and t.type in self.channels]

    async def send(self, d: Delivery, targets: list[ChannelTarget], *,
                   compose: Callable[[str], Notification], wanted: Callable[[], bool]) -> Outcome:
        """Try each target in order until one accepts; stop early once `wanted()` is false."""
        for target in targets:
            for attempt in range(1 + target.retries):
                if not wanted():
                    return Outcome(status=SKIPPED, detail=NOT_NEEDED)
                result = await self._attempt(d, target, compose(target.type), attempt + 1)
                if result.ok:
                    return Outcome(status=SENT, channel=target.type, receipt=result.receipt,
                                   attempts=(result,))
                log.warning("alert %s to %s via %s failed (attempt %d): %s", d.alert_id,
                            d.recipient, target.type, attempt + 1, result.error)
                await self.store.finish_attempts([result])
                if attempt < target.retries:
                    async with self.work.paused():
                        await self.clock.sleep(target.backoff.total_seconds() * 2 ** attempt)
        return Outcome(status=FAILED,
                       detail="no channel left" if targets else "no channel configured for this severity")

    async def _attempt(self, d: Delivery, target: ChannelTarget, note: Notification, n: int) -> Attempt:
        started, t0 = self.clock.now(), monotonic()
        error: str | None = None
        receipt: str | None = None
        try:
            async with asyncio.timeout(target.timeout.total_seconds()):
                receipt = await self.channels[target.type].send(note, target)
        except TimeoutError:
            error = f"no answer within {target.timeout.total_seconds():g}s"
        except DeliveryError as exc:
            error = str(exc)
        except Exception as exc:  # a channel bug must not stop the others
            log.exception("channel %s failed on alert %s", target.type, d.alert_id)
            error = f"channel error: {exc!r}"
        return Attempt(delivery_id=d.id, alert_id=d.alert_id, recipient=d.recipient,
                       channel=target.type, attempt=n, started_at=started,
                       finished_at=started + timedelta(seconds=monotonic() - t0),
                       ok=error is None, error=error, receipt=receipt)


class Courier:
    """Delivers stored deliveries: still wanted? to whom, on which channels; then records how it went."""

    def __init__(self, *, active: ActiveAlerts, store: AlertStore, clock: Clock, work: Work,
                 channels: Mapping[str, Channel], caregivers: Mapping[str, Recipient],
                 config: AlertsConfig, link: AckLink, publish: Publish) -> None:
        self.active = active
        self.store = store
        self.clock = clock
        self.work = work
        self.caregivers = caregivers
        self.config = config
        self.link = link
        self.publish = publish
        self.dispatcher = Dispatcher(channels=channels, store=store, clock=clock, work=work)

    def wanted(self, d: Delivery) -> bool:
        """Follow-ups always go out; the alert itself only while it is still escalating."""
        if d.kind != KIND_ALERT:
            return True
        alert = self.active.get(d.alert_id)
        return alert is not None and alert.escalating

    async def deliver(self, d: Delivery, after_restart: bool) -> None:
        """Send `d` and record the outcome; holds one work count and gives it back."""
        try:
            alert = self.active.get(d.alert_id) or await self.store.get(d.alert_id)
            if alert is None:
                return
            outcome = await self._send(d, alert)
            if outcome.status == SENT and after_restart:
                outcome = replace(outcome, detail="re-sent after restart")
            await self._finish(d, alert, outcome)
        finally:
            self.work.release()

    async def _send(self, d: Delivery, alert: Alert) -> Outcome:
        if not self.wanted(d):
            return Outcome(status=SKIPPED, detail=NOT_NEEDED)
        who = self.caregivers.get(d.recipient)
        if who is None:
            return Outcome(status=FAILED, detail=f"unknown caregiver {d.recipient}")
        targets = self.dispatcher.targets(who, self.config.severities[alert.severity].channels)
        return await self.dispatcher.send(
            d, targets, compose=lambda ch: notification(alert, d, who, self.link(alert, who, ch)),
            wanted=lambda: self.wanted(d))

    async def _finish(self, d: Delivery, alert: Alert, outcome: Outcome) -> None:
        now = self.clock.now()
        status, channel = outcome.status, outcome.channel
        to_alert = d.kind == KIND_ALERT
        event = ("delivered" if to_alert else "notified") if status == SENT else _AUDIT_EVENT[status]
        detail = outcome.detail if to_alert else (f"{d.kind}: {outcome.detail}" if outcome.detail else d.kind)
        async with self.active.locked(d.alert_id):
            current = self.active.get(d.alert_id) or alert
            updated = lifecycle.delivered(current, now) if status == SENT and to_alert else None
            entry = lifecycle.entry(updated or current, event, user=d.recipient, channel=channel,
                                    detail=detail)
            await self.store.finish_delivery(d, status=status, channel=channel, receipt=outcome.receipt,
                                             attempts=outcome.attempts, now=now, alert=updated,
                                             audit=[entry])
            if updated is not None:
                self.active.update(updated)
        if status == SENT and to_alert:
            self.publish(AlertAction.DELIVERED, updated or current, by=d.recipient, channel=channel)
        elif status == FAILED:
            log.error("alert %s could not reach %s on any channel", d.alert_id, d.recipient)
