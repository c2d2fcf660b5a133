"""The upward wire format as the centre reads it: controller/uplink_wire.py (shared with the hub),
plus what the centre's side of NATS adds.

`parse(subject, payload)` turns what a home published into a typed message or raises
PayloadError saying why. The ingest reads the homes' messages from NATS's own MQTT stream
`$MQTT_msgs` (central/ingest.py says why), under the subject NATS's MQTT layer stored them with
(`$MQTT.msgs.homes.<id>.up.<kind>`), so that prefix is taken off first.
"""

from __future__ import annotations

from typing import Any

from controller.errors import PayloadError
from controller.uplink_wire import (
    HOME_ID,
    AlertMessage,
    DeviceMessage,
    HeartbeatMessage,
    HouseMessage,
    SnapshotMessage,
    UpMessage,
    WireAlert,
    parse_up,
)
from controller.uplink_wire import home_of as plain_home_of

__all__ = ["HOME_ID", "MQTT_PREFIX", "AlertMessage", "DeviceMessage", "HeartbeatMessage", "HouseMessage",
           "SnapshotMessage", "UpMessage", "WireAlert", "alert_of", "body_of", "home_of", "parse"]

MQTT_PREFIX = "$MQTT.msgs."


def home_of(subject: str) -> str | None:
    """The home id in `homes.<id>.up.<kind>` (with or without NATS's MQTT prefix), else None."""
    return plain_home_of(subject.removeprefix(MQTT_PREFIX))


def parse(subject: str, payload: bytes) -> UpMessage:
    """The message a home published on `subject`; PayloadError says why it cannot be one."""
    if b"\\u0000" in payload:
        # PostgreSQL's text and jsonb cannot hold NUL: refused here rather than failing a batch.
        raise PayloadError("contains a NUL character (\\u0000), which the centre's database cannot hold")
    return parse_up(subject.removeprefix(MQTT_PREFIX), payload)


def body_of(msg: UpMessage) -> dict[str, Any]:
    """The message as JSON for the events table (what the home sent, extra fields kept)."""
    return msg.model_dump(mode="json")


def alert_of(msg: UpMessage) -> str | None:
    return msg.alert.id if isinstance(msg, AlertMessage) else None
