"""What the kernel expects of a device adapter, and the values adapters and the hub exchange.

The adapters themselves live in `devices/` (one module per kind of device) and are handed to the
hub by the composition root; the kernel only knows this contract.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import ClassVar, Protocol


@dataclass(frozen=True, slots=True, kw_only=True)
class Reading:
    """Decoded attributes of one message. Subclasses add typed fields; None means 'not in this message'."""

    def attributes(self) -> dict[str, object]:
        """The attributes this message carried."""
        return {f.name: v for f in fields(self) if (v := getattr(self, f.name)) is not None}


@dataclass(frozen=True, slots=True, kw_only=True)
class Availability(Reading):
    """A device's own online/offline report (Zigbee2MQTT `<topic>/availability`)."""

    online: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceEvent(Reading):
    """A momentary happening (a button press, a dispenser event) rather than a lasting state."""

    name: str
    data: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Dropped(Reading):
    """One attribute of a message that could not be decoded and was left out; the rest stands.

    A stale battery value must not cost the SOS press it came with: the hub reports this as a
    payload problem and handles the message's other readings.
    """

    attribute: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """Something to make a device do, as named values in the devices' shared command vocabulary.

    The vocabulary is the attributes' own (`state`, `brightness`, `position`, `say`, ...) plus a
    few conveniences for people and rules (`brightness_percent`, `kelvin`); the adapter turns
    it into its device's wire format and says (ValueError) what its device cannot do.
    """

    device: str
    values: Mapping[str, object]


@dataclass(frozen=True, slots=True, kw_only=True)
class Outgoing:
    """An MQTT message an adapter wants sent."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceSpec:
    """The configured facts about one device an adapter needs."""

    id: str
    topic: str
    model: str | None = None
    options: Mapping[str, object] = field(default_factory=dict)


class DeviceKind(Protocol):
    """A kind of device (bed sensor, door contact, ...) and how to talk to it.

    Everything the kernel needs to know about a kind is here, so the hub, the configuration
    check and the scenario loader read it straight from the adapter they are given.
    """

    kind: ClassVar[str]
    models: ClassVar[tuple[str, ...]]  # models this adapter was written against; first is default
    power: ClassVar[str]  # 'battery' or 'mains', the default for offline detection
    attributes: ClassVar[tuple[str, ...]]  # attribute names its readings (or refresh) produce
    events: ClassVar[tuple[str, ...]]  # momentary event names (DeviceEvent.name); () for none
    # True when the device's protocol promises a state message at least every 5 minutes, so
    # ten minutes of silence means it is offline even on mains power.
    heartbeat: ClassVar[bool]
    # True when the device's state depends on time and history, not only on the last message
    # (a BLE tag's room is the nearest receiver among recent sightings): the hub then merges
    # what `refresh` returns instead of the readings, and calls it periodically too.
    refreshes: ClassVar[bool]

    def subscriptions(self, spec: DeviceSpec) -> list[str]:
        """MQTT topic filters carrying this device's messages."""
        ...

    def decode(self, spec: DeviceSpec, topic: str, payload: bytes) -> list[Reading]:
        """Readings in one message; raises PayloadError with a reason."""
        ...

    def encode(self, spec: DeviceSpec, command: Command) -> list[Outgoing]:
        """MQTT messages carrying `command`; raises ValueError for a command this kind cannot do."""
        ...

    def refresh(
        self, spec: DeviceSpec, attributes: Mapping[str, object], readings: list[Reading], now: datetime
    ) -> dict[str, object]:
        """The device's derived attributes from its current ones and new readings (none on the
        periodic call, every few seconds). Pure: same inputs, same output. Only called when
        `refreshes` is true."""
        ...
