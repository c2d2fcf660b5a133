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

from devices.base import DeviceEvent, Fields, Reading, Zigbee2MqttDevice, field_names, show

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
        f = Fields(data)
        action = data.get("action")
        if action is not None and not isinstance(action, str):
            f.drop("action", f"'action' should be a string, got {show(action)}")
            action = None
        elif action and action not in ACTIONS:
            f.drop("action", f"unexpected action {show(action)} (this model only sends 'emergency')")
            action = None
        # Each attribute on its own: a stale battery value (100.5, or a voltage of 0 from
        # Zigbee2MQTT's battery converter) is dropped and reported, never the press itself.
        readings: list[Reading] = [
            SosReading(
                battery=f.whole("battery", 0, 100),
                voltage=f.whole("voltage", 1000, 5000),
                linkquality=f.whole("linkquality", 0, 255),
            )
        ]
        if action:
            # State first, then the event: whoever reacts to the press sees the fresh battery level.
            readings.append(DeviceEvent(name=action))
        return f.readings(*readings)
