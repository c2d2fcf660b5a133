"""What scenarios may test per device kind: attribute names and momentary event names.

The adapters in `devices/` are the authority: an adapter class that declares
`attributes: ClassVar[tuple[str, ...]]` or `events: ClassVar[tuple[str, ...]]` wins over the
table below, which mirrors the readings the adapters produce today.
"""

from __future__ import annotations

from collections.abc import Mapping

# Every device: availability is kept by the hub, not by the adapter.
COMMON = ("available",)

_ATTRIBUTES: Mapping[str, tuple[str, ...]] = {
    "bed": ("occupancy", "battery", "linkquality"),
    "contact": ("contact", "open", "battery", "voltage", "linkquality"),
    "motion": ("occupancy", "illuminance", "illuminance_lux", "battery", "voltage", "linkquality"),
    "sos": ("battery", "voltage", "linkquality"),
    "button": ("battery", "voltage", "linkquality"),
    "light": ("state", "brightness", "color_temp", "color_mode", "linkquality"),
    "curtain": ("state", "position", "running", "motor_state", "battery", "linkquality"),
    "tag": ("room", "receiver", "distance", "sightings"),
    "dispenser": ("doses_left", "next_dose", "battery", "door", "alarm"),
    "speaker": ("volume", "speaking"),
}
_EVENTS: Mapping[str, tuple[str, ...]] = {
    "sos": ("emergency",),
    "button": ("single", "double", "hold", "long", "release", "action"),
    "dispenser": ("dose_due", "dose_taken", "dose_missed", "refill_low"),
}


def _adapter(kind: str) -> object | None:
    from devices import KINDS

    return KINDS.get(kind)


def attributes_of(kind: str) -> tuple[str, ...] | None:
    """Attribute names a device of `kind` has, or None when we cannot tell."""
    declared = getattr(_adapter(kind), "attributes", None)
    if isinstance(declared, tuple):
        return tuple(dict.fromkeys((*declared, *COMMON)))
    if kind in _ATTRIBUTES:
        return tuple(dict.fromkeys((*_ATTRIBUTES[kind], *COMMON)))
    return None


def events_of(kind: str) -> tuple[str, ...] | None:
    """Event names a device of `kind` emits (empty: none), or None when we cannot tell."""
    declared = getattr(_adapter(kind), "events", None)
    if isinstance(declared, tuple):
        return declared
    if kind in _EVENTS:
        return _EVENTS[kind]
    if kind in _ATTRIBUTES:
        return ()
    return None
