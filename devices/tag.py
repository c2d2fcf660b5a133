"""Wander-detection BLE tag, located by ESPresense receivers.

Each ESPresense receiver (one ESP32 per room) publishes what it hears on
`espresense/devices/<tag id>/<receiver room>`:
{"mac": "dd8800003777", "id": "iBeacon:...-3838-4949", "rssi@1m": -59, "rssi": -81.1,
"raw": 9.12, "distance": 6.58, "var": 4.0, "int": 2028}. Older firmware also sends `speed` and
`interval`. A receiver only publishes while it hears the tag, and says nothing when the tag
leaves, so where the tag *is* depends on time and history: this adapter `refreshes`.

Derived attributes (see docs/devices.md):
- `sightings`: receiver -> {"room", "distance", "rssi", "at"} for receivers heard within
  `stale_after` (option, default 30 s);
- `room`: the huis room of the nearest fresh receiver, or "outside/unknown" when none is fresh;
- `receiver`, `distance`: that receiver's id and distance in metres (None when outside).

Receiver names are ESPresense room ids, chosen when the ESP32 was flashed; the option
`rooms: {espresense_room: huis_room_id}` maps them, and unmapped names are used as they are.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from controller.durations import parse_duration
from controller.errors import PayloadError
from devices.base import (
    Command,
    DeviceSpec,
    Fields,
    Outgoing,
    Reading,
    get_number,
    json_object,
    show,
)

OUTSIDE = "outside/unknown"
DEFAULT_STALE_AFTER = timedelta(seconds=30)
# ESPresense drops anything beyond its max_distance (16 m by default); 100 m is a broken filter.
DISTANCE_MAX_M = 100.0
# ESPresense room ids are short names ('hall', 'living_room'); the topic's last level is one.
RECEIVER_MAX = 64
# More receivers hearing one tag at once than any home has rooms: the rest are forgotten, so a
# flood of made-up receiver names cannot grow the tag's state without end.
RECEIVERS_MAX = 32


@dataclass(frozen=True, slots=True, kw_only=True)
class TagSighting(Reading):
    """One receiver hearing the tag once."""

    receiver: str  # ESPresense room id, from the topic
    distance: float  # metres, ESPresense's filtered estimate
    rssi: float | None = None  # dBm
    id: str | None = None  # ESPresense's fingerprint id of the tag
    name: str | None = None
    mac: str | None = None
    raw: float | None = None  # unfiltered distance estimate, metres
    speed: float | None = None
    interval: float | None = None  # ms between advertisements


@dataclass(frozen=True, slots=True, kw_only=True)
class TagOptions:
    stale_after: timedelta
    rooms: Mapping[str, str]


def tag_options(spec: DeviceSpec) -> TagOptions:
    """The tag's options, validated; ValueError naming the device when one is wrong."""
    opts = spec.options
    try:
        stale = parse_duration(opts.get("stale_after", DEFAULT_STALE_AFTER))
    except ValueError as exc:
        raise ValueError(f"{spec.id}: options.stale_after: {exc}") from exc
    if stale <= timedelta(0):
        raise ValueError(f"{spec.id}: options.stale_after must be longer than 0s")
    rooms = opts.get("rooms", {})
    if not isinstance(rooms, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and k and v for k, v in rooms.items()
    ):
        raise ValueError(f"{spec.id}: options.rooms should map ESPresense room ids to huis room ids, "
                         f"got {rooms!r}")
    return TagOptions(stale_after=stale, rooms=dict(rooms))


