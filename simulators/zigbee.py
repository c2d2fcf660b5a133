"""Zigbee devices as Zigbee2MQTT presents them: bed, contact, motion, SOS button, light, curtain.

What the simulators copy from Zigbee2MQTT (https://www.zigbee2mqtt.io/guide/usage/mqtt_topics_and_messages.html):
- state is JSON on `zigbee2mqtt/<name>`, NOT retained (a device's `retain` option defaults to false);
- every state message carries the device's whole cached state (`cache_state` defaults to true),
  so a battery heartbeat also repeats `occupancy`, `contact`, ...;
- availability is `{"state":"online"}` / `{"state":"offline"}` on `<name>/availability`, retained;
- commands arrive on `<name>/set` (JSON, or a bare value meaning `state`, or `<name>/set/<attr>`),
  and after a command Z2M publishes the device's new state; `<name>/get` makes it publish now.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from controller.clock import Clock
from simulators.base import Attr, SimSpec, SimulationError, Simulator

log = logging.getLogger(__name__)


def is_night(local: datetime) -> bool:
    """Night in the demo home: 22:30 until 07:30 local time."""
    minutes = local.hour * 60 + local.minute
    return minutes >= 22 * 60 + 30 or minutes < 7 * 60 + 30


def daylight_lux(local: datetime) -> int:
    """Indoor daylight in lux for a local time: dark at night, a soft curve peaking at 13:00."""
    hour = local.hour + local.minute / 60
    if hour < 7.5 or hour > 18.5:
        return 0
    return round(320 * math.sin(math.pi * (hour - 7.5) / 11))


class ZigbeeSimulator(Simulator):
    """A device behind Zigbee2MQTT."""

    def availability_topic(self) -> str:
        return f"{self.spec.topic}/availability"

    def publish_availability(self, online: bool) -> None:
        # Z2M retains availability so a hub that starts later still knows.
        self.send(self.availability_topic(), {"state": "online" if online else "offline"}, retain=True)

    def state(self) -> dict[str, object]:
        """The device's own attributes (without battery and link quality)."""
        return {}

    def battery_fields(self) -> dict[str, object]:
        return {} if self.battery is None else {"battery": self.battery.percent()}

    def payload(self, **extra: Any) -> dict[str, object]:
        """What Zigbee2MQTT would publish now."""
        return {**self.state(), **self.battery_fields(), "linkquality": self.linkquality(), **extra}

    def publish_state(self, **extra: Any) -> None:
        if self.online and self.out is not None:
            self.send(self.spec.topic, self.payload(**extra))


class AqaraSimulator(ZigbeeSimulator):
    """Aqara/Xiaomi end devices: a heartbeat about every 50 minutes, battery derived from voltage."""

    report_interval: ClassVar[float] = 50 * 60.0

    def battery_fields(self) -> dict[str, object]:
        if self.battery is None:
            return {}
        level = self.battery.level()
        # Z2M maps a CR2032/CR1632 between 2850 mV (0 %) and 3000 mV (100 %); we invert that map.
        return {"battery": round(level), "voltage": round(2850 + 1.5 * level)}


# -- bed ---------------------------------------------------------------------------------------


class BedSimulator(ZigbeeSimulator):
    """Tuya TS0601_bed_presence_sensor: `{"occupancy": true, "battery": 87, "linkquality": 120}`."""

    kind: ClassVar[str] = "bed"
    attributes: ClassVar[tuple[Attr, ...]] = (
        Attr(name="occupancy", type="bool", help="true: someone lies in bed; false: the bed is empty"),
        Attr(name="battery", type="int", lo=0, hi=100, help="put in a battery at this level (%)"),
    )

    def __init__(self, spec: SimSpec, clock: Clock) -> None:
        super().__init__(spec, clock)
        self.occupancy = False

    def initial(self, local: datetime) -> None:
        self.occupancy = is_night(local)

    def state(self) -> dict[str, object]:
        return {"occupancy": self.occupancy}

    def set_occupancy(self, occupied: bool) -> None:
        """Someone gets into (True) or out of (False) bed."""
        self.occupancy = occupied
        self.publish_state()

    async def apply_one(self, name: str, value: Any) -> None:
        if name == "occupancy":
            self.set_occupancy(value)
        else:
            await super().apply_one(name, value)


