"""Plain-language sentences about what happens in the home and why, in Dutch and English.

The tour's explanation panel reads these aloud, in effect: "Mevrouw Jansen stapt uit bed." then
"Het licht in de badkamer gaat aan op 10%. Waarom: scenario night exit, omdat Mevrouw Jansen
uit bed stapte." The "why" comes from the event's Context chain: the narrator remembers the
sentence it produced for each context, so an effect can name its cause in the cause's own words.

Visitors read every sentence, so nothing here may name a caregiver or carry a phone number:
`Scrubber` replaces caregiver names by their relation and blanks anything that looks like a
phone number, and it is applied to every sentence before it leaves this module.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from controller import i18n
from controller.alerts import texts
from controller.config import HomeConfig
from controller.events import (
    ALERT_CHANGED,
    AVAILABILITY,
    COMMAND_SENT,
    DEVICE_EVENT,
    STATE_CHANGED,
    AlertChanged,
    Context,
    Event,
    is_a,
)
from controller.history import HistoryRow

LANGS = i18n.LANGS

# Phone numbers: +31 6 12345678, 06-12345678, 0612345678, 038 123 4567, (038) 1234567,
# 06.12.34.56.78, 06 12 34 56 78: at least 9 digits (a date such as 05.01.2026 has 8).
_PHONE = re.compile(r"(?<![\w.])(?:\+|00)?\(?\d[\d\s\-().]{7,}\d(?![\w])")
_PHONE_DIGITS = 9
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_SHORT_NAME = 3  # names shorter than this are matched with their capitals only ("Jo", not "jo")


_MAX_REMEMBERED = 2000
_REMEMBERED_TEXTS = 4096  # scrubbed and filled-in texts remembered (each the same every time)
_KINDS = ("bed", "contact", "motion", "sos", "light", "curtain", "tag", "dispenser", "speaker", "button")
Words = dict[str, str]  # language -> text


def _say(msgid: str, /, **values: object) -> Words:
    """The sentence `msgid` (ids narrate.*) in every language; a value given as {lang: text}
    is filled in per language (room and device names)."""
    # The same sentences come by with every event: each is looked up and filled in once.
    key = (msgid, *((k, tuple(v.items()) if isinstance(v, dict) else v) for k, v in values.items()))
    try:
        said = _SAID.get(key)
    except TypeError:  # a value that cannot be a key: made each time
        return _fill(msgid, values)
    if said is None:
        if len(_SAID) >= _REMEMBERED_TEXTS:
            _SAID.clear()
        said = _SAID[key] = _fill(msgid, values)
    return dict(said)


def _fill(msgid: str, values: Mapping[str, object]) -> Words:
    return {lang: i18n.text(lang, msgid, **{k: v[lang] if isinstance(v, dict) else v for k, v in values.items()})
            for lang in LANGS}


_SAID: dict[tuple[object, ...], Words] = {}


@dataclass(frozen=True, slots=True, kw_only=True)
class Narration:
    """One sentence about one event, with the reason behind it when there is one."""

    id: int
    time: datetime
    event_type: str
    device: str | None
    room: str | None
    text: Mapping[str, str]  # language -> sentence
    why: Mapping[str, str]  # language -> reason; empty when the event has no known cause
    severity: str | None = None

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly."""
        return {
            "id": self.id,
            "time": self.time.isoformat(),
            "type": self.event_type,
            "device": self.device,
            "room": self.room,
            "text": dict(self.text),
            "why": dict(self.why),
            "severity": self.severity,
        }


