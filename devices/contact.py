"""Door/window contact: Aqara MCCGQ11LM through Zigbee2MQTT.

Payload: {"battery": 100, "contact": false, "device_temperature": 26, "linkquality": 153,
"power_outage_count": 6889, "voltage": 3035}. Zigbee2MQTT's `contact` is true when the magnet is
against the sensor, i.e. the door is *closed*; we add `open` (its negation) because rules and the
floor plan speak of doors being open, and a double negative in a rule is a bug waiting to happen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from devices.base import Fields, Reading, Zigbee2MqttDevice, field_names

# A CR1632 cell reads about 3.0 V new and is empty well before 2.5 V; anything above 5 V or far
# below is a decoding error, not a battery.
VOLTAGE_MV = (1000, 5000)


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactReading(Reading):
    contact: bool | None = None  # Zigbee2MQTT: true = closed
    open: bool | None = None  # derived: not contact
    battery: int | None = None  # %
    voltage: int | None = None  # mV
    linkquality: int | None = None


class ContactSensor(Zigbee2MqttDevice):
    kind: ClassVar[str] = "contact"
    models: ClassVar[tuple[str, ...]] = ("MCCGQ11LM",)
    power: ClassVar[str] = "battery"
    attributes: ClassVar[tuple[str, ...]] = field_names(ContactReading)
    events: ClassVar[tuple[str, ...]] = ()

    def decode_state(self, data: dict[str, object]) -> list[Reading]:
        f = Fields(data)
        contact = f.flag("contact")
        return f.readings(ContactReading(
            contact=contact,
            open=None if contact is None else not contact,
            battery=f.whole("battery", 0, 100),
            voltage=f.whole("voltage", *VOLTAGE_MV),
            linkquality=f.whole("linkquality", 0, 255),
        ))