class WanderTag:
    kind: ClassVar[str] = "tag"
    models: ClassVar[tuple[str, ...]] = ("espresense",)
    power: ClassVar[str] = "battery"
    heartbeat: ClassVar[bool] = False  # ESPresense says nothing when no receiver hears the tag
    refreshes: ClassVar[bool] = True
    # Derived by refresh(), not decoded: see the module docstring.
    attributes: ClassVar[tuple[str, ...]] = ("room", "receiver", "distance", "sightings")
    events: ClassVar[tuple[str, ...]] = ()

    def subscriptions(self, spec: DeviceSpec) -> list[str]:
        # The hub builds its routes once at start-up: a good moment to refuse bad options,
        # rather than fail on the first sighting in the middle of the night.
        tag_options(spec)
        return [f"{spec.topic}/+"]

    def decode(self, spec: DeviceSpec, topic: str, payload: bytes) -> list[Reading]:
        prefix = f"{spec.topic}/"
        receiver = topic[len(prefix):] if topic.startswith(prefix) else ""
        if not receiver or "/" in receiver:
            raise PayloadError(f"expected a topic {prefix}<room>, got {show(topic)}")
        if len(receiver) > RECEIVER_MAX:
            raise PayloadError(f"receiver name of {len(receiver):,} characters (at most {RECEIVER_MAX})")
        data = json_object(payload)
        distance = get_number(data, "distance", 0, DISTANCE_MAX_M)
        if distance is None:
            raise PayloadError("no 'distance' in the sighting")
        # ESPresense 4.x calls the advertising interval `int`; other tools (and our simulator) `interval`.
        interval_key = "interval" if "interval" in data else "int"
        # Without a distance there is no sighting; any other attribute is dropped on its own.
        f = Fields(data)
        return f.readings(
            TagSighting(
                receiver=receiver,
                distance=distance,
                rssi=f.number("rssi", -150, 20),
                id=f.text("id"),
                name=f.text("name"),
                mac=f.text("mac", 40),
                raw=f.number("raw", 0),
                speed=f.number("speed"),
                interval=f.number(interval_key, 0),
            )
        )

    def encode(self, spec: DeviceSpec, command: Command) -> list[Outgoing]:
        raise ValueError("a tag takes no commands")

    def refresh(
        self, spec: DeviceSpec, attributes: Mapping[str, object], readings: list[Reading], now: datetime
    ) -> dict[str, object]:
        """Fold new sightings into the recent ones, forget stale ones, pick the nearest."""
        opts = tag_options(spec)
        sightings: dict[str, dict[str, object]] = {}
        previous = attributes.get("sightings")
        if isinstance(previous, Mapping):
            for receiver, seen in previous.items():
                at = _parse_at(seen)
                if at is not None and now - at <= opts.stale_after:
                    # A copy (never edit the state store's dicts), re-mapped in case the
                    # room mapping changed since.
                    sightings[receiver] = {**seen, "room": opts.rooms.get(receiver, receiver)}
        for reading in readings:
            if isinstance(reading, TagSighting):
                sightings[reading.receiver] = {
                    "room": opts.rooms.get(reading.receiver, reading.receiver),
                    "distance": reading.distance,
                    "rssi": reading.rssi,
                    "at": now.isoformat(),
                }
        if not sightings:
            return {"sightings": {}, "room": OUTSIDE, "receiver": None, "distance": None}
        if len(sightings) > RECEIVERS_MAX:
            recent = sorted(sightings, key=lambda r: str(sightings[r].get("at", "")), reverse=True)
            sightings = {r: sightings[r] for r in recent[:RECEIVERS_MAX]}
        # Nearest wins; on a tie the stronger signal, then the name, so the answer is stable.
        receiver, seen = min(sightings.items(), key=_nearest_first)
        return {"sightings": sightings, "room": seen["room"], "receiver": receiver,
                "distance": seen["distance"]}


def _nearest_first(item: tuple[str, Mapping[str, object]]) -> tuple[float, float, str]:
    """Sort key: distance, then the stronger signal, then the receiver's name."""
    receiver, seen = item
    distance, rssi = seen["distance"], seen["rssi"]
    # Both were checked to be numbers (or rssi None) when the sighting was made or restored.
    near = float(distance) if isinstance(distance, int | float) else math.inf
    signal = float(rssi) if isinstance(rssi, int | float) else None
    return (near, -(signal or -1000.0), receiver)


def _parse_at(seen: object) -> datetime | None:
    # Attributes may come back from storage or another version of huis: skip what we cannot read.
    if not isinstance(seen, Mapping) or not isinstance(seen.get("distance"), int | float):
        return None
    try:
        at = datetime.fromisoformat(seen["at"])
    except (KeyError, TypeError, ValueError):
        return None
    return at if at.tzinfo is not None else None
