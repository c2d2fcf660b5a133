"""How devices and rooms read in trigger variables and messages: "Hal", not the id "hall".

Shared by the trigger index (a trigger's {trigger.device_name}, {trigger.room_name}) and the
placeholders of messages, so both say a room's name the same way.
"""

from __future__ import annotations

from controller.config import HomeConfig
from controller.engine.compiled import Vars


class DeviceNames:
    """Device and room names in the home's language; device variables cached per device."""

    def __init__(self, cfg: HomeConfig, language: str) -> None:
        self._cfg = cfg
        self._language = language
        self._cache: dict[str, Vars] = {}

    def vars(self, dev: str) -> Vars:
        """A fresh copy of `dev`'s trigger variables: device, device_name, room, room_name."""
        cached = self._cache.get(dev)
        if cached is None:
            d = self._cfg.devices.get(dev)
            room = d.room if d else None
            cached = self._cache[dev] = {
                "device": dev, "device_name": (d.name if d and d.name else dev), "room": room,
                "room_name": self.room_name(room) if room else None}
        return dict(cached)

    def room_name(self, room: str) -> str:
        """A room's name as people read it (its id when the home does not name it)."""
        r = self._cfg.rooms.get(room)
        if r is None:
            return room
        return (r.name_en or r.name) if self._language == "en" else r.name

    def device_name(self, dev: str) -> str | None:
        """A device's name (its id when unnamed); None for a device the home does not have."""
        d = self._cfg.devices.get(dev)
        return (d.name or dev) if d else None
