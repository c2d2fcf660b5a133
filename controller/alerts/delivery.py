"""Getting one notification to one caregiver: their channels in order, retries, fall-through.

A caregiver lists channels in order of preference (ntfy, then Home Assistant, ...). Each
channel gets its own number of attempts with a doubling back-off on the clock; when all of
them fail the next channel is tried. Every failed attempt is stored as it happens, so the
timeline shows what was tried even if the hub dies halfway.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Protocol

from controller.alerts import lifecycle, texts
from controller.alerts.active import ActiveAlerts
from controller.alerts.channels.base import Channel
from controller.alerts.model import (
    KIND_ALERT,
    KIND_REPEAT,
    REACH_DEVICE,
    REACH_PAGE,
    REACH_SYSTEM,
    Alert,
    ChannelTarget,
    Notification,
    Recipient,
)
from controller.alerts.policy import AlertsConfig
from controller.alerts.store import FAILED, PENDING, SENT, SKIPPED, UNKNOWN, AlertStore, Attempt, Delivery
from controller.alerts.work import Work
from controller.clock import Clock, monotonic
from controller.errors import DeliveryError, DeliveryUnknown
from controller.events import AlertAction

log = logging.getLogger(__name__)

NOT_NEEDED = "not needed any more"
_AUDIT_EVENT = {FAILED: "delivery_failed", SKIPPED: "delivery_skipped", UNKNOWN: "delivery_unknown"}
# An attempt whose outcome is unknown (the server may have the message) says so first.
UNKNOWN_PREFIX = "outcome unknown: "
# How long past a channel's own timeout the dispatcher waits before it gives up on the channel.
_BACKSTOP = 0.5


class Publish(Protocol):
    """Tells the bus that an alert changed."""

    def __call__(self, action: AlertAction, alert: Alert, *, by: str | None = None,
                 channel: str | None = None) -> None: ...


# The signed acknowledgement link for one alert, one caregiver, one channel.
AckLink = Callable[[Alert, Recipient, str], str]


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """How one delivery ended: SENT (with the attempts that did it), UNKNOWN, FAILED or SKIPPED.

    A SENT delivery reached a person's device (`reach` REACH_DEVICE) or was only shown.
    """

    status: str
    channel: str | None = None
    receipt: str | None = None
    attempts: tuple[Attempt, ...] = ()  # the successful ones; failures are stored as they happen
    reach: str | None = None
    detail: str = ""


def idempotency_key(d: Delivery) -> str:
    """The same for every attempt of delivery `d`, also after a restart; unique per delivery.

    Letters, digits and '-' only, at most 64 characters (what ntfy accepts as a sequence id).
    """
    return f"huis-{d.alert_id}-d{d.id}"[:64]


def notification(alert: Alert, d: Delivery, who: Recipient, url: str) -> Notification:
    """What `who`'s phone shows for delivery `d`; `url` is their signed acknowledgement link."""
    lang = texts.lang_of(who.language)
    if d.kind == KIND_ALERT:
        return Notification(alert_id=alert.id, kind=d.kind, severity=alert.severity,
                            title=texts.title(lang, alert.severity, alert.resident),
                            message=texts.alert_message(alert, lang), recipient=who,
                            view_url=url + ("?lang=en" if lang == "en" else ""), ack_url=url,
                            tag=f"huis-{alert.id}", ack_label=texts.ack_label(lang),
                            view_label=texts.view_label(lang), key=idempotency_key(d))
    # A repeat is the alert again: titled by its severity, like the first page.
    what = alert.severity if d.kind == KIND_REPEAT else d.kind
    return Notification(alert_id=alert.id, kind=d.kind, severity=alert.severity,
                        title=texts.title(lang, what, alert.resident), message=d.text,
                        recipient=who, view_url=url, ack_url=None, tag=f"huis-{alert.id}",
                        key=idempotency_key(d))


# How far the alert itself got to one caregiver, best first (see `reached`).
_REACH_ORDER = (REACH_DEVICE, REACH_PAGE, REACH_SYSTEM, UNKNOWN, PENDING, FAILED, SKIPPED)


