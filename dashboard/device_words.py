"""Devices as a visitor reads them: a plain name and what the state means, in Dutch and English.

"Bed: in bed", "Voordeur: dicht", "Lamp slaapkamer: aan, 10%": never an attribute name or a raw
reading (linkquality, voltage, illuminance). Technicians get the attributes as well (`/devices`
when logged in as staff, and their own console).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from controller import i18n
from controller.config import HomeConfig
from controller.state import DeviceState

Words = dict[str, str]  # {"nl": ..., "en": ...}
LOW_BATTERY = 20  # percent: below this a visitor may as well know the battery wants changing

_KINDS = ("bed", "contact", "motion", "light", "curtain", "sos", "tag", "dispenser", "speaker")


def _w(msgid: str, /, **values: object) -> Words:
    """The words `msgid` (ids device.*) in every language."""
    return i18n.both(f"device.{msgid}", **values)


def _bed(a: Mapping[str, object], _cfg: HomeConfig) -> Words | None:
    if a.get("occupancy") is None:
        return None
    return _w("in_bed") if a["occupancy"] else _w("bed_empty")


def _contact(a: Mapping[str, object], _cfg: HomeConfig) -> Words | None:
    if a.get("open") is None:
        return None
    return _w("open") if a["open"] else _w("closed")


def _motion(a: Mapping[str, object], _cfg: HomeConfig) -> Words | None:
    if a.get("occupancy") is None:
        return None
    return _w("movement") if a["occupancy"] else _w("quiet")


def _light(a: Mapping[str, object], _cfg: HomeConfig) -> Words | None:
    state = str(a.get("state") or "").upper()
    if state not in ("ON", "OFF"):
        return None
    if state == "OFF":
        return _w("off")
    level = a.get("brightness")
    if isinstance(level, int | float) and not isinstance(level, bool):
        return _w("on_at", pct=max(1, round(level * 100 / 254)))
    return _w("on")


def _curtain(a: Mapping[str, object], _cfg: HomeConfig) -> Words | None:
    pos = a.get("position")
    if not isinstance(pos, int | float) or isinstance(pos, bool):
        return None
    if pos >= 95:
        return _w("open")
    if pos <= 5:
        return _w("closed")
    return _w("open_pct", pct=round(pos))


def _tag(a: Mapping[str, object], cfg: HomeConfig) -> Words | None:
    room = a.get("room")
    if room == "outside":
        return _w("out_of_range")
    if isinstance(room, str) and room in cfg.rooms:
        r = cfg.rooms[room]
        return {"nl": i18n.text("nl", "device.seen_in", room=r.name),
                "en": i18n.text("en", "device.seen_in", room=r.name_en or r.name)}
    return None


def _dispenser(a: Mapping[str, object], _cfg: HomeConfig) -> Words | None:
    left, nxt = a.get("doses_left"), a.get("next_dose")
    if left is None and nxt is None:
        return None
    parts = [_w("next_dose", time=nxt)] if nxt else []
    if isinstance(left, int):
        parts.append(i18n.nboth("device.doses_left", left))
    return {lang: ", ".join(p[lang] for p in parts) for lang in i18n.LANGS}


def _speaker(a: Mapping[str, object], _cfg: HomeConfig) -> Words | None:
    if a.get("speaking") is None:
        return None
    return _w("speaking") if a["speaking"] else _w("silent")


def _sos(_a: Mapping[str, object], _cfg: HomeConfig) -> Words | None:
    return _w("ready")


_STATE: dict[str, Callable[[Mapping[str, object], HomeConfig], Words | None]] = {
    "bed": _bed, "contact": _contact, "motion": _motion, "light": _light, "curtain": _curtain,
    "tag": _tag, "dispenser": _dispenser, "speaker": _speaker, "sos": _sos,
}


def state_words(st: DeviceState, cfg: HomeConfig) -> Words:
    """What a device's state means, in both languages; '—' when nothing is known yet."""
    if st.available is False:
        return _w("not_connected")
    if st.last_seen is None:
        return dict.fromkeys(i18n.LANGS, "—")  # never heard yet
    rule = _STATE.get(st.kind)
    words = rule(st.attributes, cfg) if rule is not None else None
    words = words or dict.fromkeys(i18n.LANGS, "—")
    battery = st.attributes.get("battery")
    if isinstance(battery, int | float) and not isinstance(battery, bool) and battery < LOW_BATTERY:
        words = {lang: i18n.text(lang, "device.battery_low", state=words[lang]) for lang in i18n.LANGS}
    return words


def visitor_device(st: DeviceState, cfg: HomeConfig, name_en: str) -> dict[str, object]:
    """One device for a visitor: names, room, what the state means, whether it is reachable."""
    dev = cfg.devices[st.device]
    room = cfg.rooms.get(st.room) if st.room else None
    kind = i18n.both(f"device.kind.{st.kind}") if st.kind in _KINDS else dict.fromkeys(i18n.LANGS, st.kind)
    kind_nl, kind_en = kind["nl"], kind["en"]
    return {
        "device": st.device,
        "name": dev.name or kind_nl,
        "name_en": name_en,
        "kind_name": kind_nl,
        "kind_name_en": kind_en,
        "room_name": room.name if room else None,
        "room_name_en": (room.name_en or room.name) if room else None,
        "state": state_words(st, cfg),
        "available": st.available,
        "last_seen": st.last_seen.isoformat() if st.last_seen else None,
    }
