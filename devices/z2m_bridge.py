"""What Zigbee2MQTT says about itself: its device list, its join events, its permit-join answers.

Zigbee2MQTT (2.x) publishes, under its base topic (`zigbee2mqtt`):

- `bridge/devices`, retained: the whole list of devices it knows, one object each with
  `ieee_address`, `friendly_name`, `type` (Coordinator, Router, EndDevice), `model_id`,
  `supported`, `interview_completed` and `definition` (`model`, `vendor`, `description`,
  `exposes`; null when Zigbee2MQTT has no definition for the device);
- `bridge/event`, not retained: `{"type": "device_joined" | "device_interview" | "device_leave" |
  "device_announce", "data": {"friendly_name", "ieee_address", ...}}`;
- `bridge/response/permit_join`: the answer to `bridge/request/permit_join` `{"time": N}`
  (N seconds, 0 closes; 254 at most), `{"data": {"time": N}, "status": "ok"}` or
  `{"data": {}, "status": "error", "error": "..."}`, with the request's `transaction`.

`Bridge` keeps what was heard (pure: the caller passes the time in); `unknown_devices` tells which
of those devices the home's configuration does not have yet. Proposing a `home.yaml` entry for
one is `devices/onboarding.py`.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from controller.config import HomeConfig, device_topic
from controller.device_kind import DeviceKind
from controller.errors import PayloadError
from devices.base import json_object, show

BASE = "zigbee2mqtt"
PERMIT_MAX = 254  # seconds; Zigbee's own limit for one permit-join (255 would mean "for ever")
EVENT_TYPES = ("device_joined", "device_interview", "device_leave", "device_announce")
_KEPT_EVENTS = 50
_MAX_DEVICES_BYTES = 4 * 1024 * 1024  # a big network's list with exposes is a few hundred kB

# Zigbee2MQTT's "specific" expose types (a composite is only a group of features).
_GENERIC = ("light", "switch", "cover", "lock", "fan", "climate")
# What a device's exposes say it is, for a model no adapter lists: the first match wins.
_LOOKS_LIKE: tuple[tuple[str, str], ...] = (
    ("light", "light"), ("cover", "curtain"), ("contact", "contact"), ("occupancy", "motion"),
    ("presence", "motion"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class BridgeDevice:
    """One device of Zigbee2MQTT's `bridge/devices` list."""

    ieee: str
    friendly_name: str
    type: str  # Coordinator, Router, EndDevice
    model: str | None  # Zigbee2MQTT's model (definition.model), the one huis's adapters list
    model_id: str | None  # what the device itself says (lumi.sensor_motion.aq2)
    vendor: str | None
    description: str | None
    exposes: tuple[str, ...]  # feature names, flattened (occupancy, battery, state, brightness...)
    expose_types: tuple[str, ...]  # generic types (light, cover, switch, ...) when present
    supported: bool
    interview_completed: bool
    power_source: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {"ieee": self.ieee, "friendly_name": self.friendly_name, "type": self.type,
                "model": self.model, "model_id": self.model_id, "vendor": self.vendor,
                "description": self.description, "exposes": list(self.exposes),
                "expose_types": list(self.expose_types), "supported": self.supported,
                "interview_completed": self.interview_completed, "power_source": self.power_source}


@dataclass(frozen=True, slots=True, kw_only=True)
class BridgeEvent:
    """One `bridge/event` message, with when huis heard it."""

    type: str
    ieee: str
    friendly_name: str | None
    status: str | None  # device_interview: started, successful, failed
    at: datetime

    def as_dict(self) -> dict[str, object]:
        return {"type": self.type, "ieee": self.ieee, "friendly_name": self.friendly_name,
                "status": self.status, "at": self.at.isoformat()}


@dataclass(slots=True)
class PermitJoin:
    """The last permit-join request huis sent and what Zigbee2MQTT answered."""

    seconds: int = 0
    transaction: str | None = None
    requested_at: datetime | None = None
    status: str | None = None  # None: no answer yet; 'ok' or 'error'
    error: str | None = None
    until: datetime | None = None  # open until, once Zigbee2MQTT said ok

    def as_dict(self, now: datetime) -> dict[str, object]:
        left = max(0.0, (self.until - now).total_seconds()) if self.until is not None else 0.0
        return {"seconds": self.seconds, "transaction": self.transaction,
                "requested_at": self.requested_at.isoformat() if self.requested_at else None,
                "status": self.status, "error": self.error,
                "until": self.until.isoformat() if self.until else None,
                "open": left > 0, "seconds_left": round(left)}


