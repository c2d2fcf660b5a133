"""Zigbee2MQTT's own bridge topics, as Zigbee2MQTT 2.x publishes them, for the demo and the tests.

- `zigbee2mqtt/bridge/devices` (retained): the coordinator, every Zigbee device of the home
  (friendly name = huis device id), and devices that joined but are not in `home.yaml` yet:
  an Aqara motion sensor (an adapter exists) and an Aqara water leak sensor (none does);
- `zigbee2mqtt/bridge/event`: `device_joined`, `device_interview` (started, successful) and
  `device_announce` when a device joins;
- `zigbee2mqtt/bridge/request/permit_join` `{"time": N}` is answered on
  `bridge/response/permit_join` with `{"data": {"time": N}, "status": "ok"}` (and the request's
  `transaction`), or `status: error` for a payload Zigbee2MQTT refuses; while joining is open,
  one more device (an SOS button) joins a few seconds later.

The entries copy Zigbee2MQTT's shape (ieee_address, type, network_address, supported,
friendly_name, definition{model, vendor, description, exposes, options, supports_ota},
power_source, model_id, manufacturer, interview_state, interview_completed...); exposes are
trimmed to what the devices report. Simulators do not import the adapters: the models are copied.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from controller.clock import Clock
from controller.config import HomeConfig, device_topic
from simulators.connection import Connection, encode

log = logging.getLogger(__name__)

BASE = "zigbee2mqtt"
JOIN_AFTER = 3.0  # seconds after permit join opens before the waiting device joins


def _num(name: str, unit: str | None = None, lo: int | None = None, hi: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"access": 1, "label": name.replace("_", " ").capitalize(), "name": name,
                           "property": name, "type": "numeric"}
    if unit:
        out["unit"] = unit
    if lo is not None:
        out["value_min"], out["value_max"] = lo, hi
    return out


def _bin(name: str, on: Any = True, off: Any = False, access: int = 1) -> dict[str, Any]:
    return {"access": access, "label": name.capitalize(), "name": name, "property": name, "type": "binary",
            "value_on": on, "value_off": off}


_BATTERY = [_num("battery", "%", 0, 100), _num("voltage", "mV")]
_LQI = _num("linkquality", "lqi", 0, 255)
_LIGHT = {"type": "light", "features": [_bin("state", "ON", "OFF", 7),
                                        {**_num("brightness", None, 0, 254), "access": 7}]}
_LIGHT_CT = {"type": "light", "features": [*_LIGHT["features"], {**_num("color_temp", "mired", 250, 454), "access": 7}]}

# model -> (vendor, description, model_id, manufacturer, power source, device type, exposes)
DEFINITIONS: dict[str, tuple[str, str, str, str, str, str, list[dict[str, Any]]]] = {
    "RTCGQ11LM": ("Aqara", "Motion sensor", "lumi.sensor_motion.aq2", "LUMI", "Battery", "EndDevice",
                  [*_BATTERY, _bin("occupancy"), _num("illuminance", "lx"), _LQI]),
    "MCCGQ11LM": ("Aqara", "Door and window sensor", "lumi.sensor_magnet.aq2", "LUMI", "Battery", "EndDevice",
                  [*_BATTERY, _bin("contact"), _LQI]),
    "SJCGQ11LM": ("Aqara", "Water leak sensor", "lumi.sensor_wleak.aq1", "LUMI", "Battery", "EndDevice",
                  [*_BATTERY, _bin("water_leak"), _bin("battery_low"), _LQI]),
    "TS0215A_sos": ("Tuya", "SOS button", "TS0215A", "_TZ3000_4fsgukof", "Battery", "EndDevice",
                    [_num("battery", "%", 0, 100), {"access": 1, "name": "action", "property": "action",
                                                    "type": "enum", "values": ["emergency"]}, _LQI]),
    "TS0601_bed_presence_sensor": ("Tuya", "Bed occupancy sensor", "TS0601", "_TZE200_bedpres", "Battery",
                                   "EndDevice", [_num("battery", "%", 0, 100), _bin("occupancy"), _LQI]),
    "ZNCLDJ12LM": ("Aqara", "Curtain driver B1", "lumi.curtain.hagl04", "LUMI", "Mains (single phase)", "Router",
                   [{"type": "cover", "features": [{"access": 7, "name": "position", "property": "position",
                                                    "type": "numeric", "value_min": 0, "value_max": 100}]}, _LQI]),
    "LED1623G12": ("IKEA", "TRADFRI bulb E27, dimmable, opal white, 1000 lm", "TRADFRI bulb E27 opal 1000lm",
                   "IKEA of Sweden", "Mains (single phase)", "Router", [_LIGHT, _LQI]),
    "LED2201G8": ("IKEA", "TRADFRI bulb E27, white spectrum, 1055 lm", "TRADFRI bulb E27 WS globe 1055lm",
                  "IKEA of Sweden", "Mains (single phase)", "Router", [_LIGHT_CT, _LQI]),
}
# The default model per Zigbee kind when home.yaml names none (as the adapters' first model).
_DEFAULT_MODEL = {"bed": "TS0601_bed_presence_sensor", "contact": "MCCGQ11LM", "motion": "RTCGQ11LM",
                  "sos": "TS0215A_sos", "light": "LED1623G12", "curtain": "ZNCLDJ12LM"}

# Joined but not in the demo home.yaml: one huis has an adapter for, one it has none for.
WAITING = (("0x00158d000411086c", "RTCGQ11LM"), ("0x00158d0002b4f1a7", "SJCGQ11LM"))
# Joins while permit join is open.
JOINER = ("0xa4c1388f5e6d2b10", "TS0215A_sos")
COORDINATOR = "0x00124b00120144ae"


def device_entry(ieee: str, friendly_name: str, model: str | None, network_address: int) -> dict[str, Any]:
    """One `bridge/devices` entry the way Zigbee2MQTT 2.x writes it."""
    if model is None or model not in DEFINITIONS:
        return {"ieee_address": ieee, "type": "EndDevice", "network_address": network_address, "supported": False,
                "disabled": False, "friendly_name": friendly_name, "description": None, "definition": None,
                "power_source": None, "model_id": None, "manufacturer": None, "interview_state": "SUCCESSFUL",
                "interviewing": False, "interview_completed": True, "endpoints": {}}
    vendor, description, model_id, manufacturer, power, kind, exposes = DEFINITIONS[model]
    return {
        "ieee_address": ieee, "type": kind, "network_address": network_address, "supported": True,
        "disabled": False, "friendly_name": friendly_name, "description": None,
        "definition": {"source": "native", "model": model, "vendor": vendor, "description": description,
                       "exposes": exposes, "options": [], "supports_ota": vendor == "IKEA"},
        "power_source": power, "model_id": model_id, "manufacturer": manufacturer, "date_code": "20230101",
        "interview_state": "SUCCESSFUL", "interviewing": False, "interview_completed": True,
        "endpoints": {"1": {"bindings": [], "configured_reportings": [], "clusters": {"input": [], "output": []},
                            "scenes": []}},
    }


class BridgeSimulator:
    """Zigbee2MQTT's bridge topics for a home: its device list, join events, permit join."""

    def __init__(self, cfg: HomeConfig, clock: Clock, *, waiting: tuple[tuple[str, str], ...] = WAITING) -> None:
        self.clock = clock
        self.out: Connection | None = None
        self._tg: asyncio.TaskGroup | None = None
        self.entries: list[dict[str, Any]] = [{
            "ieee_address": COORDINATOR, "type": "Coordinator", "network_address": 0, "supported": True,
            "disabled": False, "friendly_name": "Coordinator", "description": None, "definition": None,
            "power_source": None, "model_id": None, "interview_state": "SUCCESSFUL", "interviewing": False,
            "interview_completed": True, "endpoints": {}}]
        for n, (dev_id, dev) in enumerate(cfg.devices.items(), start=1):
            topic = device_topic(dev_id, dev)
            if topic.startswith(f"{BASE}/") and dev.kind in _DEFAULT_MODEL:
                ieee = f"0x00158d00{n:08x}"
                self.entries.append(device_entry(ieee, topic.removeprefix(f"{BASE}/"),
                                                 dev.model or _DEFAULT_MODEL[dev.kind], 1000 + n))
        self.home_devices = len(self.entries) - 1
        for ieee, model in waiting:
            self.entries.append(device_entry(ieee, ieee, model, 30000 + len(self.entries)))
        self.joined = False
        self.requests: list[Mapping[str, Any]] = []

    @property
    def zigbee(self) -> bool:
        """Whether the home has any Zigbee device (else there is no Zigbee2MQTT to simulate)."""
        return self.home_devices > 0

    def start(self, out: Connection, tg: asyncio.TaskGroup) -> None:
        self.out, self._tg = out, tg
        out.subscribe(f"{BASE}/bridge/request/permit_join", self._on_permit_join)
        self.publish_devices()

    def publish_devices(self) -> None:
        if self.out is not None:
            self.out.send(f"{BASE}/bridge/devices", json.dumps(self.entries).encode(), retain=True)

    def event(self, kind: str, **data: Any) -> None:
        if self.out is not None:
            self.out.send(f"{BASE}/bridge/event", encode({"type": kind, "data": data}), qos=0)

    def _on_permit_join(self, topic: str, payload: bytes) -> None:
        try:
            request = json.loads(payload)
        except ValueError:
            request = None
        tx = request.get("transaction") if isinstance(request, dict) else None
        seconds = request.get("time") if isinstance(request, dict) else None
        if isinstance(request, dict):
            self.requests.append(request)
        if not isinstance(seconds, int) or isinstance(seconds, bool) or not 0 <= seconds <= 254:
            reply: dict[str, Any] = {"data": {}, "status": "error", "error": "Invalid payload"}
        else:
            reply = {"data": {"time": seconds}, "status": "ok"}
        if tx is not None:
            reply["transaction"] = tx
        if self.out is not None:
            self.out.send(f"{BASE}/bridge/response/permit_join", encode(reply))
        if reply["status"] == "ok" and seconds and not self.joined and self._tg is not None:
            self.joined = True
            self._tg.create_task(self._join_later(), name="z2m-join")

    async def _join_later(self) -> None:
        await self.clock.sleep_until(self.clock.now() + timedelta(seconds=JOIN_AFTER))
        ieee, model = JOINER
        self.event("device_joined", friendly_name=ieee, ieee_address=ieee)
        self.event("device_interview", friendly_name=ieee, status="started", ieee_address=ieee)
        entry = device_entry(ieee, ieee, model, 40000)
        self.entries.append(entry)
        self.publish_devices()
        definition = entry["definition"]
        self.event("device_interview", friendly_name=ieee, status="successful", ieee_address=ieee,
                   supported=True, definition={k: definition[k] for k in ("model", "vendor", "description",
                                                                          "exposes", "options", "supports_ota")})
        self.event("device_announce", friendly_name=ieee, ieee_address=ieee)
        log.info("simulated Zigbee2MQTT: %s (%s) joined", ieee, model)

