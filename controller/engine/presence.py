"""Presence inferred by the hub: is the resident home, away, or does nobody know?

Fed by bus events, written through HouseState (so `presence` triggers, the `resident`
condition and the dashboard see one value). The rules, strongest first:

1. A presence set by hand (dashboard, API, a scenario's `set_presence`) holds for
   `presence.override_for` (0s: until it is set by hand again); meanwhile nothing below changes it.
2. The wander tag: heard in one of the resident's rooms -> home; out of reach within
   `tag_window` of an outside door opening -> away at once (out of reach without a door is a flat
   battery or a receiver as often as not, and changes nothing).
3. Sensors: any motion inside, the bed becoming occupied, a door inside the home, the SOS
   button or a dose taken -> home. An outside door closes and then, for `away_after`, nothing
   moves inside, the bed stays empty and the tag is not heard inside -> away.

Every change carries its reason ("afwezig sinds 19:42, omdat de Voordeur om 19:22 dicht ging en
er daarna 20 minuten geen beweging was") in the HOUSE_CHANGED event's context, so history, traces
and the dashboard can say why. What the inference must remember across a restart (a door closed
and the clock running, an override) is stored through HouseState.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from controller.bus import EventBus
from controller.clock import Clock
from controller.config import HomeConfig, PresenceSettings
from controller.engine.house import HouseState, Reason
from controller.engine.sun import spoken_duration
from controller.events import DEVICE_EVENT, STATE_CHANGED, Context, DeviceEventData, Event, StateChanged

FOREVER = "forever"
# What a tag reports when no receiver hears it (ours; Home Assistant's device trackers say not_home).
_OUT_OF_REACH = frozenset({"outside/unknown", "not_home"})
# Device events only a person makes (a dispenser's own alarms are not her).
_PERSON_EVENTS: dict[str, frozenset[str] | None] = {"sos": None, "dispenser": frozenset({"dose_taken"})}


class PresenceInference:
    """Infers the resident's presence from doors, motion, the bed, the tag and people's word."""

    def __init__(self, *, cfg: HomeConfig, settings: PresenceSettings, house: HouseState,
                 clock: Clock, value: Callable[[str, str], object]) -> None:
        self._cfg = cfg
        self._settings = settings
        self._house = house
        self._clock = clock
        self._value = value
        self._tz = ZoneInfo(cfg.home.location.timezone)
        self._lang = cfg.home.language
        self.doors = frozenset(cfg.outside_doors())
        self.tag = cfg.wander_tag()
        self.inside = frozenset(cfg.resident.rooms or cfg.rooms)
        self._motion = frozenset(d for d, dev in cfg.devices.items()
                                 if dev.kind == "motion" and dev.room in self.inside)
        self._beds = frozenset(d for d, dev in cfg.devices.items() if dev.kind == "bed")
        # Doors inside the home (a bathroom door with a contact): someone opened it.
        self._inner_doors = frozenset(d for d, dev in cfg.devices.items() if dev.kind == "contact"
                                      and d not in self.doors and dev.room in self.inside)
        self._door_opened: tuple[str, datetime] | None = None  # for the tag window only
        self._wake = asyncio.Event()
        house.manual_presence = self.set_by_hand

    def subscribe(self, bus: EventBus) -> list[Callable[[], None]]:
        """Follow the events presence is inferred from; returns the unsubscribers."""
        return [bus.subscribe(self.on_state, STATE_CHANGED),
                bus.subscribe(self.on_device_event, DEVICE_EVENT)]

    # -- what people say ------------------------------------------------------------------------

    def set_by_hand(self, presence: str, ctx: Context) -> None:
        """A presence set by a person: it holds for `override_for` (0s: until set again)."""
        now = self._clock.now()
        hold = self._settings.override_for
        until = FOREVER if hold <= timedelta(0) else (now + hold).isoformat()
        self._house.remember("override_until", until)
        self._house.remember("door_closed", "")
        who = ctx.link
        if until == FOREVER:
            reason = Reason(nl=f"handmatig ingesteld ({who}) om {self._hhmm(now)}, tot het weer "
                               "met de hand wordt veranderd",
                            en=f"set by hand ({who}) at {self._hhmm(now)}, until set by hand again")
        else:
            end = self._hhmm(now + hold)
            reason = Reason(nl=f"handmatig ingesteld ({who}) om {self._hhmm(now)}, geldt tot {end}",
                            en=f"set by hand ({who}) at {self._hhmm(now)}, holds until {end}")
        self._house.infer_presence(presence, ctx, reason, renew=True)
        self._wake.set()

    def override_text(self) -> str | None:
        """The running override's end as ISO 8601, "forever", or None when there is none."""
        until = self.override_until()
        if until is None:
            return None
        return FOREVER if self._house.memo("override_until") == FOREVER else until.isoformat()

    def override_until(self) -> datetime | None:
        """When the override by hand ends (datetime.max for never); None when there is none."""
        until = self._house.memo("override_until")
        if not until:
            return None
        end = datetime.max.replace(tzinfo=self._tz) if until == FOREVER else datetime.fromisoformat(until)
        return end if end > self._clock.now() else None

    # -- what the home says ---------------------------------------------------------------------

    def on_state(self, event: Event[StateChanged]) -> None:
        dev = event.device
        if dev is None:
            return
        for attr, (old, new) in event.data["changes"].items():
            if dev in self.doors and attr == "open":
                self._door(dev, old, new, event)
            elif dev in self._motion and attr == "occupancy" and new is True:
                room = self._cfg.devices[dev].room or ""
                self._home(event, Reason(nl=f"omdat er om {self._hhmm(event.time)} beweging was in "
                                            f"{self._room(room, 'nl')}",
                                         en=f"because something moved in {self._room(room, 'en')} "
                                            f"at {self._hhmm(event.time)}"))
            elif dev in self._beds and attr == "occupancy" and new is True:
                self._home(event, Reason(nl=f"omdat het bed om {self._hhmm(event.time)} bezet raakte",
                                         en=f"because the bed became occupied at {self._hhmm(event.time)}"))
            elif dev == self.tag and attr == "room":
                self._tag(new, event)
            elif dev in self._inner_doors and attr == "open" and isinstance(new, bool) and old is not None:
                name = self._name(dev)
                self._home(event, Reason(nl=f"omdat {name} om {self._hhmm(event.time)} werd gebruikt",
                                         en=f"because {name} was used at {self._hhmm(event.time)}"))

    def on_device_event(self, event: Event[DeviceEventData]) -> None:
        dev = event.device
        spec = self._cfg.devices.get(dev or "")
        if dev is None or spec is None or spec.kind not in _PERSON_EVENTS:
            return
        names = _PERSON_EVENTS[spec.kind]
        if names is not None and event.data.get("event") not in names:
            return
        name = spec.name or dev
        self._home(event, Reason(nl=f"omdat {name} om {self._hhmm(event.time)} werd gebruikt",
                                 en=f"because {name} was used at {self._hhmm(event.time)}"))

    def _door(self, dev: str, old: object, new: object, event: Event[StateChanged]) -> None:
        if new is True:
            self._door_opened = (dev, event.time)
        elif new is False and old is True and self.override_until() is None:
            # The clock starts when the door closes: whoever went out is gone by then.
            self._house.remember("door_closed", f"{dev}@{event.time.isoformat()}")
            self._wake.set()

    def _tag(self, room: object, event: Event[StateChanged]) -> None:
        now = event.time
        if isinstance(room, str) and room in self.inside:
            self._home(event, Reason(nl=f"omdat het label om {self._hhmm(now)} werd gehoord in "
                                        f"{self._room(room, 'nl')}",
                                     en=f"because the tag was heard in {self._room(room, 'en')} "
                                        f"at {self._hhmm(now)}"))
            return
        opened = self._door_opened
        window = self._settings.tag_window
        if room in _OUT_OF_REACH and opened is not None and now - opened[1] <= window:
            door = self._name(opened[0])
            self._away(event.context, Reason(
                nl=f"omdat het label om {self._hhmm(now)} buiten bereik raakte, kort nadat de "
                   f"{door.lower()} om {self._hhmm(opened[1])} openging",
                en=f"because the tag went out of reach at {self._hhmm(now)}, soon after "
                   f"{door} opened at {self._hhmm(opened[1])}"))

    def _home(self, event: Event[object], reason: Reason) -> None:
        """Evidence she is in: the door clock stops, and presence becomes home."""
        if self.override_until() is not None:
            return
        self._house.remember("door_closed", "")
        self._write("home", event.context, reason)

    def _away(self, parent: Context | None, reason: Reason) -> None:
        if self.override_until() is not None:
            return
        self._house.remember("door_closed", "")
        self._write("away", parent, reason)

    def _write(self, presence: str, parent: Context | None, reason: Reason) -> None:
        now = self._clock.now()
        word = {"home": ("thuis", "home"), "away": ("afwezig", "away")}.get(presence, (presence, presence))
        text = Reason(nl=f"{word[0]} sinds {self._hhmm(now)}, {reason.nl}",
                      en=f"{word[1]} since {self._hhmm(now)}, {reason.en}")
        same = self._house.presence == presence
        if same and self._house.notes()["presence_reason"]:
            return  # keeps its first reason: "home since 07:02" stays true while she potters
        desc = text.nl if self._lang == "nl" else text.en
        ctx = Context(origin="presence", description=desc, parent=parent)
        # Unchanged but never explained (a new hub's default): say why it holds.
        self._house.infer_presence(presence, ctx, text, renew=same)

    # -- the door clock -------------------------------------------------------------------------

    def pending(self) -> tuple[str, datetime] | None:
        """The outside door that closed and when, while the away clock runs."""
        memo = self._house.memo("door_closed")
        if not memo:
            return None
        dev, _, when = memo.partition("@")
        return dev, datetime.fromisoformat(when)

    def deadline(self) -> datetime | None:
        """When presence becomes away if nothing happens first."""
        door = self.pending()
        return None if door is None else door[1] + self._settings.away_after

    async def run(self) -> None:
        """Sleep until the away deadline (or a change of it) until cancelled."""
        while True:
            self._wake.clear()
            self.check()
            deadline = self.deadline()
            waker = asyncio.ensure_future(self._wake.wait())
            sleeper = (asyncio.ensure_future(self._clock.sleep_until(deadline))
                       if deadline is not None else None)
            try:
                await asyncio.wait({waker} if sleeper is None else {waker, sleeper},
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (waker, sleeper):
                    if task is not None and not task.done():
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await task

    def check(self) -> None:
        """Go away when the door clock has run out with nobody seen inside."""
        door, deadline = self.pending(), self.deadline()
        if door is None or deadline is None or self._clock.now() < deadline:
            return
        self._house.remember("door_closed", "")
        if self.override_until() is not None or self._someone_inside():
            return
        quiet = spoken_duration(self._settings.away_after, "nl")
        quiet_en = spoken_duration(self._settings.away_after, "en")
        name, closed = self._name(door[0]), self._hhmm(door[1])
        self._away(None, Reason(
            nl=f"omdat de {name.lower()} om {closed} dicht ging en er daarna {quiet} geen beweging was",
            en=f"because {name} closed at {closed} and nothing moved for {quiet_en} after"))

    def _someone_inside(self) -> bool:
        # A motion sensor still reporting occupancy never sent a new edge: someone moves there.
        if any(self._value(d, "occupancy") is True for d in (*self._motion, *self._beds)):
            return True
        return self.tag is not None and self._value(self.tag, "room") in self.inside

    # -- words ----------------------------------------------------------------------------------

    def _hhmm(self, when: datetime) -> str:
        return f"{when.astimezone(self._tz):%H:%M}"

    def _name(self, dev: str) -> str:
        spec = self._cfg.devices.get(dev)
        return (spec.name or dev) if spec is not None else dev

    def _room(self, room: str, lang: str) -> str:
        spec = self._cfg.rooms.get(room)
        if spec is None:
            return room
        return (spec.name_en or spec.name) if lang == "en" else spec.name