# -- contact -----------------------------------------------------------------------------------


class ContactSimulator(AqaraSimulator):
    """Aqara MCCGQ11LM door/window contact: `contact` true means closed."""

    kind: ClassVar[str] = "contact"
    attributes: ClassVar[tuple[Attr, ...]] = (
        Attr(name="contact", type="bool", help="true: closed; false: open"),
        Attr(name="battery", type="int", lo=0, hi=100, help="put in a battery at this level (%)"),
    )

    def __init__(self, spec: SimSpec, clock: Clock) -> None:
        super().__init__(spec, clock)
        self.contact = True

    def state(self) -> dict[str, object]:
        return {"contact": self.contact}

    def set_contact(self, closed: bool) -> None:
        """Close (True) or open (False) the door."""
        self.contact = closed
        self.publish_state()

    def open(self) -> None:
        """Open the door."""
        self.set_contact(False)

    def close(self) -> None:
        """Close the door."""
        self.set_contact(True)

    async def apply_one(self, name: str, value: Any) -> None:
        if name == "contact":
            self.set_contact(value)
        else:
            await super().apply_one(name, value)


# -- motion ------------------------------------------------------------------------------------


class MotionSimulator(AqaraSimulator):
    """Aqara RTCGQ11LM motion sensor with illuminance.

    Like the real one: a detection is reported as `occupancy: true`; the sensor is then blind
    for 60 s; Zigbee2MQTT publishes `occupancy: false` when `occupancy_timeout` (90 s by default)
    has passed since the last reported detection. While someone stays in the room, detections
    repeat as soon as the blind time is over.
    """

    kind: ClassVar[str] = "motion"
    attributes: ClassVar[tuple[Attr, ...]] = (
        Attr(name="occupancy", type="bool",
             help="true: a detection now (false follows after the timeout); false: end it now"),
        Attr(name="presence", type="bool",
             help="true: someone stays in the room (detections keep coming); false: they left"),
        Attr(name="illuminance", type="int", lo=0, hi=10000, help="fix the light level (lux)"),
        Attr(name="battery", type="int", lo=0, hi=100, help="put in a battery at this level (%)"),
    )

    blind_time: ClassVar[float] = 60.0

    def __init__(self, spec: SimSpec, clock: Clock) -> None:
        super().__init__(spec, clock)
        self.occupancy = False
        self.present = False
        self.timeout = float(spec.options.get("occupancy_timeout", 90))
        self.lux_override: int | None = None
        self._last_report: datetime | None = None

    def illuminance(self) -> int:
        if self.lux_override is not None:
            return self.lux_override
        return daylight_lux(self.local_now())

    def state(self) -> dict[str, object]:
        lux = self.illuminance()
        return {"occupancy": self.occupancy, "illuminance": lux, "illuminance_lux": lux}

    def detect(self, *, force: bool = False) -> bool:
        """Someone moves in front of the sensor; False when the sensor was still blind."""
        now = self.clock.now()
        if (not force and self._last_report is not None
                and (now - self._last_report).total_seconds() < self.blind_time):
            return False
        self.occupancy = True
        self._last_report = now
        self.publish_state()
        self.later("occupancy_timeout", self.timeout, self._timed_out)
        return True

    def _timed_out(self) -> None:
        self.occupancy = False
        self.publish_state()

    def set_presence(self, present: bool) -> None:
        """Someone enters (True) or leaves (False) the room."""
        self.present = present
        if present:
            self.detect()
            self.spawn("presence", self._keep_detecting())
        else:
            self.cancel("presence")

    async def _keep_detecting(self) -> None:
        while True:
            # One second after the blind time ends, as a person moving about would trigger it.
            await self.clock.sleep(self.blind_time + 1)
            self.detect()

    def clear(self) -> None:
        """End occupancy now, as if the timeout had run out."""
        self.present = False
        self.cancel("presence")
        self.cancel("occupancy_timeout")
        self._timed_out()

    async def apply_one(self, name: str, value: Any) -> None:
        if name == "occupancy":
            # By hand a detection is always reported: whoever types it wants to see it.
            if value:
                self.detect(force=True)
            else:
                self.clear()
        elif name == "presence":
            self.set_presence(value)
        elif name == "illuminance":
            self.lux_override = value
            self.publish_state()
        else:
            await super().apply_one(name, value)


