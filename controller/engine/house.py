"""The house state scenarios read and set: the mode (day, night, away, holiday) and presence.

A change is stored (so it survives a restart) and announced as a HOUSE_CHANGED event, which is
what `mode` and `presence` triggers follow and the dashboard shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict

from controller.bus import EventBus
from controller.clock import Clock
from controller.engine import model as m
from controller.engine.store import EngineStore
from controller.events import Context, EventType


class HouseChanged(TypedDict):
    """The house mode or presence changed: {"mode" or "presence": (old, new)}."""

    changes: dict[str, tuple[str, str]]


HOUSE_CHANGED: EventType[HouseChanged] = EventType("house_changed")


class HouseState:
    """The mode and presence, with their one writer."""

    def __init__(self, bus: EventBus, clock: Clock, store: EngineStore) -> None:
        self._bus = bus
        self._clock = clock
        self._store = store
        self._values = {"mode": "day", "presence": "home"}

    def load(self, stored: Mapping[str, str]) -> None:
        """Take the values a previous run stored (unknown names are ignored)."""
        self._values.update({k: v for k, v in stored.items() if k in self._values})

    def get(self, name: str) -> str:
        """'mode' or 'presence'."""
        return self._values[name]

    @property
    def mode(self) -> str:
        return self._values["mode"]

    @property
    def presence(self) -> str:
        return self._values["presence"]

    def set_mode(self, mode: str, ctx: Context) -> None:
        """Change the house mode; ValueError for a mode that does not exist."""
        if mode not in m.MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(m.MODES)}")
        self._set("mode", mode, ctx)

    def set_presence(self, presence: str, ctx: Context) -> None:
        """Change the resident's presence (home/away); ValueError for anything else."""
        if presence not in m.PRESENCES:
            raise ValueError(f"unknown presence {presence!r}; one of {', '.join(m.PRESENCES)}")
        self._set("presence", presence, ctx)

    def _set(self, name: str, value: str, ctx: Context) -> None:
        old = self._values[name]
        if old == value:
            return
        self._values[name] = value
        self._store.set_house(name, value)
        self._bus.publish(HOUSE_CHANGED.event(time=self._clock.now(), context=ctx,
                                data={"changes": {name: (old, value)}}))
