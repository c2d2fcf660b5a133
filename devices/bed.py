"""Bed occupancy sensor: Tuya TS0601_bed_presence_sensor through Zigbee2MQTT.

Payload: {"occupancy": true, "battery": 87, "linkquality": 120}. `occupancy` false means the
bed is empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from devices.base import Reading, Zigbee2MqttDevice, field_names, get_bool, get_int


@dataclass(frozen=True, slots=True, kw_only=True)
class BedReading(Reading):
    occupancy: bool | None = None
    battery: int | None = None
    linkquality: int | None = None


class BedSensor(Zigbee2MqttDevice):
    kind: ClassVar[str] = "bed"
    models: ClassVar[tuple[str, ...]] = ("TS0601_bed_presence_sensor",)
    power: ClassVar[str] = "battery"
    attributes: ClassVar[tuple[str, ...]] = field_names(BedReading)
    events: ClassVar[tuple[str, ...]] = ()

    def decode_state(self, data: dict[str, object]) -> list[Reading]:
        return [
            BedReading(
                occupancy=get_bool(data, "occupancy"),
                battery=get_int(data, "battery", 0, 100),
                linkquality=get_int(data, "linkquality", 0, 255),
            )
        ]
