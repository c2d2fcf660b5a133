"""An MQTT topic, for an alarm panel or a care organisation's system.

Anyone allowed to subscribe to the topic reads what is published there, so it carries no
secret: no acknowledgement link, no token, no link at all. A subscriber gets the alert's id,
severity, title and text and the delivery's idempotency key; acknowledging happens in the
authenticated app (the caregiver page) or through the signed link on the caregiver's own phone.

"Accepted" here means handed to the hub's link, which queues while the broker is away and
never drops a message (see controller/mqtt.py); QoS 1 covers the hop to the broker, and may
hand a subscriber the same message twice: `key` lets it drop the second. Another system is not
a person's phone, so this channel makes an alert "shown", not "delivered".
"""

from __future__ import annotations

import json

from controller.alerts.model import REACH_SYSTEM, ChannelTarget, Notification
from controller.mqtt import Link


def mqtt_payload(n: Notification) -> bytes:
    """The JSON message a subscriber receives: nothing in it lets anyone act on the alert."""
    return json.dumps({
        "alert_id": n.alert_id, "kind": n.kind, "severity": n.severity, "title": n.title,
        "message": n.message, "recipient": n.recipient.id, "key": n.key,
    }, ensure_ascii=False).encode("utf-8")


class MqttChannel:
    """Publishes each notification to `<topic>/<caregiver>` (or the caregiver's own topic)."""

    type = "mqtt"
    reach = REACH_SYSTEM

    def __init__(self, link: Link, *, topic: str = "huis/alerts") -> None:
        self.link = link
        self.topic = topic.rstrip("/")

    async def send(self, notification: Notification, target: ChannelTarget) -> str | None:
        topic = str(target.options.get("topic") or f"{self.topic}/{notification.recipient.id}")
        self.link.send(topic, mqtt_payload(notification), qos=1, retain=False)
        return topic
