"""Motion and light-level sensor: Aqara RTCGQ11LM through Zigbee2MQTT.

Payload: {"battery": 100, "voltage": 3055, "illuminance": 7, "illuminance_lux": 7,
"linkquality": 26, "occupancy": true}. The sensor reports motion, then sleeps for 60 s;
Zigbee2MQTT itself sends `occupancy: false` after its `occupancy_timeout` (default 90 s).
On this model `illuminance` and `illuminance_lux` are both lux; newer Zigbee2MQTT releases
may send only `illuminance`, so either may be absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from devices.base import Fields, Reading, Zigbee2MqttDevice, field_names

# The sensor's photodiode saturates far below 100 klx (direct sunlight); more is garbage.
LUX_MAX = 100_000
VOLTAGE_MV = (1000, 5000)


@dataclass(frozen=True, slots=True, kw_only=True)
class MotionReading(Reading):
    occupancy: bool | None = None
    illuminance: int | None = None  # lx
    illuminance_lux: int | None = None  # lx, when Zigbee2MQTT sends it separately
    battery: int | None = None  # %
    voltage: int | None = None  # mV
    linkquality: int | None = None


class MotionSensor(Zigbee2MqttDevice):
    kind: ClassVar[str] = "motion"
    models: ClassVar[tuple[str, ...]] = ("RTCGQ11LM",)
    power: ClassVar[str] = "battery"
    attributes: ClassVar[tuple[str, ...]] = field_names(MotionReading)
    events: ClassVar[tuple[str, ...]] = ()

    def decode_state(self, data: dict[str, object]) -> list[Reading]:
        f = Fields(data)
        return f.readings(MotionReading(
            occupancy=f.flag("occupancy"),
            illuminance=f.whole("illuminance", 0, LUX_MAX),
            illuminance_lux=f.whole("illuminance_lux", 0, LUX_MAX),
            battery=f.whole("battery", 0, 100),
            voltage=f.whole("voltage", *VOLTAGE_MV),
            linkquality=f.whole("linkquality", 0, 255),
        ))
