"""Curtain motor: Aqara ZNCLDJ12LM (curtain controller B1) through Zigbee2MQTT.

State: {"position": 100, "state": "OPEN", "running": false, "motor_state": "stopped",
"battery": 100, "linkquality": 72}. `position` 100 is fully open, 0 closed (Zigbee2MQTT's
default, unless `invert_cover` is set there; we assume it is not). Commands go to `<topic>/set`:
{"state": "OPEN"|"CLOSE"|"STOP"} or {"position": 0..100}.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from devices.base import (
    Command,
    DeviceSpec,
    Fields,
    Outgoing,
    Reading,
    Zigbee2MqttDevice,
    check_keys,
    field_names,
    json_message,
    param_choice,
    param_number,
)

STATES = ("OPEN", "CLOSE", "STOP")
MOTOR_STATES = ("closing", "opening", "stopped")


@dataclass(frozen=True, slots=True, kw_only=True)
class CurtainReading(Reading):
    state: str | None = None  # OPEN, CLOSE or STOP
    position: int | None = None  # 0 closed .. 100 open
    running: bool | None = None
    motor_state: str | None = None  # closing, opening, stopped
    battery: int | None = None  # %, only with the optional battery pack
    linkquality: int | None = None


class Curtain(Zigbee2MqttDevice):
    kind: ClassVar[str] = "curtain"
    models: ClassVar[tuple[str, ...]] = ("ZNCLDJ12LM",)
    power: ClassVar[str] = "mains"
    attributes: ClassVar[tuple[str, ...]] = field_names(CurtainReading)
    events: ClassVar[tuple[str, ...]] = ()

    def decode_state(self, data: dict[str, object]) -> list[Reading]:
        state = data.get("state")
        if isinstance(state, str) and state.upper() in ("ON", "OFF"):
            # Zigbee2MQTT has been seen publishing a leftover light-style "state": "OFF" for
            # Aqara curtain motors (nurikk/zigbee2mqtt-frontend#1517, Koenkk/zigbee2mqtt#33001)
            # next to a correct `position`. It says nothing about the curtain, and rejecting
            # the message would lose the position, so it is dropped.
            state = None
        f = Fields({**data, "state": state})
        return f.readings(CurtainReading(
            state=f.choice("state", STATES),
            position=f.whole("position", 0, 100),
            running=f.flag("running"),
            motor_state=f.choice("motor_state", MOTOR_STATES),
            battery=f.whole("battery", 0, 100),
            linkquality=f.whole("linkquality", 0, 255),
        ))

    def encode(self, spec: DeviceSpec, command: Command) -> list[Outgoing]:
        values = command.values
        check_keys(self.kind, values, ("state", "position"))
        if len(values) > 1:
            # The motor runs one movement at a time; "close to 40 %" is not a thing it can do.
            raise ValueError("give either 'state' or 'position', not both")
        state = param_choice(values, "state", STATES)
        if state is not None:
            return [json_message(f"{spec.topic}/set", {"state": state})]
        position = param_number(values, "position", 0, 100)
        if position is None:
            raise ValueError("'state' or 'position' needs a value")
        if position != int(position):
            raise ValueError(f"'position' should be a whole percentage, got {position}")
        return [json_message(f"{spec.topic}/set", {"position": int(position)})]