# -- SOS button --------------------------------------------------------------------------------


class SosSimulator(ZigbeeSimulator):
    """Tuya TS0215A_sos: a press publishes `{"action": "emergency", "battery": .., "linkquality": ..}`."""

    kind: ClassVar[str] = "sos"
    attributes: ClassVar[tuple[Attr, ...]] = (
        Attr(name="action", type="choice", choices=("emergency",), help="press the button"),
        Attr(name="battery", type="int", lo=0, hi=100, help="put in a battery at this level (%)"),
    )

    def press(self) -> None:
        """The resident presses the emergency button."""
        # `action` is momentary: Z2M sends it once and does not keep it in the cached state.
        self.publish_state(action="emergency")

    async def apply_one(self, name: str, value: Any) -> None:
        if name == "action":
            self.press()
        else:
            await super().apply_one(name, value)


# -- commands on /set --------------------------------------------------------------------------


class CommandedSimulator(ZigbeeSimulator):
    """A device that obeys `<topic>/set` and answers `<topic>/get`."""

    def subscriptions(self) -> list[str]:
        t = self.spec.topic
        return [f"{t}/set", f"{t}/set/+", f"{t}/get"]

    def handle(self, topic: str, payload: bytes) -> None:
        if not self.online:
            return  # a device off the network never hears the command
        base = self.spec.topic
        if topic == f"{base}/get":
            self.publish_state()
            return
        if topic.startswith(f"{base}/set/"):
            values: dict[str, Any] = {topic.rsplit("/", 1)[1]: _scalar(payload)}
        else:
            try:
                data = json.loads(payload)
            except ValueError:
                data = payload.decode("utf-8", errors="replace").strip()
            # Z2M reads a bare value on /set as the `state` attribute.
            values = data if isinstance(data, dict) else {"state": data}
        try:
            self.command(values)
        except SimulationError as exc:
            # Z2M logs a failed command and publishes nothing for it; so do we.
            log.warning("%s: %s", self.id, exc)

    def command(self, values: Mapping[str, Any]) -> None:
        """Carry out a /set command."""
        raise NotImplementedError

    async def apply(self, values: Mapping[str, Any]) -> None:
        # By hand, the attributes together are one command, as one /set message would be.
        values = dict(values)
        online = values.pop("availability", None)
        if online is not None:
            self.set_online(online == "online")
        battery = values.pop("battery", None)
        if battery is not None:
            await self.apply_one("battery", battery)
        if values:
            self.command(values)
            await self.finished()

    async def finished(self) -> None:
        """Return once what the last command started is over."""


def _scalar(payload: bytes) -> Any:
    text = payload.decode("utf-8", errors="replace").strip()
    try:
        return json.loads(text)
    except ValueError:
        return text


# -- light -------------------------------------------------------------------------------------

# Colour temperature range (mired) per model; None: the model has no colour temperature.
_LIGHT_MODELS: dict[str, tuple[int, int] | None] = {
    "LED1623G12": None,  # TRADFRI bulb E27, white, globe, opal, 1000 lm: state and brightness only
    "LED1545G12": (250, 454),  # TRADFRI bulb E27, white spectrum, 980 lm
    "LED2102G3": None,  # TRADFRI bulb E27, white, 806 lm: state and brightness only
    "LED2201G8": (250, 454),  # TRADFRI bulb E27, white spectrum, 1055 lm
}