def reached(deliveries: Iterable[Delivery], channels: Mapping[str, Channel]) -> dict[str, str]:
    """Per caregiver paged, the best any delivery of the alert itself got.

    'device' (a push service for their phone took it), 'page' or 'system' (shown only),
    'unknown' (a server may have it), 'pending', 'failed' or 'skipped'.
    """
    best: dict[str, str] = {}
    for d in deliveries:
        if d.kind != KIND_ALERT:
            continue
        how = d.status
        if d.status == SENT and d.channel:
            ch = channels.get(d.channel)
            how = ch.reach if ch is not None else REACH_DEVICE
        if how not in _REACH_ORDER:
            continue
        if d.recipient not in best or _REACH_ORDER.index(how) < _REACH_ORDER.index(best[d.recipient]):
            best[d.recipient] = how
    return best


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
        """Try the targets in order until a person's device is reached; stop once `wanted()` is false.

        A channel that only shows it (the page, an MQTT system) counts, but the next targets are
        still tried for a phone. A target whose outcome is unknown is never tried again.
        """
        shown: list[Attempt] = []
        unknown: list[str] = []
        for target in targets:
            status, result = await self._on_target(d, target, compose(target.type), wanted)
            if status == SKIPPED:
                if shown:
                    break
                return Outcome(status=SKIPPED, detail=NOT_NEEDED)
            if status == UNKNOWN:
                unknown.append(target.type)
            elif status == SENT and result is not None:
                if self.channels[target.type].reach == REACH_DEVICE:
                    return Outcome(status=SENT, channel=target.type, receipt=result.receipt,
                                   attempts=(*shown, result), reach=REACH_DEVICE,
                                   detail=_maybe(unknown))
                shown.append(result)
        if shown:
            first = shown[0]
            return Outcome(status=SENT, channel=first.channel, receipt=first.receipt, attempts=tuple(shown),
                           reach=self.channels[first.channel].reach,
                           detail=_joined("no phone reached", _maybe(unknown)))
        if unknown:
            return Outcome(status=UNKNOWN, detail=_maybe(unknown))
        return Outcome(status=FAILED,
                       detail="no channel left" if targets else "no channel configured for this severity")

    async def _on_target(self, d: Delivery, target: ChannelTarget, note: Notification,
                         wanted: Callable[[], bool]) -> tuple[str, Attempt | None]:
        """Attempts on one target with back-off: SENT, FAILED, UNKNOWN or SKIPPED."""
        for attempt in range(1 + target.retries):
            if not wanted():
                return SKIPPED, None
            result, maybe = await self._attempt(d, target, note, attempt + 1)
            if result.ok:
                return SENT, result
            log.warning("alert %s to %s via %s failed (attempt %d): %s", d.alert_id,
                        d.recipient, target.type, attempt + 1, result.error)
            await self.store.finish_attempts([result])
            if maybe:
                # The server may have it: another try could be a second copy on the phone.
                return UNKNOWN, result
            if attempt < target.retries:
                async with self.work.paused():
                    await self.clock.sleep(target.backoff.total_seconds() * 2 ** attempt)
        return FAILED, None

    async def _attempt(self, d: Delivery, target: ChannelTarget, note: Notification,
                       n: int) -> tuple[Attempt, bool]:
        """One try; the attempt as recorded, and whether its outcome is unknown."""
        started, t0 = self.clock.now(), monotonic()
        error: str | None = None
        receipt: str | None = None
        unknown = False
        seconds = target.timeout.total_seconds()
        try:
            # A backstop just past the channel's own timeout: channels that can tell whether
            # their request went out raise DeliveryUnknown or DeliveryError themselves first.
            async with asyncio.timeout(seconds + _BACKSTOP):
                receipt = await self.channels[target.type].send(note, target)
        except TimeoutError:
            error, unknown = f"{UNKNOWN_PREFIX}no answer within {seconds:g}s; it may have arrived", True
        except DeliveryUnknown as exc:
            error, unknown = f"{UNKNOWN_PREFIX}{exc}", True
        except DeliveryError as exc:
            error = str(exc)
        except Exception as exc:  # a channel bug must not stop the others
            log.exception("channel %s failed on alert %s", target.type, d.alert_id)
            error = f"channel error: {exc!r}"
        return Attempt(delivery_id=d.id, alert_id=d.alert_id, recipient=d.recipient,
                       channel=target.type, attempt=n, started_at=started,
                       finished_at=started + timedelta(seconds=monotonic() - t0),
                       ok=error is None, error=error, receipt=receipt), unknown


def _maybe(unknown: list[str]) -> str:
    return f"outcome unknown on {', '.join(unknown)} (not sent there again)" if unknown else ""


def _joined(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


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
        return await self.dispatcher.send(d, targets, compose=lambda ch: self._compose(alert, d, who, ch),
                                          wanted=lambda: self.wanted(d))

    def _compose(self, alert: Alert, d: Delivery, who: Recipient, channel: str) -> Notification:
        # A system's topic may be read by others: it never gets a link that acknowledges.
        private = self.dispatcher.channels[channel].reach != REACH_SYSTEM
        note = notification(alert, d, who, self.link(alert, who, channel) if private else "")
        return note if private else replace(note, ack_url=None)

    async def _finish(self, d: Delivery, alert: Alert, outcome: Outcome) -> None:
        now = self.clock.now()
        status, channel = outcome.status, outcome.channel
        to_alert = d.kind == KIND_ALERT
        reached = outcome.reach == REACH_DEVICE
        if status == SENT:
            event = ("delivered" if reached else "shown") if to_alert else "notified"
        else:
            event = _AUDIT_EVENT[status]
        detail = outcome.detail if to_alert else (f"{d.kind}: {outcome.detail}" if outcome.detail else d.kind)
        async with self.active.locked(d.alert_id):
            # An alert closed while this delivery was out stays closed: only a live one moves on
            # (else the delivery's old copy came back as an active "shown" alert).
            live = self.active.get(d.alert_id)
            current = live or alert
            updated = None
            if status == SENT and to_alert and live is not None:
                updated = lifecycle.delivered(current, now) if reached else lifecycle.shown(current, now)
            entry = lifecycle.entry(updated or current, event, user=d.recipient, channel=channel,
                                    detail=detail)
            await self.store.finish_delivery(d, status=status, channel=channel, receipt=outcome.receipt,
                                             attempts=outcome.attempts, now=now, alert=updated,
                                             audit=[entry])
            if updated is not None:
                self.active.update(updated)
        if status == SENT and to_alert and live is not None:
            action = AlertAction.DELIVERED if reached else AlertAction.SHOWN
            self.publish(action, updated or current, by=d.recipient, channel=channel)
        elif status == FAILED:
            log.error("alert %s could not reach %s on any channel", d.alert_id, d.recipient)
        elif status == UNKNOWN:
            log.warning("alert %s to %s: no channel confirmed it (%s)", d.alert_id, d.recipient,
                        outcome.detail)
