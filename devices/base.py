"""What every device adapter provides, and the values adapters produce.

An adapter turns one device's MQTT messages into typed readings (a pure function of topic and
payload) and commands into MQTT messages. It does no I/O: the MQTT link and the hub do that.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import fields
from datetime import datetime
from typing import ClassVar, TypeVar

from controller.device_kind import (
    Availability,
    Command,
    DeviceEvent,
    DeviceKind,
    DeviceSpec,
    Dropped,
    Outgoing,
    Reading,
)
from controller.errors import PayloadError

_T = TypeVar("_T")

# The contract lives in the kernel; adapters import it from here with their helpers.
__all__ = ["Availability", "Command", "DeviceEvent", "DeviceKind", "DeviceSpec", "Dropped", "Fields", "Outgoing",
           "Reading"]

# Nesting deeper than any device's payload; Python's JSON parser would recurse until a
# RecursionError (a traceback in the log) on a payload of a few kilobytes of '['.
MAX_JSON_DEPTH = 32


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
    depth = _json_depth(payload)
    if depth > MAX_JSON_DEPTH:
        raise PayloadError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep ({len(payload):,} bytes)")
    try:
        value = json.loads(payload)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise PayloadError(f"not JSON: {_preview(payload)}") from exc
    if not isinstance(value, dict):
        raise PayloadError(f"expected a JSON object, got {type(value).__name__}: {_preview(payload)}")
    return value


def _json_depth(payload: bytes) -> int:
    """How deep brackets nest (strings skipped); cheap when there are few brackets at all."""
    if payload.count(b"[") + payload.count(b"{") <= MAX_JSON_DEPTH:
        return 0
    depth = deepest = 0
    in_string = escaped = False
    for byte in payload:
        if in_string:
            escaped, in_string = (False, True) if escaped else (byte == 0x5C, byte != 0x22)
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def show(value: object, limit: int = 60) -> str:
    """The repr of a value a device sent, cut to about `limit` characters: a 1 MB string must
    not come back as a 1 MB log line, history row or `last_error`."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def _preview(payload: bytes, limit: int = 60) -> str:
    text = payload[:limit].decode("utf-8", errors="replace")
    return repr(text + ("..." if len(payload) > limit else ""))


def get_bool(data: Mapping[str, object], key: str) -> bool | None:
    """A boolean attribute, None when absent; PayloadError when of the wrong type."""
    value = data.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise PayloadError(f"'{key}' should be true or false, got {show(value)}")


def get_number(
    data: Mapping[str, object], key: str, lo: float | None = None, hi: float | None = None
) -> float | None:
    """A numeric attribute within [lo, hi], None when absent; PayloadError otherwise."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PayloadError(f"'{key}' should be a number, got {show(value)}")
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
    raise PayloadError(f"'{key}' should be one of {', '.join(choices)}, got {show(value)}")


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
        raise PayloadError(f"'{key}' should be a string, got {show(value)}")
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
        raise PayloadError(f"'{key}' should be an ISO 8601 time string, got {show(value)}")
    try:
        when = datetime.fromisoformat(value)
    except ValueError as exc:
        raise PayloadError(f"'{key}' is not an ISO 8601 time: {show(value)}") from exc
    if when.tzinfo is None or when.utcoffset() is None:
        raise PayloadError(f"'{key}' has no UTC offset: {show(value)} (add e.g. '+01:00' or 'Z')")
    return when


class Fields:
    """A message's attributes decoded one by one: a bad one is dropped (and said why), the
    others are kept, so `{"action": "emergency", "battery": 100.5}` is still a press."""

    def __init__(self, data: Mapping[str, object]) -> None:
        self.data = data
        self.dropped: list[Dropped] = []

    def _keep(self, key: str, decode: Callable[[], _T]) -> _T | None:
        try:
            return decode()
        except PayloadError as exc:
            self.dropped.append(Dropped(attribute=key, reason=str(exc)))
            return None

    def flag(self, key: str) -> bool | None:
        """A boolean attribute (see get_bool)."""
        return self._keep(key, lambda: get_bool(self.data, key))

    def whole(self, key: str, lo: int | None = None, hi: int | None = None) -> int | None:
        """An integer attribute (see get_int)."""
        return self._keep(key, lambda: get_int(self.data, key, lo, hi))

    def number(self, key: str, lo: float | None = None, hi: float | None = None) -> float | None:
        """A numeric attribute (see get_number)."""
        return self._keep(key, lambda: get_number(self.data, key, lo, hi))

    def choice(self, key: str, choices: tuple[str, ...]) -> str | None:
        """A string from a fixed vocabulary (see get_choice)."""
        return self._keep(key, lambda: get_choice(self.data, key, choices))

    def text(self, key: str, max_len: int = 200) -> str | None:
        """A short string (see get_str)."""
        return self._keep(key, lambda: get_str(self.data, key, max_len))

    def time(self, key: str) -> datetime | None:
        """A timestamp with an offset (see get_time)."""
        return self._keep(key, lambda: get_time(self.data, key))

    def drop(self, key: str, reason: str) -> None:
        """Leave `key` out for `reason` (a check of the adapter's own)."""
        self.dropped.append(Dropped(attribute=key, reason=reason))

    def readings(self, *readings: Reading) -> list[Reading]:
        """`readings`, then what was dropped; PayloadError when nothing usable is left."""
        if self.dropped and not any(r.attributes() for r in readings):
            raise PayloadError("; ".join(d.reason for d in self.dropped))
        return [*readings, *self.dropped]


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
        raise PayloadError(f"availability 'state' should be online or offline, got {show(state)}")
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
