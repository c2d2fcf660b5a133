"""The one interface every delivery channel implements.

A channel makes one attempt: it either returns (accepted; optionally a receipt such as the
push service's message id) or raises DeliveryError saying why not, or DeliveryUnknown when the
request went out and no answer came back (the server may have it). Timeouts, retries with
backoff and falling through to the caregiver's next channel are the service's job, so every
channel gets them the same way and every attempt is recorded in one place.
"""

from __future__ import annotations

from typing import Protocol

from controller.alerts import texts
from controller.alerts.model import KIND_ALERT, ChannelTarget, Notification


class Channel(Protocol):
    """One way of putting a notification in front of a caregiver."""

    type: str  # matches `type:` in config/alerts.yaml
    # How far an accepted notification gets: REACH_DEVICE (a push service for a person's phone),
    # REACH_PAGE (the hub's own page) or REACH_SYSTEM (another system). Only REACH_DEVICE makes
    # an alert "delivered"; the others make it "shown".
    reach: str

    async def send(self, notification: Notification, target: ChannelTarget) -> str | None:
        """Make one delivery attempt; return a receipt or None; raise DeliveryError on failure."""
        ...


def plain_text(n: Notification) -> str:
    """The message with its link spelled out, for channels without buttons (mail, SMS)."""
    if n.kind != KIND_ALERT:
        return n.message
    return texts.with_link(texts.lang_of(n.recipient.language), n.message, n.view_url)
