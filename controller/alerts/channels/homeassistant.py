"""The Home Assistant companion app, via `notify.mobile_app_*` through HA's REST API.

Urgent alerts are *critical* notifications (iOS: critical sound; Android: the alarm stream,
high priority, no TTL), which ring through Do Not Disturb. Every notification of one alert
carries the same `tag`, so "Anna gaat erheen" replaces the alarm on the phone instead of
stacking under it.

Idempotency: HA's REST API takes no idempotency key; the `tag` makes the companion app replace a
notification with the same tag instead of adding one. Once the notify call has gone out, a
timeout or a dropped connection is "outcome unknown" and HA is not called again for it.
"""

from __future__ import annotations

import asyncio
import os

from controller.alerts.model import KIND_ALERT, REACH_DEVICE, ChannelTarget, Notification
from controller.errors import DeliveryError, DeliveryUnknown


def ha_service_data(n: Notification) -> dict[str, object]:
    """The notify service call's fields for `n` (a pure function, easy to test)."""
    data: dict[str, object] = {"tag": n.tag, "url": n.view_url, "clickAction": n.view_url}
    if n.kind == KIND_ALERT:
        # URI actions open the signed link's confirm page: one more tap confirms, and a
        # mistaken tap on the notification does not acknowledge by itself.
        data["actions"] = [
            {"action": "URI", "title": n.ack_label, "uri": n.view_url},
            {"action": "URI", "title": n.view_label, "uri": n.view_url},
        ]
        if n.urgent:
            data["push"] = {"sound": {"name": "default", "critical": 1, "volume": 1.0},
                            "interruption-level": "critical"}
            data["ttl"] = 0
            data["priority"] = "high"
            data["channel"] = "alarm_stream"
    return {"title": n.title, "message": n.message, "data": data}


class HomeAssistantChannel:
    """Calls `notify.<service>` on a Home Assistant instance."""

    type = "homeassistant"
    reach = REACH_DEVICE

    def __init__(self, *, url: str, token: str | None = None, token_env: str | None = None) -> None:
        # url is HA's API root, e.g. http://homeassistant.local:8123/api
        self.url = url
        self._token = token
        self.token_env = token_env

    def _access_token(self) -> str:
        token = self._token or (os.environ.get(self.token_env) if self.token_env else None)
        if not token:
            raise DeliveryError("no Home Assistant access token (set token_env to a variable holding one)")
        return token

    async def send(self, notification: Notification, target: ChannelTarget) -> str | None:
        # Imported when first used: the client costs a hub that never calls HA ~0.2 s of start-up.
        from homeassistant_api import AsyncClient
        from homeassistant_api.errors import HomeassistantAPIError
        from niquests import AsyncSession
        from niquests.exceptions import ConnectTimeout, ReadTimeout

        service = str(target.options["service"]).removeprefix("notify.")
        url = str(target.options.get("url") or self.url)
        timeout = target.timeout.total_seconds()
        calling = False  # the notify call itself has gone out: HA may have passed it on
        try:
            async with asyncio.timeout(timeout):
                # We own the session rather than `async with AsyncClient`: when HA refuses the
                # client's opening check, its __aexit__ never runs and the connection would leak.
                async with AsyncSession() as session:
                    client = AsyncClient(url, self._access_token(), session=session,
                                         global_request_kwargs={"timeout": timeout})
                    if not await client.check_api_running():
                        raise DeliveryError(f"Home Assistant at {url} says its API is not running")
                    calling = True
                    await client.trigger_service("notify", service, **ha_service_data(notification))
        except DeliveryError:
            raise
        except HomeassistantAPIError as exc:  # HA answered: it refused
            raise DeliveryError(f"Home Assistant notify.{service} failed: {exc!r}") from exc
        except Exception as exc:  # niquests' own errors do not share a base we can import cleanly
            never_sent = isinstance(exc, ConnectTimeout | ConnectionRefusedError)
            if calling and not never_sent and isinstance(exc, TimeoutError | ReadTimeout | OSError):
                raise DeliveryUnknown(f"Home Assistant notify.{service}: no answer ({exc!r}) after the"
                                      " call went out; it may have reached the phone") from exc
            raise DeliveryError(f"Home Assistant notify.{service} failed: {exc!r}") from exc
        return f"notify.{service}"
