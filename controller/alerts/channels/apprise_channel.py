"""Anything Apprise speaks (Telegram, Pushover, Signal, e-mail, SMS gateways) from one URL.

URLs usually hold secrets, so a caregiver's channel may name an environment variable
(`url_env`) instead of spelling the URL out in config/alerts.yaml. Errors never repeat the
URL, only its scheme.

Apprise has no idempotency key to pass on: a failure it reports is retried (`retries`), and a
try that overruns the timeout counts as "outcome unknown" and is not repeated.
"""

from __future__ import annotations

import os
import warnings

from controller.alerts.channels.base import plain_text
from controller.alerts.model import KIND_ALERT, REACH_DEVICE, ChannelTarget, Notification
from controller.errors import DeliveryError

# apprise.NotifyType's values; Apprise itself is imported when first used (start-up time).
_TYPES = {"urgent": "failure", "warning": "warning", "info": "info"}


class AppriseChannel:
    """Sends through Apprise, one URL per caregiver channel."""

    type = "apprise"
    reach = REACH_DEVICE

    async def send(self, notification: Notification, target: ChannelTarget) -> str | None:
        url = target.options.get("url")
        if not url and target.options.get("url_env"):
            url = os.environ.get(str(target.options["url_env"]))
        if not url:
            raise DeliveryError("no Apprise URL configured (url, or url_env naming a set variable)")
        import apprise

        scheme = str(url).split(":", 1)[0]
        ap = apprise.Apprise()
        with warnings.catch_warnings():
            # Apprise's e-mail plugin imports the stdlib 'imghdr' (deprecated in 3.11) when it
            # first loads; that is Apprise's business, not a reason to fail a delivery.
            warnings.filterwarnings("ignore", message=".*imghdr.*", category=DeprecationWarning)
            added = ap.add(str(url))
        if not added:
            raise DeliveryError(f"Apprise does not accept this {scheme}:// URL")
        kind = apprise.NotifyType(_TYPES[notification.severity] if notification.kind == KIND_ALERT else "success")
        result = await ap.async_notify(body=plain_text(notification), title=notification.title,
                                       notify_type=kind)
        if not result:
            raise DeliveryError(f"Apprise could not deliver through {scheme}:// ({result.status})")
        return scheme
