"""What a scenario may name of a device: its kind's attributes and events, and selector matches.

The adapters are the authority (each declares `attributes` and `events`); the loader gets them
injected as `kinds`, so the kernel keeps no second table of device vocabulary.
"""

from __future__ import annotations

from collections.abc import Mapping

from controller.config import Device, HomeConfig
from controller.device_kind import DeviceKind

Kinds = Mapping[str, DeviceKind]

# Every device: availability is kept by the hub, not by the adapter.
COMMON = ("available",)


def attributes_of(kinds: Kinds, kind: str) -> tuple[str, ...] | None:
    """Attribute names a device of `kind` has, or None when no adapter tells."""
    adapter = kinds.get(kind)
    if adapter is None:
        return None
    known = _ATTRIBUTES.get(id(adapter))
    if known is None or known[0] is not adapter:  # asked for every trigger: made once per adapter
        # The ignores go once DeviceKind declares `attributes` and `events` (issue 11).
        known = adapter, tuple(dict.fromkeys((*adapter.attributes, *COMMON)))  # type: ignore[attr-defined]
        _ATTRIBUTES[id(adapter)] = known
    return known[1]


# id(adapter) -> (adapter, its attributes); holding the adapter keeps its id from being reused.
_ATTRIBUTES: dict[int, tuple[DeviceKind, tuple[str, ...]]] = {}


def events_of(kinds: Kinds, kind: str) -> tuple[str, ...] | None:
    """Event names a device of `kind` emits (empty: none), or None when no adapter tells."""
    adapter = kinds.get(kind)
    return None if adapter is None else tuple(adapter.events)  # type: ignore[attr-defined]


def select_devices(
    cfg: HomeConfig, device: str | list[str] | None, kind: str | None, room: str | list[str] | None
) -> list[str]:
    """Device ids a selector names, in configuration order (unknown names are skipped)."""
    rooms = [room] if isinstance(room, str) else room
    if isinstance(device, str):
        # One named device (most selectors): a lookup, not a walk over every device of the home.
        dev = cfg.devices.get(device)
        ok = dev is not None and (kind is None or dev.kind == kind) and (rooms is None or dev.room in rooms)
        return [device] if ok else []
    ids = None if device is None else set(device)
    if ids is None and (kind is not None or rooms is not None):
        candidates = _candidates(cfg, kind, rooms)
    else:
        candidates = list(cfg.devices)
    out = []
    for dev_id in candidates:
        dev = cfg.devices[dev_id]
        if ids is not None and dev_id not in ids:
            continue
        if kind is not None and dev.kind != kind:
            continue
        if rooms is not None and dev.room not in rooms:
            continue
        out.append(dev_id)
    return out


def _candidates(cfg: HomeConfig, kind: str | None, rooms: list[str] | None) -> list[str]:
    """The devices of `kind` or in `rooms`, in configuration order, from an index of the home
    (`kind: motion, room: hall` in a home of a thousand devices looks at the hall's few)."""
    global _INDEX
    index = _INDEX
    if index is None or index.devices is not cfg.devices or index.count != len(cfg.devices):
        index = _INDEX = _DeviceIndex(cfg.devices)
    if rooms is None:
        return index.by_kind.get(kind or "", [])
    if len(rooms) == 1:
        return index.by_room.get(rooms[0], [])
    found = {d for r in rooms for d in index.by_room.get(r, [])}
    return sorted(found, key=index.position.__getitem__)


class _DeviceIndex:
    """A home's devices by kind and by room, each list in configuration order."""

    def __init__(self, devices: Mapping[str, Device]) -> None:
        self.devices = devices  # held: its identity says whether the index still fits
        self.count = len(devices)
        self.position = {d: i for i, d in enumerate(devices)}
        self.by_kind: dict[str, list[str]] = {}
        self.by_room: dict[str, list[str]] = {}
        for dev_id, dev in devices.items():
            self.by_kind.setdefault(dev.kind, []).append(dev_id)
            if dev.room is not None:
                self.by_room.setdefault(dev.room, []).append(dev_id)


_INDEX: _DeviceIndex | None = None  # of the last home asked about (a configuration is frozen)
