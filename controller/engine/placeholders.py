"""What the `{...}` placeholders of a scenario's messages, keys and MQTT payloads stand for.

The names are a fixed vocabulary (checked when a scenario loads, see loader.py): a run's own
variables (trigger.*, wait.*, its parameters), the home (resident, home, scenario), the house
state (mode, presence), the clock (time, weekday, date) and device states.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from controller.config import HomeConfig
from controller.engine.house import HouseState
from controller.engine.names import DeviceNames
from controller.engine.sun import spoken_date, weekday_name
from controller.engine.templates import Template, lookup_path, parse_template

Path = tuple[str, ...]


class Placeholders:
    """Renders templates for runs; parsed templates are cached per scenario by the caller."""

    def __init__(self, *, cfg: HomeConfig, language: str, names: DeviceNames, house: HouseState,
                 local_now: Callable[[], datetime], value: Callable[[str, str], object],
                 previous: Mapping[tuple[str, str], object]) -> None:
        self._cfg = cfg
        self._language = language
        self._names = names
        self._house = house
        self._local_now = local_now
        self._value = value
        self._previous = previous
        # Names that need neither the run nor the path beyond their root.
        self._fixed: dict[str, Callable[[], object]] = {
            "resident": lambda: cfg.resident.pseudonym,
            "home": lambda: cfg.home.name,
            "mode": lambda: house.mode,
            "presence": lambda: house.presence,
            "time": lambda: f"{self._local_now():%H:%M}",
            "weekday": lambda: weekday_name(self._local_now().date(), language),
            "date": lambda: spoken_date(self._local_now().date(), language),
        }

    def render(self, text: str, *, cache: dict[str, Template], run: Mapping[str, object],
               scenario: str, language: str | None = None) -> str:
        """`text` with its placeholders filled from `run`'s variables and the home."""
        tpl = cache.get(text)
        if tpl is None:
            tpl = cache[text] = parse_template(text)
        if tpl.constant:
            return text if "{" not in text and "}" not in text else tpl.render(lambda p: None)
        return tpl.render(lambda path: self.lookup(run, scenario, path), language or self._language)

    def lookup(self, run: Mapping[str, object], scenario: str, path: Path) -> object:
        """The value of one placeholder (None when it names nothing)."""
        root = path[0]
        params = run.get("params")
        if len(path) == 1 and isinstance(params, Mapping) and root in params:
            return params[root]
        if root in ("trigger", "wait"):
            return lookup_path(run.get(root, {}), path[1:])
        if root == "scenario":
            return scenario
        fixed = self._fixed.get(root)
        if fixed is not None:
            return fixed()
        return self._device(path)

    def _device(self, path: Path) -> object:
        root = path[0]
        if root in ("state", "previous") and len(path) == 3:
            key = (path[1], path[2])
            value = self._value(*key) if root == "state" else self._previous.get(key)
            # People read these messages: a room says "Hal", not its id "hall".
            if path[2] == "room" and isinstance(value, str) and value in self._cfg.rooms:
                return self._names.room_name(value)
            return value
        if root == "name" and len(path) == 2:
            return self._names.device_name(path[1])
        if root == "room_name" and len(path) == 2:
            return self._names.room_name(path[1])
        return None