class Scrubber:
    """Removes what visitors must not see: caregiver names, phone numbers, e-mail addresses.

    What stands in their place is in the reader's language (ids scrub.*): a caregiver's
    relation from the config ("dochter") on Dutch pages, a word from the catalogue on others,
    since the config's relation is Dutch.
    """

    def __init__(self, config: HomeConfig) -> None:
        pairs: list[tuple[str, str | None]] = []
        for cid, cg in config.caregivers.items():
            relation = cg.relation
            # A name of any length; an id only from 3 letters ('jo' as an id is too ordinary).
            candidates = {cg.name} | ({cid} if len(cid) >= _SHORT_NAME else set())
            for name in candidates:
                if name.strip() and name.lower() != (relation or "").lower():
                    pairs.append((name, relation))
        # Longest first, so "Zorgteam Zwolle" goes before a caregiver called "Zorgteam".
        pairs.sort(key=lambda p: -len(p[0]))
        self._pairs = [(re.compile(rf"(?<!\w){re.escape(n)}(?!\w)",
                                   0 if len(n) < _SHORT_NAME else re.IGNORECASE), r) for n, r in pairs]
        # The same few sentences come by with every event ("Anna stapt uit bed."): each is
        # scrubbed once (the config, and so the result, does not change while this lives).
        self._done: dict[tuple[str, str], str] = {}

    def text(self, value: str, lang: str = "nl") -> str:
        """`value` with caregiver names replaced by their relation, phone numbers and e-mail
        addresses blanked, the stand-ins in `lang`."""
        key = (value, lang)
        done = self._done.get(key)
        if done is None:
            if len(self._done) >= _REMEMBERED_TEXTS:
                self._done.clear()
            done = self._done[key] = self._text(value, lang)
        return done

    def _text(self, value: str, lang: str) -> str:
        email, number = i18n.text(lang, "scrub.email"), i18n.text(lang, "scrub.number")
        out = _EMAIL.sub(lambda m: email, value)
        out = _PHONE.sub(lambda m: number if sum(c.isdigit() for c in m.group()) >= _PHONE_DIGITS
                         else m.group(), out)
        for pattern, relation in self._pairs:
            stand_in = relation if relation and i18n.lang_of(lang) == "nl" else i18n.text(lang, "scrub.caregiver")
            out = pattern.sub(lambda m, s=stand_in: s, out)  # type: ignore[misc]
        return out

    def deep(self, value: object, lang: str = "nl") -> object:
        """Scrub every string inside nested dicts and lists; a {nl: ..., en: ...} dict's texts
        each in their own language."""
        if isinstance(value, str):
            return self.text(value, lang)
        if isinstance(value, Mapping):
            per_language = bool(value) and all(k in LANGS for k in value)
            return {k: self.deep(v, k if per_language else lang) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.deep(v, lang) for v in value]
        return value


def _pct(brightness: object) -> int | None:
    # Zigbee2MQTT brightness runs 0..254.
    if isinstance(brightness, int | float) and not isinstance(brightness, bool):
        return max(0, min(100, round(brightness / 254 * 100)))
    return None


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text else text


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


