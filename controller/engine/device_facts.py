"""What a scenario may name of a device: its kind's attributes and events, and selector matches.

The adapters are the authority (each declares `attributes` and `events`); the loader gets them
injected as `kinds`, so the kernel keeps no second table of device vocabulary.
"""

from __future__ import annotations

from collections.abc import Mapping

from controller.config import HomeConfig
from controller.device_kind import DeviceKind

Kinds = Mapping[str, DeviceKind]

# Every device: availability is kept by the hub, not by the adapter.
COMMON = ("available",)


def attributes_of(kinds: Kinds, kind: str) -> tuple[str, ...] | None:
    """Attribute names a device of `kind` has, or None when no adapter tells."""
    adapter = kinds.get(kind)
    if adapter is None:
        return None
    # The ignores go once DeviceKind declares `attributes` and `events` (issue 11).
    return tuple(dict.fromkeys((*adapter.attributes, *COMMON)))  # type: ignore[attr-defined]


def events_of(kinds: Kinds, kind: str) -> tuple[str, ...] | None:
    """Event names a device of `kind` emits (empty: none), or None when no adapter tells."""
    adapter = kinds.get(kind)
    return None if adapter is None else tuple(adapter.events)  # type: ignore[attr-defined]


def select_devices(
    cfg: HomeConfig, device: str | list[str] | None, kind: str | None, room: str | list[str] | None
) -> list[str]:
    """Device ids a selector names, in configuration order (unknown names are skipped)."""
    ids = [device] if isinstance(device, str) else device
    rooms = [room] if isinstance(room, str) else room
    out = []
    for dev_id, dev in cfg.devices.items():
        if ids is not None and dev_id not in ids:
            continue
        if kind is not None and dev.kind != kind:
            continue
        if rooms is not None and dev.room not in rooms:
            continue
        out.append(dev_id)
    return out
