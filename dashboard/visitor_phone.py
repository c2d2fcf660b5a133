"""The visitor as caregiver: a demo caregiver page on the visitor's own phone.

The tour shows a QR code while a story plays. It opens `/bezoeker/<token>`: no account and no
personal data, only the story's sandbox alerts (a pseudonym and a demo message). The token is
unguessable (128 random bits), made when the story starts and void when it ends, so a photo of
the screen is worth nothing a minute later. The page hears the story's alerts live and can
tap "Ik ga erheen", which acknowledges the alert in the sandbox: the escalation stops there and
the tour screen shows a caregiver on the way.
"""

from __future__ import annotations

import asyncio
import hmac
import io
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import segno

from controller.alerts.model import KIND_ALERT, Notification

log = logging.getLogger(__name__)

_QUEUE = 100


@dataclass(slots=True, eq=False)
class PhoneSubscriber:
    """One open visitor page."""

    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=lambda: asyncio.Queue(maxsize=_QUEUE))

    def offer(self, message: dict[str, Any]) -> None:
        with_room = not self.queue.full()
        if with_room:
            self.queue.put_nowait(message)


class VisitorPhones:
    """The current story's demo caregiver page: its token, its alerts and the open phones."""

    def __init__(self) -> None:
        self.token: str | None = None
        self.story: dict[str, str] | None = None  # the story's title, nl and en
        self.alerts: dict[str, dict[str, Any]] = {}
        self.subscribers: set[PhoneSubscriber] = set()
        # Set by the story player while a story plays: acknowledges in the sandbox.
        self.acknowledger: Callable[[str], Awaitable[bool]] | None = None
        self.on_change: Callable[[], None] | None = None  # the tour hears of phones and taps

    # -- the story's lifetime -----------------------------------------------------------------

    def open(self, title: dict[str, str]) -> str:
        """A new token for a story that begins; every earlier page is told it is over."""
        self.close()
        self.token = secrets.token_urlsafe(16)
        self.story = dict(title)
        return self.token

    def close(self) -> None:
        """The story is over: the token is void and open pages say so."""
        self.token = None
        self.story = None
        self.alerts.clear()
        self.acknowledger = None
        self._publish({"type": "ended"})

    def valid(self, token: str) -> bool:
        """Whether `token` is the current story's (compared in constant time)."""
        current = self.token
        return current is not None and hmac.compare_digest(current.encode(), token.encode())

    @property
    def connected(self) -> int:
        """How many phones have the page open."""
        return len(self.subscribers)

    # -- what a phone sees ------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {"type": "snapshot", "story": self.story, "alerts": list(self.alerts.values())}

    def deliver(self, n: Notification, messages: dict[str, str] | None = None) -> None:
        """A sandbox notification to the visitor: a new alert on the phone (its message in both
        languages when given, the phone's page shows the one it reads in)."""
        if n.kind != KIND_ALERT or self.token is None:
            return
        self.alerts[n.alert_id] = {"id": n.alert_id, "severity": n.severity, "message": messages or n.message,
                                   "state": "raised", "acknowledged": False}
        self._publish({"type": "alerts", "alerts": list(self.alerts.values())})

    def update(self, alert_id: str, state: str) -> None:
        """An alert the phone shows changed state (acknowledged, resolved)."""
        alert = self.alerts.get(alert_id)
        if alert is None:
            return
        alert["state"] = state
        alert["acknowledged"] = alert["acknowledged"] or state == "acknowledged"
        self._publish({"type": "alerts", "alerts": list(self.alerts.values())})

    async def acknowledge(self, alert_id: str) -> bool:
        """The visitor taps "Ik ga erheen"."""
        if self.acknowledger is None or alert_id not in self.alerts:
            return False
        return await self.acknowledger(alert_id)

    def subscribe(self) -> PhoneSubscriber:
        sub = PhoneSubscriber()
        self.subscribers.add(sub)
        self._changed()
        return sub

    def unsubscribe(self, sub: PhoneSubscriber) -> None:
        self.subscribers.discard(sub)
        self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def _publish(self, message: dict[str, Any]) -> None:
        for sub in self.subscribers:
            sub.offer(message)


def qr_svg(url: str) -> str:
    """`url` as a QR code in SVG, dark on white with a quiet zone, scaled by the page."""
    qr = segno.make(url, error="m")
    out = io.BytesIO()
    qr.save(out, kind="svg", scale=1, border=2, xmldecl=False, svgns=True, omitsize=True,
            dark="#14181f", light="#ffffff")
    return out.getvalue().decode()
