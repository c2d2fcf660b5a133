"""Device adapters, one module per kind of device. `KINDS` maps a kind name to its adapter."""

from __future__ import annotations

from devices.base import DeviceKind
from devices.bed import BedSensor

KINDS: dict[str, DeviceKind] = {
    adapter.kind: adapter
    for adapter in (
        BedSensor(),
    )
}