class Narrator:
    """Turns bus events into Narrations; remembers recent ones so effects can name causes."""

    def __init__(self, config: HomeConfig) -> None:
        self.config = config
        self.scrub = Scrubber(config)
        self.person = config.resident.pseudonym
        self._by_context: OrderedDict[str, Mapping[str, str]] = OrderedDict()
        self._seq = 0
        self._offline: set[str] = set()
        self._last_by_device: dict[str, tuple[str, str]] = {}
        self._tag_rooms: tuple[str, str] = ("", "")  # the worn tag's last two rooms told

    # -- names ----------------------------------------------------------------------------------

    def room_name(self, room: str | None, lang: str) -> str:
        """A room's display name (lower case, for inside a sentence)."""
        if room is None or room not in self.config.rooms:
            return i18n.text(lang, "narrate.the_house")
        r = self.config.rooms[room]
        name = (r.name_en or r.name) if lang == "en" else r.name
        return name.lower()

    def device_name(self, device: str, lang: str) -> str:
        """A device's display name."""
        dev = self.config.devices.get(device)
        if dev is None:
            return device
        if lang == "en":
            if dev.options.get("name_en"):
                return str(dev.options["name_en"])
            # The configured names are Dutch; say what it is and where instead.
            what = i18n.text("en", f"narrate.kind.{dev.kind}") if dev.kind in _KINDS else dev.kind
            return i18n.text("en", "narrate.device_in_room", what=what, room=self.room_name(dev.room, "en")) \
                if dev.room else what
        return dev.name or device.replace("_", " ")

    # -- sentences ------------------------------------------------------------------------------

    def narrate(self, event: Event[object]) -> Narration | None:
        """A sentence for `event`, or None when it is not worth telling a visitor."""
        text = self._sentences(event)
        if text is None:
            return None
        if event.device is not None:
            # A light confirming the command just told ("gaat aan op 10%") is not news twice.
            last = self._last_by_device.get(event.device)
            self._last_by_device[event.device] = (text["nl"], event.type)
            if event.type == STATE_CHANGED and last == (text["nl"], COMMAND_SENT):
                return None
        text = {lang: self.scrub.text(t, lang) for lang, t in text.items()}
        why = {lang: self.scrub.text(w, lang) for lang, w in self._why(event.context).items()}
        # The first sentence told for a context is how later effects refer to it; never a rule's
        # own effect: the bathroom light is not switched "after" the bedroom light it was
        # switched with, but after what made the rule act.
        if event.context.id not in self._by_context and not _by_rule(event.context):
            self._by_context[event.context.id] = text
            if len(self._by_context) > _MAX_REMEMBERED:
                self._by_context.popitem(last=False)
        self._seq += 1
        room = None
        if event.device is not None and event.device in self.config.devices:
            room = self.config.devices[event.device].room
        severity = event.data["severity"] if is_a(event, ALERT_CHANGED) else None
        return Narration(id=self._seq, time=event.time, event_type=event.type, device=event.device,
                         room=room, text=text, why=why, severity=severity)

    def _sentences(self, event: Event[object]) -> dict[str, str] | None:
        if is_a(event, ALERT_CHANGED):
            return self._alert_sentences(event.data)
        if event.device is None:
            return None
        if is_a(event, AVAILABILITY):
            return self._availability_sentences(event.device, event.data["online"])
        dev = self.config.devices.get(event.device)
        if dev is None:
            return None
        if is_a(event, STATE_CHANGED):
            new = {k: new for k, (_, new) in event.data["changes"].items()}
            return self._state_sentences(event.device, dev.kind, new)
        if is_a(event, COMMAND_SENT):
            return self._command_sentences(event.device, dev.kind, event.data["values"])
        if is_a(event, DEVICE_EVENT):
            return self._device_event_sentences(event.device, dev.kind, event.data)
        return None

    def _availability_sentences(self, device: str, online: bool) -> dict[str, str] | None:
        # A device's first message also marks it online: only a comeback is news.
        if online and device not in self._offline:
            return None
        (self._offline.discard if online else self._offline.add)(device)
        name = {lang: _upper_first(self.device_name(device, lang)) for lang in LANGS}
        return _say("narrate.device_back" if online else "narrate.device_gone", device=name)

    def _rooms(self, device: str) -> Words:
        return {lang: self.room_name(self.config.devices[device].room, lang) for lang in LANGS}

    def _state_sentences(self, device: str, kind: str, new: Mapping[str, object]) -> Words | None:
        p = self.person
        if kind == "bed" and "occupancy" in new:
            return _say("narrate.bed_in" if new["occupancy"] else "narrate.bed_out", person=p)
        if kind == "contact" and "contact" in new:
            # Zigbee2MQTT: contact true means the magnet is near, i.e. the door is closed.
            name = {lang: _lower_first(self.device_name(device, lang)) for lang in LANGS}
            return _say("narrate.door_closes" if new["contact"] else "narrate.door_opens", door=name)
        if kind == "motion" and new.get("occupancy") is True:
            return _say("narrate.motion", room=self._rooms(device))
        if kind == "light" and ("state" in new or "brightness" in new):
            return self._light(self._rooms(device), new)
        if kind == "curtain" and "position" in new and isinstance(new["position"], int | float):
            return _say("narrate.curtain_opens" if new["position"] >= 50 else "narrate.curtain_closes",
                        room=self._rooms(device))
        if kind == "tag" and "room" in new:
            return self._tag(new["room"])
        return None

    def _tag(self, where: object) -> Words | None:
        # A worn tag near a doorway is heard by two rooms in turn: flapping back to a room
        # just told is not news (the motion sensors tell where she walks).
        if isinstance(where, str) and where in self._tag_rooms:
            return None
        self._tag_rooms = (where if isinstance(where, str) else "", self._tag_rooms[0])
        if isinstance(where, str) and where in self.config.rooms:
            return _say("narrate.tag_room", person=self.person,
                        room={lang: self.room_name(where, lang) for lang in LANGS})
        return _say("narrate.tag_gone", person=self.person)

    def _light(self, room: Words, new: Mapping[str, object]) -> Words:
        state = str(new.get("state", "")).upper()
        pct = _pct(new.get("brightness"))
        if pct is None and isinstance(new.get("brightness_percent"), int | float):
            pct = max(0, min(100, round(float(new["brightness_percent"]))))  # type: ignore[arg-type]
        if state == "OFF":
            return _say("narrate.light_off", room=room)
        if state == "ON":
            return _say("narrate.light_on" if pct is None else "narrate.light_on_at", room=room, pct=pct)
        return _say("narrate.light_level", room=room, pct=pct)

    def _command_sentences(self, device: str, kind: str, values: Mapping[str, object]) -> Words | None:
        room = self._rooms(device)
        if kind == "light":
            return self._light(room, values)
        if kind == "curtain":
            pos = values.get("position")
            state = str(values.get("state", "")).upper()
            opened = state == "OPEN" or (isinstance(pos, int | float) and pos >= 50)
            return _say("narrate.hub_opens_curtain" if opened else "narrate.hub_closes_curtain", room=room)
        if kind == "speaker":
            said = values.get("say")
            if isinstance(said, str) and said:
                return _say("narrate.speaker_says", room=room, text=said)
        return None

    def _device_event_sentences(self, device: str, kind: str, data: Mapping[str, object]) -> Words | None:
        name = str(data.get("event") or data.get("action") or "")
        if kind == "sos" or name in ("sos", "emergency"):
            return _say("narrate.sos", person=self.person)
        if kind == "dispenser":
            said = _DISPENSER.get(name)
            return _say(f"narrate.dispenser_{said}", person=self.person) if said else None
        if name:
            return _say("narrate.device_event", device={lang: self.device_name(device, lang) for lang in LANGS},
                        event=name)
        return None

    def _alert_sentences(self, change: AlertChanged) -> dict[str, str] | None:
        # The same words as everywhere else an alert is told (controller/alerts/texts.py);
        # never who was paged or who answered.
        message = change.get("message")
        return texts.narration(str(change.get("action", "")), message if isinstance(message, str) else "",
                               str(change.get("message_en") or ""))

    # -- causes ---------------------------------------------------------------------------------

    def _why(self, ctx: Context) -> dict[str, str]:
        """What led to an event: the rule that acted and the earlier sentence that started it."""
        parts: dict[str, list[str]] = {"nl": [], "en": []}
        cause_text: Mapping[str, str] | None = None
        for depth, c in enumerate(ctx.chain()):
            kind, _, name = c.origin.partition(":")
            said = (rule_name(name) if kind in _RULE_ORIGINS else
                    i18n.both("narrate.by_caregiver") if kind in ("user", "caregiver") else
                    i18n.both("narrate.by_demonstration") if kind == "simulator" else None)
            if said is not None:
                for lang in LANGS:
                    parts[lang].append(said[lang])
            if depth > 0 and cause_text is None and c.id in self._by_context:
                cause_text = self._by_context[c.id]
        if cause_text is not None:
            for lang in LANGS:
                parts[lang].append(i18n.text(lang, "narrate.after", sentence=cause_text.get(lang, "").rstrip(".")))
        if not parts["nl"]:
            return {}
        return {lang: ", ".join(_dedupe(parts[lang])) for lang in LANGS}


