"""Emergency (SOS) button: Tuya TS0215A_sos through Zigbee2MQTT.

A press arrives as {"action": "emergency", "battery": 100, "linkquality": 120} and becomes a
DeviceEvent named "emergency"; `battery` and `linkquality` are ordinary attributes.

`emergency` is the only action Zigbee2MQTT defines for this model. With the Home Assistant
integration on, Zigbee2MQTT follows every action with a copy of the state carrying
`"action": ""` (and some versions send `null`) so HA sees a change; that is not a press and is
ignored. Any other action means the device is not what the configuration says it is, so it is
a PayloadError: logged and counted where a technician will see it, rather than silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from controller.errors import PayloadError
from devices.base import DeviceEvent, Reading, Zigbee2MqttDevice, field_names, get_int

ACTIONS = ("emergency",)


@dataclass(frozen=True, slots=True, kw_only=True)
class SosReading(Reading):
    battery: int | None = None  # %
    voltage: int | None = None  # mV, reported by some firmware
    linkquality: int | None = None


class SosButton(Zigbee2MqttDevice):
    kind: ClassVar[str] = "sos"
    models: ClassVar[tuple[str, ...]] = ("TS0215A_sos",)
    power: ClassVar[str] = "battery"
    attributes: ClassVar[tuple[str, ...]] = field_names(SosReading)
    events: ClassVar[tuple[str, ...]] = ACTIONS

    def decode_state(self, data: dict[str, object]) -> list[Reading]:
        action = data.get("action")
        if action is not None and not isinstance(action, str):
            raise PayloadError(f"'action' should be a string, got {action!r}")
        if action and action not in ACTIONS:
            raise PayloadError(f"unexpected action {action!r} (this model only sends 'emergency')")
        readings: list[Reading] = [
            SosReading(
                battery=get_int(data, "battery", 0, 100),
                voltage=get_int(data, "voltage", 1000, 5000),
                linkquality=get_int(data, "linkquality", 0, 255),
            )
        ]
        if action:
            # State first, then the event: whoever reacts to the press sees the fresh battery level.
            readings.append(DeviceEvent(name=action))
        return readings