# Zigbee2MQTT's names for a white-spectrum bulb's colour temperature (the `color_temp` expose's
# presets): the model's own ends, and three fixed points in mireds.
_COLOR_TEMP_PRESETS = ("coolest", "cool", "neutral", "warm", "warmest")


def _color_temp_preset(value: object, lo: int, hi: int) -> object:
    """A preset name as Zigbee2MQTT turns it into mireds for a bulb of range lo..hi; any other
    value as it is."""
    if not isinstance(value, str):
        return value
    mireds = {"coolest": lo, "cool": 250, "neutral": 370, "warm": 454, "warmest": hi}
    return mireds.get(value.casefold(), value)


class LightSimulator(CommandedSimulator):
    """IKEA TRADFRI LED1623G12 (mains powered): obeys state, brightness, transition.

    Like Zigbee2MQTT, it publishes the new state as soon as the bulb acknowledged the command
    (the target values, also while a `transition` is still running); `brightness` on an off
    bulb switches it on, `brightness: 0` switches it off. `color_temp` is obeyed only by models
    that have it (LED1545G12); for LED1623G12 Z2M has no converter and ignores it with a warning.
    """

    kind: ClassVar[str] = "light"
    power: ClassVar[str] = "mains"
    # Bulbs report on change and at their attribute-reporting interval; five minutes keeps a hub
    # that marks silent mains devices offline after ten minutes honest about a working bulb.
    report_interval: ClassVar[float] = 300.0
    attributes: ClassVar[tuple[Attr, ...]] = (
        Attr(name="state", type="choice", choices=("ON", "OFF", "TOGGLE"), help="switch the light"),
        Attr(name="brightness", type="int", lo=0, hi=254, help="0-254 (0 switches off)"),
        Attr(name="color_temp", type="int", lo=150, hi=500, help="mired, on models that have it"),
    )

    def __init__(self, spec: SimSpec, clock: Clock) -> None:
        super().__init__(spec, clock)
        self.on = False
        self.brightness = 254
        self.color_range = _LIGHT_MODELS.get(spec.model or "LED1623G12")
        self.color_temp = 370 if self.color_range else None
        self.commands: list[dict[str, Any]] = []  # every /set it obeyed, for tests and the tour

    def state(self) -> dict[str, object]:
        out: dict[str, Any] = {"state": "ON" if self.on else "OFF", "brightness": self.brightness}
        if self.color_temp is not None:
            out["color_temp"] = self.color_temp
        return out

    def command(self, values: Mapping[str, Any]) -> None:
        state = values.get("state")
        brightness = values.get("brightness")
        if state is not None:
            if not isinstance(state, str) or state.upper() not in ("ON", "OFF", "TOGGLE"):
                raise SimulationError(f"'state' should be ON, OFF or TOGGLE, got {state!r}")
        if brightness is not None and (isinstance(brightness, bool)
                                       or not isinstance(brightness, int | float)):
            raise SimulationError(f"'brightness' should be a number, got {brightness!r}")
        if "transition" in values:
            t = values["transition"]
            if isinstance(t, bool) or not isinstance(t, int | float) or t < 0:
                raise SimulationError(f"'transition' should be seconds >= 0, got {t!r}")
        if "color_temp" in values:
            if self.color_range is None:
                log.warning("%s: no converter available for 'color_temp' on %s", self.id,
                            self.spec.model or "LED1623G12")
            else:
                lo, hi = self.color_range
                ct = _color_temp_preset(values["color_temp"], lo, hi)
                if isinstance(ct, bool) or not isinstance(ct, int | float):
                    raise SimulationError(f"'color_temp' should be a number or one of "
                                          f"{', '.join(_COLOR_TEMP_PRESETS)}, got {ct!r}")
                self.color_temp = max(lo, min(hi, round(ct)))
        if brightness is not None:
            level = max(0, min(254, round(brightness)))
            if level == 0:
                self.on = False
            else:
                self.brightness = level
                self.on = True
        if isinstance(state, str):
            upper = state.upper()
            self.on = (not self.on) if upper == "TOGGLE" else upper == "ON"
        self.commands.append(dict(values))
        self.publish_state()



