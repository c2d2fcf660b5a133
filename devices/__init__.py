"""Device adapters, one module per kind of device. `KINDS` maps a kind name to its adapter."""

from __future__ import annotations

from devices.base import DeviceKind
from devices.bed import BedSensor
from devices.contact import ContactSensor
from devices.curtain import Curtain
from devices.dispenser import Dispenser
from devices.light import Light
from devices.motion import MotionSensor
from devices.sos import SosButton
from devices.speaker import Speaker
from devices.tag import WanderTag

KINDS: dict[str, DeviceKind] = {
    adapter.kind: adapter
    for adapter in (
        BedSensor(),
        ContactSensor(),
        MotionSensor(),
        SosButton(),
        Light(),
        Curtain(),
        WanderTag(),
        Dispenser(),
        Speaker(),
    )
}
