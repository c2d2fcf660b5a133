"""The hub's own caregiver page: "shown", never "delivered".

The dashboard streams alert events (each delivery to this channel publishes one); this
channel also keeps the latest notifications per caregiver for a page that just loaded. A
caregiver sees it only when they look, so an alert that reached nothing but this page is
"shown" and its escalation goes on.
"""

from __future__ import annotations

from collections import deque

from controller.alerts.model import REACH_PAGE, ChannelTarget, Notification


class PageChannel:
    """Always succeeds: the page is part of the hub."""

    type = "page"
    reach = REACH_PAGE

    def __init__(self, keep: int = 50) -> None:
        self._keep = keep
        self._items: dict[str, deque[Notification]] = {}

    async def send(self, notification: Notification, target: ChannelTarget) -> str | None:
        self._items.setdefault(notification.recipient.id, deque(maxlen=self._keep)).append(notification)
        return "page"

    def for_caregiver(self, caregiver: str) -> list[Notification]:
        """The latest notifications shown to one caregiver, newest last."""
        return list(self._items.get(caregiver, ()))
