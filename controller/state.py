"""The hub's picture of the home: each device's latest reading, last_seen and availability."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(slots=True, kw_only=True)
class DeviceState:
    """What we know about one device. Mutable: the state store owns and updates it."""

    device: str
    kind: str
    room: str | None
    attributes: dict[str, object] = field(default_factory=dict)
    last_seen: datetime | None = None
    available: bool | None = None  # None: the device never said
    reports_availability: bool = False  # it (Zigbee2MQTT for it) publishes <topic>/availability
    payload_errors: int = 0
    last_error: str | None = None

    def as_dict(self) -> dict[str, object]:
        """A JSON-friendly copy."""
        return {
            "device": self.device,
            "kind": self.kind,
            "room": self.room,
            "attributes": dict(self.attributes),
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
            "available": self.available,
            "payload_errors": self.payload_errors,
            "last_error": self.last_error,
        }


class StateStore:
    """Latest known state per device."""

    def __init__(self) -> None:
        self._devices: dict[str, DeviceState] = {}

    def add(self, device: str, kind: str, room: str | None) -> DeviceState:
        """Register a device with no reading yet."""
        st = DeviceState(device=device, kind=kind, room=room)
        self._devices[device] = st
        return st

    def get(self, device: str) -> DeviceState:
        """The state of `device`; KeyError when it is not configured."""
        return self._devices[device]

    def __contains__(self, device: object) -> bool:
        return device in self._devices

    def all(self) -> list[DeviceState]:
        """Every device, in configuration order."""
        return list(self._devices.values())

    def attribute(self, device: str, name: str) -> object:
        """One attribute of one device, None when unknown."""
        st = self._devices.get(device)
        return None if st is None else st.attributes.get(name)

    def update(
        self, device: str, attributes: Mapping[str, object], seen: datetime | None
    ) -> dict[str, tuple[object, object]]:
        """Merge new attribute values (heard from the device at `seen`, if it was heard);
        return {name: (old, new)} for those that changed."""
        st = self._devices[device]
        if seen is not None:
            st.last_seen = seen
        changed: dict[str, tuple[object, object]] = {}
        attrs = st.attributes
        for name, value in attributes.items():
            old = attrs.get(name)
            if old != value or name not in attrs:
                attrs[name] = value
                changed[name] = (old, value)
        return changed
