"""An MQTT topic, for an alarm panel or a care organisation's system.

"Delivered" here means handed to the hub's link, which queues while the broker is away and
never drops a message (see controller/mqtt.py); QoS 1 covers the hop to the broker.
"""

from __future__ import annotations

import json

from controller.alerts.channels.base import plain_text
from controller.alerts.model import ChannelTarget, Notification
from controller.mqtt import Link


def mqtt_payload(n: Notification) -> bytes:
    """The JSON message a subscriber receives."""
    return json.dumps({
        "alert_id": n.alert_id, "kind": n.kind, "severity": n.severity, "title": n.title,
        "message": n.message, "text": plain_text(n), "recipient": n.recipient.id,
        "ack_url": n.ack_url, "view_url": n.view_url,
    }, ensure_ascii=False).encode("utf-8")


class MqttChannel:
    """Publishes each notification to `<topic>/<caregiver>` (or the caregiver's own topic)."""

    type = "mqtt"

    def __init__(self, link: Link, *, topic: str = "huis/alerts") -> None:
        self.link = link
        self.topic = topic.rstrip("/")

    async def send(self, notification: Notification, target: ChannelTarget) -> str | None:
        topic = str(target.options.get("topic") or f"{self.topic}/{notification.recipient.id}")
        self.link.send(topic, mqtt_payload(notification), qos=1, retain=False)
        return topic