def _text(data: Mapping[str, object], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None


def _features(exposes: object, names: list[str], types: list[str]) -> None:
    """Collect feature names (and generic types) from an exposes list, recursing into the
    `features` of lights, covers and composites."""
    if not isinstance(exposes, list):
        return
    for item in exposes:
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("features"), list):
            if item.get("type") in _GENERIC and item["type"] not in types:
                types.append(item["type"])
            _features(item["features"], names, types)
            continue
        name = item.get("property") or item.get("name")
        if isinstance(name, str) and name not in names:
            names.append(name)


def parse_device(item: object) -> BridgeDevice:
    """One entry of `bridge/devices`; PayloadError when it has no IEEE address or name."""
    if not isinstance(item, dict):
        raise PayloadError(f"a bridge/devices entry should be an object, got {show(item)}")
    ieee, name = _text(item, "ieee_address"), _text(item, "friendly_name")
    if ieee is None or name is None:
        raise PayloadError(f"a bridge/devices entry without ieee_address or friendly_name: {show(item)}")
    definition = item.get("definition")
    definition = definition if isinstance(definition, dict) else {}
    names: list[str] = []
    types: list[str] = []
    _features(definition.get("exposes"), names, types)
    return BridgeDevice(
        ieee=ieee, friendly_name=name, type=_text(item, "type") or "EndDevice",
        model=_text(definition, "model"), model_id=_text(item, "model_id"),
        vendor=_text(definition, "vendor"), description=_text(definition, "description"),
        exposes=tuple(names), expose_types=tuple(types), supported=item.get("supported") is True,
        interview_completed=item.get("interview_completed") is True,
        power_source=_text(item, "power_source"))


def parse_devices(payload: bytes) -> list[BridgeDevice]:
    """`bridge/devices`: a JSON list of devices; entries that make no sense are skipped, the
    list as a whole must be a list."""
    if len(payload) > _MAX_DEVICES_BYTES:
        raise PayloadError(f"bridge/devices of {len(payload):,} bytes is over the limit")
    try:
        value = json.loads(payload) if payload.strip() else []
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise PayloadError(f"bridge/devices is not JSON: {show(payload[:60])}") from exc
    if not isinstance(value, list):
        raise PayloadError(f"bridge/devices should be a JSON list, got {type(value).__name__}")
    out: list[BridgeDevice] = []
    for item in value:
        try:
            out.append(parse_device(item))
        except PayloadError:
            continue  # one odd entry must not hide the rest of the network
    return out


def parse_event(payload: bytes, now: datetime) -> BridgeEvent:
    """`bridge/event`; PayloadError for a type we do not follow or an event without an address."""
    doc = json_object(payload)
    kind, data = doc.get("type"), doc.get("data")
    if kind not in EVENT_TYPES:
        raise PayloadError(f"bridge/event type {show(kind)} is not one of {', '.join(EVENT_TYPES)}")
    if not isinstance(data, dict) or _text(data, "ieee_address") is None:
        raise PayloadError(f"bridge/event {kind} without data.ieee_address")
    return BridgeEvent(type=str(kind), ieee=str(data["ieee_address"]), friendly_name=_text(data, "friendly_name"),
                       status=_text(data, "status"), at=now)


def permit_payload(seconds: int, transaction: str) -> bytes:
    """The 2.x request body: `{"time": N, "transaction": ...}`; ValueError outside 1..254 (0 closes)."""
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 0 <= seconds <= PERMIT_MAX:
        raise ValueError(f"permit join takes 0..{PERMIT_MAX} seconds (0 closes it), got {seconds!r}")
    return json.dumps({"time": seconds, "transaction": transaction}, separators=(",", ":")).encode()


def adapter_for(model: str | None, kinds: Mapping[str, DeviceKind]) -> str | None:
    """The kind whose adapter lists `model`, or None: huis has no adapter for it."""
    if model is None:
        return None
    for name, adapter in kinds.items():
        if model in adapter.models:
            return name
    return None


