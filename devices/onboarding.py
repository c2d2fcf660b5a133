"""A `home.yaml` entry proposed for a device Zigbee2MQTT knows and the home does not yet.

The technician picks the room and a name; the kind follows from the model (the adapter that
lists it). The proposal is checked by the home configuration's own validation
(`controller.config.parse_home` and the files it names, what `huis check` runs) on the home's
file with the entry added in memory, and shown as YAML to copy. Nothing is written: the
configuration stays the technician's, edited and checked by them (`huis check`) and loaded by
a restart.

What the command line says comes from the catalogues (ids onboard.cli.*, controller/locale/).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import yaml

from controller import i18n
from controller.config import HomeConfig, parse_home, referenced_file_problems
from controller.device_kind import DeviceKind
from controller.errors import ConfigError, Problem
from controller.yamlfile import load_file
from devices.z2m_bridge import BASE, BridgeDevice, adapter_for, known_topics, looks_like


def text(key: str, lang: str = "nl", **values: object) -> str:
    """What the command line and the console's API say (ids onboard.cli.* in the catalogues,
    controller/locale/), in `lang` (Dutch unless 'en'), filled in."""
    return i18n.text(lang, f"onboard.cli.{key}", **values)


class NoAdapter(ValueError):
    """huis has no adapter for the device's model, so there is nothing to propose."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Proposal:
    """A device entry for `home.yaml` and what the configuration check said about it."""

    device_id: str
    entry: dict[str, object]
    yaml: str  # the `<id>: {...}` line to put under `devices:`
    problems: tuple[Problem, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, object]:
        return {"device_id": self.device_id, "entry": self.entry, "yaml": self.yaml, "ok": self.ok,
                "problems": [{"file": p.file, "line": p.line, "path": p.path, "message": p.message,
                              "hint": p.hint, "text": str(p)} for p in self.problems]}


def slug(name: str) -> str:
    """A huis id from a name people read: 'Beweging hal 2' -> 'beweging_hal_2'."""
    out = re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")
    return out if out[:1].isalpha() else f"device_{out}" if out else "device"


def _free_id(base: str, taken: Mapping[str, object]) -> str:
    if base not in taken:
        return base
    n = 2
    while f"{base}_{n}" in taken:
        n += 1
    return f"{base}_{n}"


def entry_for(device: BridgeDevice, kinds: Mapping[str, DeviceKind], *, room: str | None,
              name: str | None, device_id: str) -> dict[str, object]:
    """The `home.yaml` mapping for `device`; NoAdapter when no adapter lists its model."""
    kind = adapter_for(device.model, kinds)
    if kind is None:
        hint = looks_like(device)
        raise NoAdapter(f"{device.model or device.model_id or device.ieee}: no adapter for this model"
                        + (f" (it looks like a {hint})" if hint else ""))
    entry: dict[str, object] = {"kind": kind, "model": device.model}
    if room:
        entry["room"] = room
    entry["name"] = name or device.description or device.friendly_name
    if device.friendly_name != device_id:
        # The device keeps its Zigbee2MQTT name; renaming it there to the id makes this line go.
        entry["topic"] = f"{BASE}/{device.friendly_name}"
    return entry


def propose(device: BridgeDevice, cfg: HomeConfig, kinds: Mapping[str, DeviceKind], *, room: str | None,
            name: str | None = None, device_id: str | None = None) -> Proposal:
    """A checked proposal for `device` in the home `cfg` (read again from its file, as on disk).

    Raises NoAdapter when huis has no adapter for the model.
    """
    doc = load_file(cfg.source)
    data = copy.deepcopy(doc.data) if isinstance(doc.data, dict) else {}
    devices = data.get("devices")
    devices = devices if isinstance(devices, dict) else {}
    chosen = device_id or _free_id(slug(name) if name else slug(f"{device.model or 'device'}_{room or ''}"),
                                   devices)
    entry = entry_for(device, kinds, room=room, name=name, device_id=chosen)
    problems: list[Problem] = []
    if chosen in devices:
        problems.append(doc.problem(("devices", chosen), f"'{chosen}' is already a device of this home",
                                    "choose another id"))
    data["devices"] = {**devices, chosen: entry}
    doc.data = data
    # Problems on the new entry point at the `devices:` line: it is not in the file yet.
    doc.lines.setdefault(("devices", chosen), doc.line(("devices",)) or 0)
    try:
        problems.extend(referenced_file_problems(doc, parse_home(doc, kinds)))
    except ConfigError as exc:
        problems.extend(exc.problems)
    return Proposal(device_id=chosen, entry=entry, yaml=render(chosen, entry), problems=tuple(problems))


def topics_on_disk(cfg: HomeConfig, kinds: Mapping[str, DeviceKind]) -> set[str]:
    """The Zigbee2MQTT names the home's file on disk listens on: a device already added there
    but not yet loaded (the hub restarts to load it). Empty when the file does not load."""
    try:
        return known_topics(parse_home(load_file(cfg.source), kinds))
    except ConfigError:
        return set()


def render(device_id: str, entry: Mapping[str, object]) -> str:
    """`<id>: {kind: ..., model: ..., room: ..., name: ...}`, one line as in the demo home.yaml."""
    text_ = yaml.safe_dump({device_id: dict(entry)}, default_flow_style=None, sort_keys=False,
                           allow_unicode=True, width=400)
    return text_.strip()
