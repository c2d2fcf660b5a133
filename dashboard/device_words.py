"""Devices as a visitor reads them: a plain name and what the state means, in Dutch and English.

"Bed: in bed", "Voordeur: dicht", "Lamp slaapkamer: aan, 10%": never an attribute name or a raw
reading (linkquality, voltage, illuminance). Technicians get the attributes as well (`/devices`
when logged in as staff, and their own console).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from controller.config import HomeConfig
from controller.state import DeviceState

Words = dict[str, str]  # {"nl": ..., "en": ...}
LOW_BATTERY = 20  # percent: below this a visitor may as well know the battery wants changing

_KIND: dict[str, tuple[str, str]] = {
    "bed": ("Bedsensor", "Bed sensor"), "contact": ("Deurcontact", "Door contact"),
    "motion": ("Bewegingsmelder", "Motion sensor"), "light": ("Lamp", "Light"),
    "curtain": ("Gordijn", "Curtain"), "sos": ("Alarmknop", "Alarm button"),
    "tag": ("Dwaaldetectie-label", "Wandering tag"), "dispenser": ("Medicijndispenser", "Medication dispenser"),
    "speaker": ("Spraakspeaker", "Speaker"),
}


def _w(nl: str, en: str) -> Words:
    return {"nl": nl, "en": en}


def _bed(a: Mapping[str, object], _cfg: HomeConfig) -> Words | None:
    if a.get("occupancy") is None:
        return None
    return _w("in bed", "in bed") if a["occupancy"] else _w("bed leeg", "bed empty")


def _contact(a: Mapping[str, object], _cfg: HomeConfig) -> Words | None:
    if a.get("open") is None:
        return None
    return _w("open", "open") if a["open"] else _w("dicht", "closed")


def _motion(a: Mapping[str, object], _cfg: HomeConfig) -> Words | None:
    if a.get("occupancy") is None:
        return None
    return _w("beweging", "movement") if a["occupancy"] else _w("rustig", "quiet")


def _light(a: Mapping[str, object], _cfg: HomeConfig) -> Words | None:
    state = str(a.get("state") or "").upper()
    if state not in ("ON", "OFF"):
        return None
    if state == "OFF":
        return _w("uit", "off")
    level = a.get("brightness")
    if isinstance(level, int | float) and not isinstance(level, bool):
        pct = max(1, round(level * 100 / 254))
        return _w(f"aan, {pct}%", f"on, {pct}%")
    return _w("aan", "on")


def _curtain(a: Mapping[str, object], _cfg: HomeConfig) -> Words | None:
    pos = a.get("position")
    if not isinstance(pos, int | float) or isinstance(pos, bool):
        return None
    if pos >= 95:
        return _w("open", "open")
    if pos <= 5:
        return _w("dicht", "closed")
    return _w(f"{round(pos)}% open", f"{round(pos)}% open")


def _tag(a: Mapping[str, object], cfg: HomeConfig) -> Words | None:
    room = a.get("room")
    if room == "outside":
        return _w("buiten bereik", "out of range")
    if isinstance(room, str) and room in cfg.rooms:
        r = cfg.rooms[room]
        return _w(f"gezien in: {r.name}", f"seen in: {r.name_en or r.name}")
    return None


def _dispenser(a: Mapping[str, object], _cfg: HomeConfig) -> Words | None:
    left, nxt = a.get("doses_left"), a.get("next_dose")
    if left is None and nxt is None:
        return None
    nl = [f"volgende dosis {nxt}"] if nxt else []
    en = [f"next dose {nxt}"] if nxt else []
    if isinstance(left, int):
        nl.append(f"nog {left} {'dosis' if left == 1 else 'doses'}")
        en.append(f"{left} {'dose' if left == 1 else 'doses'} left")
    return _w(", ".join(nl), ", ".join(en))


def _speaker(a: Mapping[str, object], _cfg: HomeConfig) -> Words | None:
    if a.get("speaking") is None:
        return None
    return _w("spreekt", "speaking") if a["speaking"] else _w("stil", "silent")


def _sos(_a: Mapping[str, object], _cfg: HomeConfig) -> Words | None:
    return _w("klaar voor gebruik", "ready")


_STATE: dict[str, Callable[[Mapping[str, object], HomeConfig], Words | None]] = {
    "bed": _bed, "contact": _contact, "motion": _motion, "light": _light, "curtain": _curtain,
    "tag": _tag, "dispenser": _dispenser, "speaker": _speaker, "sos": _sos,
}


def state_words(st: DeviceState, cfg: HomeConfig) -> Words:
    """What a device's state means, in both languages; '—' when nothing is known yet."""
    if st.available is False:
        return _w("geen verbinding", "not connected")
    if st.last_seen is None:
        return _w("—", "—")  # never heard yet
    rule = _STATE.get(st.kind)
    words = rule(st.attributes, cfg) if rule is not None else None
    words = words or _w("—", "—")
    battery = st.attributes.get("battery")
    if isinstance(battery, int | float) and not isinstance(battery, bool) and battery < LOW_BATTERY:
        words = _w(f"{words['nl']}; batterij bijna leeg", f"{words['en']}; battery low")
    return words


def visitor_device(st: DeviceState, cfg: HomeConfig, name_en: str) -> dict[str, object]:
    """One device for a visitor: names, room, what the state means, whether it is reachable."""
    dev = cfg.devices[st.device]
    room = cfg.rooms.get(st.room) if st.room else None
    kind_nl, kind_en = _KIND.get(st.kind, (st.kind, st.kind))
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
