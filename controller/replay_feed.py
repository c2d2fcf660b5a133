"""Recorded rows as what the devices would have sent: replay takes the live hub's path.

A row of an event log (`controller/replay.py`) names a device, an attribute and a value. Live,
that value came out of the device's adapter; so the replay asks the same adapter which message
the device would have published for it, decodes that message, and hands the readings to the
hub (`Hub.receive`, what `handle_message` does after decoding). A door's `contact` row then
gives `open` exactly as it does live, and an unknown attribute or a value the adapter would
refuse is a problem found before anything is replayed.

How each row becomes hub input:

- state attributes of one device at one moment: one JSON message on the device's state topic
  (the subscribed topic whose decoder takes a JSON object), decoded by its adapter;
- a derived attribute (the adapter computes it, such as a contact's `open` = not `contact`):
  the message that makes the adapter derive that value, found by asking it; when the same
  moment also records the attribute it comes from, the two must agree;
- a device that `refreshes` (a tag: its room depends on recent sightings): recorded
  `sightings` go through the adapter's `refresh`, as the live hub's periodic refresh does, and
  a recorded `room` must agree with the room derived from them; a `room` recorded without
  sightings (a hand-written log) is taken as it stands and holds until the next row, since a
  replay runs no periodic refresh;
- `available`: the device came online or went offline (true/false);
- `event`: a momentary event, replayed as the adapter's DeviceEvent; the name must be one the
  adapter knows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from difflib import get_close_matches
from itertools import groupby

from controller.device_kind import DeviceEvent, DeviceKind, DeviceSpec, Dropped, Reading
from controller.errors import PayloadError, Problem
from controller.hub import BoundDevice, Hub

# Readings of the rows that are not device attributes.
AVAILABLE, EVENT = "available", "event"
TRUE_WORDS = ("yes", "ja", "on", "aan", "1", "waar", "true")
FALSE_WORDS = ("no", "nee", "off", "uit", "0", "onwaar", "false")


@dataclass(frozen=True, slots=True, kw_only=True)
class LogRow:
    """One recorded fact of the event log."""

    line: int
    time: datetime
    device: str
    attribute: str
    value: object


@dataclass(frozen=True, slots=True, kw_only=True)
class Feed:
    """What one or more rows of one device at one moment give the hub."""

    time: datetime
    device: str
    lines: tuple[int, ...]
    readings: tuple[Reading, ...] = ()  # through Hub.receive, as a decoded message
    attributes: Mapping[str, object] = field(default_factory=dict)  # derived by refresh, or as recorded
    available: bool | None = None


_Report = Callable[["LogRow", "_Bad"], None]


class _Bad(Exception):
    """One row's problem: message and hint."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def plan_feeds(hub: Hub, rows: Sequence[LogRow], source: str) -> tuple[list[Feed], list[Problem]]:
    """The hub input for `rows` (in time order), and every row the live hub would not accept."""
    planner = _Planner(hub)
    feeds: list[Feed] = []
    problems: list[Problem] = []
    for (when, device), group in groupby(rows, key=lambda r: (r.time, r.device)):
        feeds.extend(planner.plan(when, device, list(group), lambda row, exc: problems.append(
            Problem(file=source, line=row.line, path=f"{row.device}.{row.attribute}",
                    message=exc.message, hint=exc.hint))))
    return feeds, problems


