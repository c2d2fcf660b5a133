"""ntfy (https://ntfy.sh or a self-hosted server) through its JSON publish API.

One POST to the server root with `{"topic", "title", "message", "priority", "tags", "click",
"actions"}`. The "Ik ga erheen" button is an ntfy *http* action: the phone itself POSTs to the
hub's signed acknowledgement link, without opening a browser. "Bekijk" is a *view* action that
opens the same link's confirm page.
"""

from __future__ import annotations

import os

import httpx

from controller.alerts.model import KIND_ACKNOWLEDGED, KIND_ALERT, KIND_REPEAT, ChannelTarget, Notification
from controller.errors import DeliveryError

_PRIORITY = {"urgent": 5, "warning": 4, "info": 3}
_TAGS = {"urgent": ["rotating_light"], "warning": ["warning"], "info": ["information_source"]}


def ntfy_message(n: Notification, topic: str) -> dict[str, object]:
    """The JSON body ntfy's publish API takes for `n` (a pure function, easy to test)."""
    body: dict[str, object] = {"topic": topic, "title": n.title, "message": n.message,
                            "click": n.view_url}
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


class NtfyChannel:
    """Publishes to ntfy over HTTP; the transport is injectable for tests and benchmarks."""

    type = "ntfy"

    def __init__(self, *, server: str = "https://ntfy.sh", token_env: str | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.server = server
        self.token_env = token_env
        self._client = httpx.AsyncClient(transport=transport, follow_redirects=False)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(self, notification: Notification, target: ChannelTarget) -> str | None:
        server = str(target.options.get("server") or self.server).rstrip("/")
        topic = str(target.options["topic"])
        headers = {}
        token_env = target.options.get("token_env") or self.token_env
        if token_env:
            token = os.environ.get(str(token_env))
            if not token:
                raise DeliveryError(f"the ntfy access token variable {token_env} is not set")
            headers["Authorization"] = f"Bearer {token}"
        try:
            resp = await self._client.post(f"{server}/", json=ntfy_message(notification, topic),
                                           headers=headers,
                                           timeout=target.timeout.total_seconds())
        except httpx.HTTPError as exc:
            raise DeliveryError(f"ntfy server {server} could not be reached: {exc!r}") from exc
        if resp.status_code // 100 != 2:
            raise DeliveryError(f"ntfy server {server} answered {resp.status_code}: {resp.text[:200]}")
        try:
            receipt = resp.json().get("id")
        except ValueError:
            receipt = None
        return str(receipt) if receipt is not None else None
