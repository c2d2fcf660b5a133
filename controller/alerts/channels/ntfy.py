"""ntfy (a self-hosted server, or https://ntfy.sh) through its JSON publish API.

One POST to the server root with `{"topic", "title", "message", "priority", "tags", "click",
"actions", "sequence_id"}`. The "Ik ga erheen" button is an ntfy *http* action: the phone itself
POSTs to the hub's signed acknowledgement link, without opening a browser. "Bekijk" is a *view*
action that opens the same link's confirm page.

Idempotency: every attempt of one delivery carries the same `sequence_id` (the notification's
key). ntfy does not drop a second publish with a known sequence id; from ntfy 2.16 (Android app
1.22) its apps *replace* the notification of that sequence instead of adding one, older ones
show both. So the hub does not lean on it: when a request went out and no answer came back,
the outcome is unknown (DeliveryUnknown) and the dispatcher does not send it to this server
again. Only failures that prove nothing was published (refused connection, an error answer)
are retried.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from controller.alerts.model import (
    KIND_ACKNOWLEDGED,
    KIND_ALERT,
    KIND_REPEAT,
    REACH_DEVICE,
    ChannelTarget,
    Notification,
)
from controller.errors import DeliveryError, DeliveryUnknown

if TYPE_CHECKING:  # imported on the first delivery: a hub that never pages carries no HTTP client
    import httpx

_PRIORITY = {"urgent": 5, "warning": 4, "info": 3}
_TAGS = {"urgent": ["rotating_light"], "warning": ["warning"], "info": ["information_source"]}


def ntfy_message(n: Notification, topic: str) -> dict[str, object]:
    """The JSON body ntfy's publish API takes for `n` (a pure function, easy to test)."""
    body: dict[str, object] = {"topic": topic, "title": n.title, "message": n.message,
                               "click": n.view_url}
    if n.key:
        body["sequence_id"] = n.key
    if n.kind == KIND_ALERT:
        body["priority"] = _PRIORITY[n.severity]
        body["tags"] = _TAGS[n.severity]
        actions: list[dict[str, object]] = []
        if n.ack_url:
            # clear: the notification goes away once the hub has taken the acknowledgement.
            actions.append({"action": "http", "label": n.ack_label, "url": n.ack_url,
                            "method": "POST", "clear": True})
        actions.append({"action": "view", "label": n.view_label, "url": n.view_url})
        body["actions"] = actions
    elif n.kind == KIND_REPEAT:  # the same thing again: as loud as the alert itself
        body["priority"] = _PRIORITY[n.severity]
        body["tags"] = _TAGS[n.severity]
    else:
        body["priority"] = 3
        body["tags"] = ["runner"] if n.kind == KIND_ACKNOWLEDGED else ["white_check_mark"]
    return body


class _Progress:
    """Whether the whole request has left this machine (httpcore's `trace` extension says so)."""

    def __init__(self) -> None:
        self.sent = False

    async def __call__(self, event: str, info: Mapping[str, object]) -> None:
        if event.endswith(".send_request_body.complete"):
            self.sent = True


class NtfyChannel:
    """Publishes to ntfy over HTTP; the transport is injectable for tests and benchmarks."""

    type = "ntfy"
    reach = REACH_DEVICE

    def __init__(self, *, server: str | None = None, token_env: str | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        # No default server: a hub that nobody pointed at a push service must not publish to a
        # public one (the demo's own stand-in is configured in config/alerts.yaml).
        self.server = server
        self.token_env = token_env
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(transport=self._transport, follow_redirects=False)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    def _headers(self, target: ChannelTarget) -> dict[str, str]:
        token_env = target.options.get("token_env") or self.token_env
        if not token_env:
            return {}
        token = os.environ.get(str(token_env))
        if not token:
            raise DeliveryError(f"the ntfy access token variable {token_env} is not set")
        return {"Authorization": f"Bearer {token}"}

    async def send(self, notification: Notification, target: ChannelTarget) -> str | None:
        server = str(target.options.get("server") or self.server or "").rstrip("/")
        if not server:
            raise DeliveryError("no ntfy server configured (channels.ntfy.server in alerts.yaml)")
        topic = target.options.get("topic")
        if not topic:
            raise DeliveryError("no ntfy topic for this caregiver (it is generated when the hub starts)")
        seconds = target.timeout.total_seconds()
        client = self._http()
        import httpx

        progress = _Progress()
        try:
            # Our own deadline, just inside the dispatcher's, so we can say which side of
            # "the request went out" the time ran out on.
            async with asyncio.timeout(seconds):
                resp = await client.post(f"{server}/", json=ntfy_message(notification, str(topic)),
                                               headers=self._headers(target), timeout=seconds,
                                               extensions={"trace": progress})
        except (TimeoutError, httpx.HTTPError) as exc:
            reason = f"no answer within {seconds:g}s" if isinstance(exc, TimeoutError | httpx.TimeoutException) \
                else f"{exc!r}"
            if progress.sent:
                raise DeliveryUnknown(f"ntfy server {server}: {reason} after the message was sent;"
                                      " it may have been published, so it is not sent there again") from exc
            raise DeliveryError(f"ntfy server {server} could not be reached: {reason}") from exc
        if resp.status_code == 504:  # a proxy in front of ntfy gave up waiting: it may have it
            raise DeliveryUnknown(f"ntfy server {server} answered 504 (a proxy timed out); it may have"
                                  " been published, so it is not sent there again")
        if resp.status_code // 100 != 2:
            raise DeliveryError(f"ntfy server {server} answered {resp.status_code}: {resp.text[:200]}")
        try:
            receipt = resp.json().get("id")
        except ValueError:
            receipt = None
        return str(receipt) if receipt is not None else None