class _Planner:
    """Turns rows into feeds, asking each device's adapter; remembers what it found."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._state_topics: dict[str, str | None] = {}
        self._sources: dict[tuple[str, str, str], dict[str, object] | None] = {}

    def plan(self, when: datetime, device: str, rows: list[LogRow], bad: _Report) -> list[Feed]:
        """Feeds for the rows of `device` at `when`, in file order; problems go to `bad`."""
        bound = self.hub.devices[device]
        feeds: list[Feed] = []
        state: list[LogRow] = []
        for row in rows:
            try:
                if row.attribute == AVAILABLE:
                    feeds.append(Feed(time=when, device=device, lines=(row.line,),
                                      available=_boolean(row.value, "available")))
                elif row.attribute == EVENT:
                    feeds.append(Feed(time=when, device=device, lines=(row.line,),
                                      readings=(_event(bound, row.value),)))
                else:
                    _known_attribute(bound, row.attribute)
                    if row.value is None or row.value == "":
                        raise _Bad(f"{row.attribute!r} needs a value")
                    state.append(row)
            except _Bad as exc:
                bad(row, exc)
        if state:
            feed = self._state(bound, when, state, bad)
            if feed is not None:
                feeds.append(feed)
        return feeds

    def _state(self, bound: BoundDevice, when: datetime, rows: list[LogRow], bad: _Report) -> Feed | None:
        if bound.adapter.refreshes:
            return self._refreshed(bound, when, rows, bad)
        topic = self._state_topic(bound)
        payload: dict[str, object] = {}
        origin: dict[str, LogRow] = {}
        for row in rows:
            try:
                if topic is None:
                    raise _Bad(f"a {bound.kind} reports no state a replay can send")
                for key, value in self._message(bound, topic, row).items():
                    _agree(payload, origin, key, value, row)
                    payload[key], origin[key] = value, row
            except _Bad as exc:
                bad(row, exc)
        if topic is None or not payload:
            return None
        try:
            readings = _decode(bound, topic, payload)
        except PayloadError as exc:  # each row alone was fine: it is the combination
            bad(rows[-1], _Bad(f"the {bound.kind} adapter refuses these rows together: {exc}"))
            return None
        return Feed(time=when, device=bound.spec.id, lines=tuple(r.line for r in rows),
                    readings=tuple(readings))

    def _message(self, bound: BoundDevice, topic: str, row: LogRow) -> dict[str, object]:
        """The state message carrying `row`: its own attribute, or the one it is derived from."""
        attributes = _attributes(_decode_row(bound, topic, {row.attribute: row.value}, row))
        if row.attribute in attributes:
            return {row.attribute: row.value}
        key = (bound.spec.id, row.attribute, json.dumps(row.value, sort_keys=True, default=str))
        if key not in self._sources:
            self._sources[key] = _source(bound, topic, row.attribute, row.value)
        source = self._sources[key]
        if source is None:
            raise _Bad(f"{row.attribute!r} is derived by the {bound.kind} adapter, and no message "
                       f"of the device gives it the value {row.value!r}",
                       _value_hint(row.value) if _source(bound, topic, row.attribute, True) else None)
        return dict(source)

    def _state_topic(self, bound: BoundDevice) -> str | None:
        """The topic on which the device reports its state as a JSON object."""
        if bound.spec.id not in self._state_topics:
            found = None
            for topic in bound.adapter.subscriptions(bound.spec):
                if "+" in topic or "#" in topic:
                    continue
                try:
                    bound.adapter.decode(bound.spec, topic, b"{}")
                except PayloadError:
                    continue
                found = topic
                break
            self._state_topics[bound.spec.id] = found
        return self._state_topics[bound.spec.id]

    def _refreshed(self, bound: BoundDevice, when: datetime, rows: list[LogRow], bad: _Report) -> Feed | None:
        """A device whose state the adapter derives from history (a tag's room from sightings)."""
        history = _history_attributes(bound.adapter, bound.spec, when)
        recorded = {row.attribute: row.value for row in rows}
        try:
            derived = _refresh(bound, when, {k: v for k, v in recorded.items() if k in history})
        except _Bad as exc:
            bad(next(r for r in rows if r.attribute in history), exc)
            return None
        for row in rows:
            try:
                if derived is not None and row.attribute not in history:
                    _same(row, derived.get(row.attribute))
                elif derived is None and row.attribute == "room":
                    _known_room(self.hub, bound, when, row)
            except _Bad as exc:
                bad(row, exc)
        return Feed(time=when, device=bound.spec.id, lines=tuple(r.line for r in rows),
                    attributes=derived if derived is not None else recorded)


def _known_attribute(bound: BoundDevice, attribute: str) -> None:
    known = bound.adapter.attributes
    if attribute not in known:
        close = get_close_matches(attribute, [*known, AVAILABLE, EVENT], n=1)
        raise _Bad(f"unknown attribute {attribute!r} of {bound.spec.id} (a {bound.kind}; it has "
                   f"{', '.join(known)}, {AVAILABLE} and {EVENT})",
                   f"did you mean {close[0]!r}?" if close else None)


def _boolean(value: object, what: str) -> bool:
    if isinstance(value, bool):
        return value
    raise _Bad(f"{what!r} should be true or false, got {value!r}", _value_hint(value))


def _value_hint(value: object) -> str | None:
    """'did you mean true?' for the words people write for true and false."""
    word = str(value).strip().casefold()
    if word in TRUE_WORDS:
        return "did you mean true?"
    if word in FALSE_WORDS:
        return "did you mean false?"
    return None


def _event(bound: BoundDevice, value: object) -> DeviceEvent:
    """A DeviceEvent from an `event` row: a name, or {"event": name, ...data}."""
    data = dict(value) if isinstance(value, Mapping) else {"event": value}
    name = data.pop("event", None)
    events = bound.adapter.events
    if not isinstance(name, str) or name not in events:
        if not events:
            raise _Bad(f"a {bound.kind} has no events, got {name!r}")
        close = get_close_matches(str(name), list(events), n=1)
        raise _Bad(f"unknown event {name!r} of {bound.spec.id} (a {bound.kind} sends "
                   f"{', '.join(events)})", f"did you mean {close[0]!r}?" if close else None)
    return DeviceEvent(name=name, data={str(k): v for k, v in data.items()})


def _decode(bound: BoundDevice, topic: str, payload: Mapping[str, object]) -> list[Reading]:
    """The adapter's readings of a message; PayloadError when it refuses any part of it.

    Live, an adapter drops one bad attribute and keeps the rest of the message (`Dropped`);
    a replay row is that one attribute, so it is refused.
    """
    readings = bound.adapter.decode(bound.spec, topic, json.dumps(dict(payload)).encode())
    for reading in readings:
        if isinstance(reading, Dropped):
            raise PayloadError(reading.reason)
    return readings


def _decode_row(bound: BoundDevice, topic: str, payload: Mapping[str, object], row: LogRow) -> list[Reading]:
    """Decode a one-attribute message; an ill-typed value is the row's problem."""
    try:
        return _decode(bound, topic, payload)
    except (PayloadError, TypeError, ValueError) as exc:
        hint = _value_hint(row.value) if _takes_boolean(bound, topic, row.attribute) else None
        raise _Bad(f"the {bound.kind} adapter refuses {row.value!r}: {exc}", hint) from exc


def _takes_boolean(bound: BoundDevice, topic: str, attribute: str) -> bool:
    try:
        return attribute in _attributes(_decode(bound, topic, {attribute: True}))
    except PayloadError:
        return False


def _attributes(readings: Iterable[Reading]) -> dict[str, object]:
    out: dict[str, object] = {}
    for reading in readings:
        if not isinstance(reading, DeviceEvent | Dropped):
            out.update(reading.attributes())
    return out


def _source(bound: BoundDevice, topic: str, attribute: str, value: object) -> dict[str, object] | None:
    """The one-attribute message from which the adapter derives `attribute` = `value`.

    Derived attributes are a yes/no view of another one (a contact's `open` is not `contact`),
    so each other attribute is tried with true and false.
    """
    for other in bound.adapter.attributes:
        if other == attribute:
            continue
        for candidate in (True, False):
            try:
                derived = _attributes(_decode(bound, topic, {other: candidate}))
            except PayloadError:
                break
            if attribute in derived and derived[attribute] == value and type(derived[attribute]) is type(value):
                return {other: candidate}
    return None


def _agree(payload: Mapping[str, object], origin: Mapping[str, LogRow], key: str, value: object, row: LogRow) -> None:
    """Rows of one moment must not tell the adapter two different things."""
    if key in payload and payload[key] != value:
        first = origin[key]
        raise _Bad(f"{row.attribute} = {json.dumps(row.value)} disagrees with {first.attribute} = "
                   f"{json.dumps(first.value)} on line {first.line} (the adapter derives one from "
                   f"the other)")


def _refresh(bound: BoundDevice, when: datetime, kept: Mapping[str, object]) -> dict[str, object] | None:
    """What the adapter derives from recorded history attributes; None when none were recorded."""
    if not kept:
        return None
    for name, value in kept.items():
        if not isinstance(value, Mapping):
            raise _Bad(f"{name!r} should be a JSON object, got {value!r}")
    return dict(bound.adapter.refresh(bound.spec, kept, [], when))


def _history_attributes(adapter: DeviceKind, spec: DeviceSpec, when: datetime) -> tuple[str, ...]:
    """The attributes an adapter keeps as its history (a tag's `sightings`).

    They are the ones a refresh of nothing returns as a collection (empty); a refresh of a
    state holding only them derives everything else, as the live hub's periodic refresh does.
    """
    empty = adapter.refresh(spec, {}, [], when)
    return tuple(k for k, v in empty.items() if isinstance(v, Mapping))


def _same(row: LogRow, derived: object) -> None:
    if row.value != derived:
        raise _Bad(f"{row.attribute} = {json.dumps(row.value)} disagrees with the sightings recorded "
                   f"at the same moment, from which the adapter derives "
                   f"{json.dumps(derived, default=str)}")


def _known_room(hub: Hub, bound: BoundDevice, when: datetime, row: LogRow) -> None:
    """A recorded room is a room of the home, or what the adapter says when it hears nothing."""
    rooms = list(hub.config.rooms)
    nowhere = bound.adapter.refresh(bound.spec, {}, [], when).get("room")
    if row.value in rooms or row.value == nowhere:
        return
    close = get_close_matches(str(row.value), [*rooms, *([nowhere] if isinstance(nowhere, str) else [])], n=1)
    raise _Bad(f"{row.value!r} is not a room of this home", f"did you mean {close[0]!r}?" if close else None)