# -- curtain -----------------------------------------------------------------------------------


class CurtainSimulator(CommandedSimulator):
    """Aqara ZNCLDJ12LM curtain motor (B1, rechargeable battery). Position 100 is open.

    A command starts a movement over clock time (`travel_time`, 25 s end to end by default);
    while it moves the motor reports `position` with `running: true` every couple of seconds,
    then the final position with `running: false` and `state` OPEN (any opening) or CLOSE.
    """

    kind: ClassVar[str] = "curtain"
    report_interval: ClassVar[float] = 50 * 60.0
    step: ClassVar[float] = 2.0  # seconds between position reports while moving
    attributes: ClassVar[tuple[Attr, ...]] = (
        Attr(name="state", type="choice", choices=("OPEN", "CLOSE", "STOP"), help="move the curtain"),
        Attr(name="position", type="int", lo=0, hi=100, help="0 closed .. 100 open"),
        Attr(name="battery", type="int", lo=0, hi=100, help="put in a battery at this level (%)"),
    )

    def __init__(self, spec: SimSpec, clock: Clock) -> None:
        super().__init__(spec, clock)
        self.position = 0.0
        self.running = False
        self.motor = "stopped"
        self.travel_time = float(spec.options.get("travel_time", 25))

    def initial(self, local: datetime) -> None:
        self.position = 0.0 if is_night(local) else 100.0

    def state(self) -> dict[str, object]:
        pos = round(self.position)
        return {"position": pos, "state": "OPEN" if pos > 0 else "CLOSE",
                "running": self.running, "motor_state": self.motor}

    def command(self, values: Mapping[str, Any]) -> None:
        if "position" in values:
            pos = values["position"]
            if isinstance(pos, bool) or not isinstance(pos, int | float) or not 0 <= pos <= 100:
                raise SimulationError(f"'position' should be 0..100, got {pos!r}")
            self.move_to(float(pos))
            return
        state = values.get("state")
        if not isinstance(state, str) or state.upper() not in ("OPEN", "CLOSE", "STOP"):
            raise SimulationError(f"'state' should be OPEN, CLOSE or STOP, got {state!r}")
        upper = state.upper()
        if upper == "STOP":
            self.stop_moving()
        else:
            self.move_to(100.0 if upper == "OPEN" else 0.0)

    def move_to(self, target: float) -> None:
        """Start moving towards `target` (0..100)."""
        self.spawn("move", self._move(target))

    def stop_moving(self) -> None:
        """Stop where the curtain is."""
        self.cancel("move")
        self._finish()

    def _finish(self) -> None:
        self.running = False
        self.motor = "stopped"
        self.publish_state()

    async def _move(self, target: float) -> None:
        per_step = 100.0 / self.travel_time * self.step
        if abs(target - self.position) < 0.5:
            self.position = target
            self._finish()
            return
        self.running = True
        self.motor = "opening" if target > self.position else "closing"
        self.publish_state()
        while abs(target - self.position) > per_step:
            await self.clock.sleep(self.step)
            self.position += per_step if target > self.position else -per_step
            self.publish_state()
        await self.clock.sleep(self.step * abs(target - self.position) / per_step)
        self.position = target
        self._timers.pop("move", None)
        self._finish()

    async def finished(self) -> None:
        task = self.pending("move")
        if task is not None:
            # By hand, wait until the curtain got there (or was stopped: wait() never raises).
            await asyncio.wait([task])
