"""The house state scenarios read and set: the mode (day, night, away, holiday) and presence.

A change is stored (so it survives a restart) and announced as a HOUSE_CHANGED event, which is
what `mode` and `presence` triggers follow and the dashboard shows.

Presence has two writers: people (the dashboard, the API, a scenario's `set_presence`), through
`set_presence`, and the hub's inference (presence.py), through `infer_presence`. When an
inference is installed (`manual_presence`), a set by hand goes through it so it can hold as an
override. Each presence value is kept with when it began and why (Dutch and English), which the
dashboard shows and traces quote.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Reason:
    """Why the presence is what it is, as caregivers read it ("omdat ..." / "because ...")."""

    nl: str
    en: str


# Stored next to mode and presence; not house state scenarios test.
PRESENCE_NOTES = ("presence_since", "presence_reason", "presence_reason_en")
# The inference's own memory (pending door, override), stored so a restart resumes it.
MEMO_PREFIX = "memo."


class HouseState:
    """The mode and presence, with their one writer."""

    def __init__(self, bus: EventBus, clock: Clock, store: EngineStore) -> None:
        self._bus = bus
        self._clock = clock
        self._store = store
        self._values = {"mode": "day", "presence": "home", **dict.fromkeys(PRESENCE_NOTES, "")}
        self._memo: dict[str, str] = {}
        # Installed by the presence inference: a set by hand goes through it.
        self.manual_presence: Callable[[str, Context], None] | None = None

    def load(self, stored: Mapping[str, str]) -> None:
        """Take the values a previous run stored (unknown names are ignored)."""
        self._values.update({k: v for k, v in stored.items() if k in self._values})
        self._memo.update({k.removeprefix(MEMO_PREFIX): v for k, v in stored.items()
                           if k.startswith(MEMO_PREFIX)})

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
        """Set the resident's presence by hand (home/away/unknown); ValueError for anything else."""
        if presence not in m.PRESENCES:
            raise ValueError(f"unknown presence {presence!r}; one of {', '.join(m.PRESENCES)}")
        if self.manual_presence is not None:
            self.manual_presence(presence, ctx)
            return
        who = ctx.origin
        self.infer_presence(presence, ctx, Reason(nl=f"ingesteld door {who}", en=f"set by {who}"),
                            renew=True)

    def infer_presence(self, presence: str, ctx: Context, reason: Reason, *,
                       renew: bool = False) -> bool:
        """Write a presence with its reason; True when the value changed.

        An unchanged value keeps its start and reason unless `renew` (a set by hand says anew
        why it is so).
        """
        changed = self._values["presence"] != presence
        if changed or renew:
            now = self._clock.now()
            notes = {"presence_since": now.isoformat() if changed else self._values["presence_since"],
                     "presence_reason": reason.nl, "presence_reason_en": reason.en}
            if not notes["presence_since"]:
                notes["presence_since"] = now.isoformat()
            for name, value in notes.items():
                self._values[name] = value
                self._store.set_house(name, value)
        self._set("presence", presence, ctx)
        return changed

    def notes(self) -> dict[str, str]:
        """The presence with its start (ISO) and reason, for the dashboard and traces."""
        return {"presence": self._values["presence"],
                **{name: self._values[name] for name in PRESENCE_NOTES}}

    def memo(self, name: str) -> str:
        """Something the inference remembered ('' when nothing)."""
        return self._memo.get(name, "")

    def remember(self, name: str, value: str) -> None:
        """Keep (and store) something the inference must still know after a restart."""
        if self._memo.get(name, "") != value:
            self._memo[name] = value
            self._store.set_house(MEMO_PREFIX + name, value)

    def _set(self, name: str, value: str, ctx: Context) -> None:
        old = self._values[name]
        if old == value:
            return
        self._values[name] = value
        self._store.set_house(name, value)
        self._bus.publish(HOUSE_CHANGED.event(time=self._clock.now(), context=ctx,
                                data={"changes": {name: (old, value)}}))