def looks_like(device: BridgeDevice) -> str | None:
    """The kind a device's exposes resemble (for a model without an adapter: a hint, no more)."""
    present = set(device.exposes) | set(device.expose_types)
    for feature, kind in _LOOKS_LIKE:
        if feature in present:
            return kind
    return None


def known_topics(cfg: HomeConfig) -> set[str]:
    """The Zigbee2MQTT friendly names the home's devices listen on."""
    prefix = f"{BASE}/"
    return {topic.removeprefix(prefix) for dev_id, dev in cfg.devices.items()
            if (topic := device_topic(dev_id, dev)).startswith(prefix)}


def unknown_devices(devices: Iterable[BridgeDevice], cfg: HomeConfig) -> list[BridgeDevice]:
    """The devices Zigbee2MQTT has that the home does not (by friendly name), coordinator aside."""
    known = known_topics(cfg)
    return [d for d in devices if d.type != "Coordinator" and d.friendly_name not in known]


@dataclass(slots=True)
class Bridge:
    """What huis heard from Zigbee2MQTT's bridge topics; fed by `handle`, times passed in."""

    base: str = BASE
    devices: dict[str, BridgeDevice] = field(default_factory=dict)
    events: deque[BridgeEvent] = field(default_factory=lambda: deque(maxlen=_KEPT_EVENTS))
    permit: PermitJoin = field(default_factory=PermitJoin)
    heard_devices: datetime | None = None  # when bridge/devices last came
    problems: int = 0
    last_problem: str | None = None
    _transactions: int = 0

    @property
    def topics(self) -> list[str]:
        """The topics to subscribe to."""
        return [f"{self.base}/bridge/devices", f"{self.base}/bridge/event",
                f"{self.base}/bridge/response/permit_join"]

    @property
    def request_topic(self) -> str:
        return f"{self.base}/bridge/request/permit_join"

    def handle(self, topic: str, payload: bytes, now: datetime) -> None:
        """Take one message on a bridge topic; a bad one is counted and kept as `last_problem`."""
        try:
            if topic == f"{self.base}/bridge/devices":
                self.devices = {d.ieee: d for d in parse_devices(payload)}
                self.heard_devices = now
            elif topic == f"{self.base}/bridge/event":
                self._event(parse_event(payload, now))
            elif topic == f"{self.base}/bridge/response/permit_join":
                self._response(json_object(payload), now)
        except PayloadError as exc:
            self.problems += 1
            self.last_problem = f"{topic}: {exc}"

    def _event(self, event: BridgeEvent) -> None:
        self.events.append(event)
        if event.type == "device_leave":
            self.devices.pop(event.ieee, None)  # bridge/devices follows; do not show it meanwhile

    def _response(self, doc: Mapping[str, object], now: datetime) -> None:
        tx = doc.get("transaction")
        if self.permit.transaction is not None and tx is not None and str(tx) != self.permit.transaction:
            return  # someone else's request (Zigbee2MQTT's frontend)
        status = doc.get("status")
        data = doc.get("data") if isinstance(doc.get("data"), dict) else {}
        assert isinstance(data, dict)
        if status == "ok":
            seconds = data.get("time")
            seconds = seconds if isinstance(seconds, int) and not isinstance(seconds, bool) else self.permit.seconds
            self.permit.status, self.permit.error = "ok", None
            self.permit.until = now + timedelta(seconds=seconds) if seconds > 0 else None
        else:
            error = doc.get("error")
            self.permit.status = "error"
            self.permit.error = error if isinstance(error, str) else f"status {show(status)}"
            self.permit.until = None

    def request_permit(self, seconds: int, now: datetime) -> tuple[str, bytes]:
        """Record a permit-join request and return (topic, payload) to publish; ValueError for
        a time outside 0..254."""
        self._transactions += 1
        transaction = f"huis-{now.strftime('%H%M%S')}-{self._transactions}"
        payload = permit_payload(seconds, transaction)
        self.permit = PermitJoin(seconds=seconds, transaction=transaction, requested_at=now)
        return self.request_topic, payload

    def new_devices(self, cfg: HomeConfig) -> list[BridgeDevice]:
        """Devices Zigbee2MQTT knows and the home does not, in the order Zigbee2MQTT lists them."""
        return unknown_devices(self.devices.values(), cfg)
