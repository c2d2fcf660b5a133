"""Bed occupancy sensor: Tuya TS0601_bed_presence_sensor through Zigbee2MQTT.

Payload: {"occupancy": true, "battery": 87, "linkquality": 120}. `occupancy` false means the
bed is empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from devices.base import Fields, Reading, Zigbee2MqttDevice, field_names


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
        f = Fields(data)
        return f.readings(BedReading(
            occupancy=f.flag("occupancy"),
            battery=f.whole("battery", 0, 100),
            linkquality=f.whole("linkquality", 0, 255),
        ))
