"""What every device adapter provides, and the values adapters produce.

An adapter turns one device's MQTT messages into typed readings (a pure function of topic and
payload) and commands into MQTT messages. It does no I/O: the MQTT link and the hub do that.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import fields
from datetime import datetime
from typing import ClassVar

from controller.device_kind import (
    Availability,
    Command,
    DeviceEvent,
    DeviceKind,
    DeviceSpec,
    Outgoing,
    Reading,
)
from controller.errors import PayloadError

# The contract lives in the kernel; adapters import it from here with their helpers.
__all__ = ["Availability", "Command", "DeviceEvent", "DeviceKind", "DeviceSpec", "Outgoing", "Reading"]


def field_names(reading: type[Reading]) -> tuple[str, ...]:
    """The attribute names a Reading subclass can carry.

    Adapters publish these as `attributes: ClassVar[tuple[str, ...]]` (and their momentary
    event names as `events`), which the scenario loader uses to catch a misspelt attribute when
    a scenario is loaded rather than when it never fires.
    """
    return tuple(f.name for f in fields(reading))


def json_object(payload: bytes) -> dict[str, object]:
    """Decode a JSON object payload or raise PayloadError saying why not."""
    if not payload.strip():
        # Zigbee2MQTT publishes an empty retained message to clear a device's topic when it is
        # removed or renamed there; say so, because the fix is in Zigbee2MQTT, not in huis.
        raise PayloadError("empty payload (a removed or renamed device in Zigbee2MQTT clears "
                           "its topic this way)")
    try:
        value = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise PayloadError(f"not JSON: {_preview(payload)}") from exc
    if not isinstance(value, dict):
        raise PayloadError(f"expected a JSON object, got {type(value).__name__}: {_preview(payload)}")
    return value


def _preview(payload: bytes, limit: int = 60) -> str:
    text = payload[:limit].decode("utf-8", errors="replace")
    return repr(text + ("..." if len(payload) > limit else ""))


def get_bool(data: Mapping[str, object], key: str) -> bool | None:
    """A boolean attribute, None when absent; PayloadError when of the wrong type."""
    value = data.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise PayloadError(f"'{key}' should be true or false, got {value!r}")


def get_number(
    data: Mapping[str, object], key: str, lo: float | None = None, hi: float | None = None
) -> float | None:
    """A numeric attribute within [lo, hi], None when absent; PayloadError otherwise."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PayloadError(f"'{key}' should be a number, got {value!r}")
    if not math.isfinite(value):  # Python's json accepts NaN and Infinity; devices never mean them
        raise PayloadError(f"'{key}' should be a finite number, got {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise PayloadError(f"'{key}' = {value} is outside {lo}..{hi}")
    return float(value)


def get_int(
    data: Mapping[str, object], key: str, lo: int | None = None, hi: int | None = None
) -> int | None:
    """An integer attribute within [lo, hi] (floats rounded), None when absent."""
    value = get_number(data, key, lo, hi)
    return None if value is None else round(value)


def get_choice(data: Mapping[str, object], key: str, choices: tuple[str, ...]) -> str | None:
    """A string attribute from a fixed vocabulary (case-insensitive), None when absent.

    Returns the spelling used in `choices`, so ('OPEN', 'CLOSE') yields 'OPEN' for 'open' and
    ('closed', 'open') yields 'closed' for 'CLOSED'.
    """
    value = data.get(key)
    if value is None:
        return None
    if (choice := _choice(value, choices)) is not None:
        return choice
    raise PayloadError(f"'{key}' should be one of {', '.join(choices)}, got {value!r}")


def _choice(value: object, choices: tuple[str, ...]) -> str | None:
    """The entry of `choices` that `value` spells, ignoring case; None when none does."""
    if isinstance(value, str):
        for choice in choices:
            if value.casefold() == choice.casefold():
                return choice
    return None


def get_str(data: Mapping[str, object], key: str, max_len: int = 200) -> str | None:
    """A non-empty string attribute of at most `max_len` characters, None when absent."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise PayloadError(f"'{key}' should be a string, got {value!r}")
    if not value or len(value) > max_len:
        raise PayloadError(f"'{key}' should be 1..{max_len} characters, got {len(value)}")
    return value


def get_time(data: Mapping[str, object], key: str) -> datetime | None:
    """An ISO 8601 timestamp with a UTC offset, None when absent.

    A time without an offset is rejected: a dispenser in Amsterdam and a hub in UTC would
    otherwise disagree by an hour or two about when a dose was taken.
    """
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise PayloadError(f"'{key}' should be an ISO 8601 time string, got {value!r}")
    try:
        when = datetime.fromisoformat(value)
    except ValueError as exc:
        raise PayloadError(f"'{key}' is not an ISO 8601 time: {value!r}") from exc
    if when.tzinfo is None or when.utcoffset() is None:
        raise PayloadError(f"'{key}' has no UTC offset: {value!r} (add e.g. '+01:00' or 'Z')")
    return when


def json_message(topic: str, body: Mapping[str, object], *, retain: bool = False) -> Outgoing:
    """A command as compact JSON at QoS 1 (delivered at least once, as Zigbee2MQTT expects)."""
    payload = json.dumps(dict(body), separators=(",", ":"), ensure_ascii=False).encode()
    return Outgoing(topic=topic, payload=payload, qos=1, retain=retain)


class Zigbee2MqttDevice:
    """Shared topic handling for Zigbee2MQTT devices: state on `<topic>`, `<topic>/availability`."""

    kind: ClassVar[str]
    models: ClassVar[tuple[str, ...]]
    power: ClassVar[str] = "battery"
    attributes: ClassVar[tuple[str, ...]] = ()
    events: ClassVar[tuple[str, ...]] = ()
    # Zigbee2MQTT reports availability itself; a sleeping battery sensor has no heartbeat.
    heartbeat: ClassVar[bool] = False
    refreshes: ClassVar[bool] = False

    def subscriptions(self, spec: DeviceSpec) -> list[str]:
        return [spec.topic, f"{spec.topic}/availability"]

    def decode(self, spec: DeviceSpec, topic: str, payload: bytes) -> list[Reading]:
        if topic == f"{spec.topic}/availability":
            return [decode_availability(payload)]
        return self.decode_state(json_object(payload))

    def decode_state(self, data: dict[str, object]) -> list[Reading]:
        """Readings in a Zigbee2MQTT state object."""
        raise NotImplementedError

    def encode(self, spec: DeviceSpec, command: Command) -> list[Outgoing]:
        raise ValueError(f"a {self.kind} device takes no commands")

    def refresh(
        self, spec: DeviceSpec, attributes: Mapping[str, object], readings: list[Reading], now: datetime
    ) -> dict[str, object]:
        return merged(readings)


def merged(readings: list[Reading]) -> dict[str, object]:
    """The attributes of `readings`, later ones winning: what a kind without history derives."""
    out: dict[str, object] = {}
    for reading in readings:
        out.update(reading.attributes())
    return out


def decode_availability(payload: bytes) -> Availability:
    """Zigbee2MQTT availability: `{"state": "online"}`, or the legacy plain `online`/`offline`."""
    text = payload.strip()
    if text in (b"online", b"offline"):
        return Availability(online=text == b"online")
    data = json_object(payload)
    state = data.get("state")
    if state not in ("online", "offline"):
        raise PayloadError(f"availability 'state' should be online or offline, got {state!r}")
    return Availability(online=state == "online")


# -- commands: the same checks, but a bad command is the caller's mistake, so ValueError --------


def check_keys(kind: str, values: Mapping[str, object], allowed: tuple[str, ...]) -> None:
    """Raise ValueError when a command is empty or names something `kind` cannot do."""
    if not values:
        raise ValueError(f"a {kind} command needs at least one of: {', '.join(allowed)}")
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise ValueError(f"a {kind} cannot do {', '.join(map(repr, unknown))}; "
                         f"it understands {', '.join(allowed)}")


def param_number(values: Mapping[str, object], key: str, lo: float, hi: float) -> float | None:
    """A numeric command value within [lo, hi], None when absent; ValueError otherwise."""
    value = values.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"'{key}' should be a number, got {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"'{key}' = {value} is outside {lo:g}..{hi:g}")
    return float(value)


def param_choice(values: Mapping[str, object], key: str, choices: tuple[str, ...]) -> str | None:
    """A command value from a fixed vocabulary (case-insensitive), None when absent."""
    value = values.get(key)
    if value is None:
        return None
    if (choice := _choice(value, choices)) is not None:
        return choice
    raise ValueError(f"'{key}' should be one of {', '.join(choices)}, got {value!r}")
