"""Dimmable lamp: IKEA TRADFRI bulbs through Zigbee2MQTT.

State: {"brightness": 254, "color_mode": "color_temp", "color_temp": 370, "linkquality": 87,
"power_on_behavior": "previous", "state": "ON"}. Commands go to `<topic>/set` in Zigbee2MQTT's
vocabulary: `state` ON/OFF/TOGGLE, `brightness` 0..254, `color_temp` in mireds and `transition`
in seconds. For people and rules we also accept `brightness_percent` 0..100 and `kelvin`
(2000..6500), which this adapter turns into Zigbee2MQTT's brightness and mireds.

Models: LED1623G12 and LED2102G3 are dimmable only; LED2201G8 and LED1545G12 are "white
spectrum" and take a colour temperature of 250 (cool, 4000 K) to 454 mireds (warm, 2200 K).
"""

from __future__ import annotations

from collections.abc import Mapping
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

# Colour-temperature range per model, in mireds, from the Zigbee2MQTT device pages.
COLOR_TEMP: dict[str, tuple[int, int] | None] = {
    "LED1623G12": None,
    "LED2102G3": None,
    "LED2201G8": (250, 454),
    "LED1545G12": (250, 454),
}
# Zigbee2MQTT also takes these names for a white-spectrum bulb's colour temperature.
COLOR_TEMP_NAMES = ("coolest", "cool", "neutral", "warm", "warmest")
# ZCL transition time is a 16-bit count of tenths of a second.
TRANSITION_MAX = 6553.5
COMMAND_KEYS = ("state", "brightness", "brightness_percent", "color_temp", "kelvin", "transition")
KELVIN = (2000, 6500)  # what people mean by warm to daylight white


@dataclass(frozen=True, slots=True, kw_only=True)
class LightReading(Reading):
    state: str | None = None  # ON or OFF
    brightness: int | None = None  # 0..254
    color_temp: int | None = None  # mireds
    color_mode: str | None = None
    linkquality: int | None = None


class Light(Zigbee2MqttDevice):
    kind: ClassVar[str] = "light"
    models: ClassVar[tuple[str, ...]] = tuple(COLOR_TEMP)
    power: ClassVar[str] = "mains"
    attributes: ClassVar[tuple[str, ...]] = field_names(LightReading)
    events: ClassVar[tuple[str, ...]] = ()

    def decode_state(self, data: dict[str, object]) -> list[Reading]:
        f = Fields(data)
        return f.readings(LightReading(
            state=f.choice("state", ("ON", "OFF")),
            # ZCL levels stop at 254, but some firmware reports 255 for "full": accept it
            # rather than drop it.
            brightness=f.whole("brightness", 0, 255),
            # Physically meaningful range (1000 K..20000 K); the model's own range only
            # limits what we ask for, not what a bulb may report after a power cycle.
            color_temp=f.whole("color_temp", 50, 1000),
            color_mode=f.choice("color_mode", ("color_temp", "xy", "hs")),
            linkquality=f.whole("linkquality", 0, 255),
        ))

    def encode(self, spec: DeviceSpec, command: Command) -> list[Outgoing]:
        values = command.values
        check_keys(self.kind, values, COMMAND_KEYS)
        body: dict[str, object] = {}
        state = values.get("state")
        if isinstance(state, bool):
            body["state"] = "ON" if state else "OFF"
        elif state is not None:
            body["state"] = param_choice(values, "state", ("ON", "OFF", "TOGGLE"))
        body.update(_brightness(values))
        body.update(self._colour(spec, values))
        transition = param_number(values, "transition", 0, TRANSITION_MAX)
        if transition is not None:
            if len(body) == 0:
                raise ValueError("'transition' needs something to change (state, brightness, color_temp)")
            body["transition"] = int(transition) if transition == int(transition) else transition
        if not body:
            raise ValueError("a light command needs a value for state, brightness or color_temp")
        return [json_message(f"{spec.topic}/set", body)]

    def _colour(self, spec: DeviceSpec, values: Mapping[str, object]) -> dict[str, object]:
        """`color_temp` (mireds or a name) or `kelvin`, as Zigbee2MQTT's `color_temp`."""
        if values.get("color_temp") is not None and values.get("kelvin") is not None:
            raise ValueError("give 'color_temp' or 'kelvin', not both")
        if values.get("color_temp") is not None:
            return {"color_temp": self._color_temp(spec, values["color_temp"])}
        kelvin = param_number(values, "kelvin", *KELVIN)
        if kelvin is not None:
            return {"color_temp": self._color_temp(spec, round(1_000_000 / kelvin))}
        return {}

    def _color_temp(self, spec: DeviceSpec, value: object) -> int | str:
        model = spec.model or self.models[0]
        span = COLOR_TEMP.get(model)
        if span is None:
            raise ValueError(f"a {model} has no adjustable colour temperature")
        if isinstance(value, str):
            for name in COLOR_TEMP_NAMES:
                if value.casefold() == name:
                    return name
            raise ValueError(f"'color_temp' should be mireds or one of {', '.join(COLOR_TEMP_NAMES)}, "
                             f"got {value!r}")
        mireds = param_number({"color_temp": value}, "color_temp", *span)
        if mireds is None or mireds != int(mireds):
            raise ValueError(f"'color_temp' should be whole mireds, got {value!r}")
        return int(mireds)


def _brightness(values: Mapping[str, object]) -> dict[str, object]:
    """`brightness` (0..254) or `brightness_percent`, as Zigbee2MQTT's `brightness`."""
    if "brightness" in values and "brightness_percent" in values:
        raise ValueError("give 'brightness' or 'brightness_percent', not both")
    brightness = param_number(values, "brightness", 0, 254)
    if brightness is not None:
        if brightness != int(brightness):
            raise ValueError(f"'brightness' should be a whole number, got {brightness}")
        return {"brightness": int(brightness)}
    percent = param_number(values, "brightness_percent", 0, 100)
    if percent is not None:
        return {"brightness": round(percent * 254 / 100)}
    return {}