_RULE_ORIGINS = ("scenario", "rule", "automation")

# The shipped scenarios as a visitor would name them (by id prefix, ids narrate.rule.<prefix>);
# the "why" of an effect. The longer prefix first ("night_exit_lights" before "night_exit").
_RULE_PREFIXES = ("night_exit_lights", "night_exit_warning", "night_exit", "wander", "sos", "medication",
                  "day_wake_light", "day_good_morning", "day_meals", "day_drinks", "day_activity",
                  "day_wind_down", "day_night_mode", "inactivity_not_up", "inactivity", "health")
# Dispenser events as the tour tells them (ids narrate.dispenser_<word>).
_DISPENSER = {"dose_due": "due", "due": "due", "taken": "taken", "dose_taken": "taken",
              "missed": "missed", "dose_missed": "missed", "refill_low": "low"}


def rule_name(scenario: str) -> Words:
    """A scenario as a visitor reads it, in every language: a plain name, never its id."""
    named = _RULE_NAMES.get(scenario)
    if named is None:
        if len(_RULE_NAMES) >= _REMEMBERED_TEXTS:
            _RULE_NAMES.clear()
        named = _RULE_NAMES[scenario] = _rule_name(scenario)
    return dict(named)


def _rule_name(scenario: str) -> Words:
    for prefix in _RULE_PREFIXES:
        if scenario.startswith(prefix):
            return i18n.both(f"narrate.rule.{prefix}")
    return i18n.both("narrate.rule.other", name=scenario.replace("_", " ").replace("-", " "))


_RULE_NAMES: dict[str, Words] = {}


def _by_rule(ctx: Context) -> bool:
    """Whether `ctx` is a rule acting (its events are effects, not causes of their siblings)."""
    return ctx.origin.partition(":")[0] in _RULE_ORIGINS


def _dedupe(items: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def events_from_history(rows: Iterable[HistoryRow]) -> list[Event[object]]:
    """Bus events rebuilt from history rows (one row per changed attribute), oldest first.

    Rows of one state change share time, device and cause; they become one event again. The
    old values are not stored, and sentences do not need them.
    """
    out: list[Event[object]] = []
    for row in rows:
        last = out[-1] if out else None
        if (row.type == STATE_CHANGED and last is not None and is_a(last, STATE_CHANGED)
                and last.time == row.time and last.device == row.device
                and last.context.explain() == row.cause):
            last.data["changes"][str(row.attribute)] = (None, row.value)
            continue
        context = Context.from_json(row.cause) or Context(origin="history")
        event = _event_from_row(row, context)
        if event is not None:
            out.append(event)
    return out


def _event_from_row(row: HistoryRow, context: Context) -> Event[object] | None:
    if row.type == STATE_CHANGED:
        return STATE_CHANGED.event(time=row.time, context=context, device=row.device,
                     data={"changes": {str(row.attribute): (None, row.value)}})
    if row.type == DEVICE_EVENT:
        data = {str(k): v for k, v in row.value.items()} if isinstance(row.value, dict) else {"event": row.value}
        return DEVICE_EVENT.event(time=row.time, context=context, device=row.device, data=data)
    if row.type == COMMAND_SENT:
        values = {str(k): v for k, v in row.value.items()} if isinstance(row.value, dict) else {}
        return COMMAND_SENT.event(time=row.time, context=context, device=row.device,
                     data={"values": values})
    return None
