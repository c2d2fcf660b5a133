"""Why a scenario did or did not run: where it is loaded from, what its triggers saw, what failed.

A trace answers "why did it fire"; a scenario that never fired leaves no trace to read. This
module answers the other question from what the hub keeps anyway: the scenario set (loaded or
not, from which file), the history table (when each trigger's device and attribute last changed,
and last changed to what the trigger waits for), the engine's traces (the last time conditions
were evaluated and which were false, cooldowns) and its pending `for:` timers; for time and sun
triggers, the next moment they fire. `huis trace SCENARIO` and the technician console both show it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

from controller import i18n
from controller.config import HomeConfig
from controller.engine import model as m
from controller.engine.compiled import (
    EventTriggerRT,
    HubTriggerRT,
    StateTriggerRT,
    TriggerRT,
    compile_condition,
    compile_trigger,
    norm,
)
from controller.engine.scenario_files import is_config, scenario_files
from controller.engine.scenario_set import LoadedScenario
from controller.engine.sun import next_sun_event, next_time_of_day, spoken_duration
from controller.engine.traces import NOT_FIRED, SKIPPED, Trace, load_traces
from controller.errors import ConfigError
from controller.store import Database
from controller.yamlfile import load_file

# How far back the history is searched for a trigger's last matching value.
_ROWS = 2000
_HOUSE = {m.ModeTrigger: "mode", m.PresenceTrigger: "presence"}


@dataclass(frozen=True, slots=True, kw_only=True)
class TriggerWhy:
    """One trigger of a scenario and what the hub saw of it."""

    id: str
    description: str
    watches: str = ""  # 'bed_sensor.occupancy', 'sos_button event', '' for time and sun
    recorded: bool = False  # whether the history records what this trigger listens to
    last_seen: datetime | None = None  # the watched attribute or event last reported
    last_value: object = None
    last_match: datetime | None = None  # last reported as the trigger wants it
    next_at: datetime | None = None  # time and sun triggers
    last_fired: datetime | None = None  # the last trace this trigger started

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "description": self.description, "watches": self.watches,
                "recorded": self.recorded, "last_seen": _iso(self.last_seen),
                "last_value": self.last_value, "last_match": _iso(self.last_match),
                "next_at": _iso(self.next_at), "last_fired": _iso(self.last_fired)}


@dataclass(frozen=True, slots=True, kw_only=True)
class Why:
    """Everything `huis trace` says about a scenario before (or instead of) its traces."""

    scenario: str
    known: bool  # in the running set or in one of the scenario files
    loaded: bool
    file: str | None = None
    line: int | None = None
    description: str = ""
    enabled: bool = True
    problems: tuple[str, ...] = ()  # why the files holding it do not load
    near: tuple[str, ...] = ()  # known scenario ids close to an unknown one
    triggers: tuple[TriggerWhy, ...] = ()
    conditions: tuple[str, ...] = ()
    said: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # the conditions, per language
    last_refusal: Trace | None = None  # the last time a trigger fired and no run started
    last_run: Trace | None = None
    timers: tuple[datetime, ...] = ()  # pending `for:` deadlines
    history: bool = False  # whether the database keeps a history to look in
    now: datetime | None = None

    @property
    def verdict(self) -> str:
        """The short answer, as a code: unknown, not_loaded, disabled, waiting, refused,
        not_triggered or ran (the newest of refused and ran when both happened)."""
        if not self.known:
            return "unknown"
        if not self.loaded:
            return "not_loaded"
        if not self.enabled:
            return "disabled"
        if self.timers:
            return "waiting"
        refused, ran = self.last_refusal, self.last_run
        if refused is not None and (ran is None or refused.started > ran.started):
            return "refused"
        return "ran" if ran is not None else "not_triggered"

    def as_dict(self) -> dict[str, object]:
        return {"scenario": self.scenario, "verdict": self.verdict, "known": self.known,
                "loaded": self.loaded, "file": self.file, "line": self.line,
                "description": self.description, "enabled": self.enabled,
                "problems": list(self.problems), "near": list(self.near),
                "triggers": [t.as_dict() for t in self.triggers],
                "conditions": list(self.conditions),
                "conditions_said": {lang: list(texts) for lang, texts in self.said.items()},
                "last_refusal": _trace_dict(self.last_refusal), "last_run": _trace_dict(self.last_run),
                "timers": [t.isoformat() for t in self.timers], "history": self.history,
                "now": _iso(self.now)}


# -- finding a scenario in the files --------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class FileIds:
    """The scenario ids written in a set of files, with where, read without validating."""

    where: dict[str, tuple[str, int | None]] = field(default_factory=dict)


def ids_in_files(paths: Iterable[str | Path]) -> FileIds:
    """Every scenario id in the scenario files at `paths` (configurations skipped), valid or not."""
    found = FileIds()
    for path in scenario_files(paths):
        try:
            doc = load_file(path)
        except ConfigError:
            continue
        data = doc.data
        if is_config(path, doc) or not isinstance(data, dict) or not isinstance(data.get("scenarios"), list):
            continue
        for i, item in enumerate(data["scenarios"]):
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                found.where.setdefault(item["id"], (doc.file, doc.line(("scenarios", i, "id"))))
    return found


def near_names(scenario: str, ids: Iterable[str], n: int = 5) -> tuple[str, ...]:
    """Known ids that look like `scenario`: close spellings first, then ids sharing a word."""
    import difflib

    choices = sorted(set(ids))
    close = difflib.get_close_matches(scenario, choices, n=n, cutoff=0.5)
    words = {w for w in scenario.lower().replace("-", "_").split("_") if len(w) >= 3}
    sharing = [c for c in choices if c not in close and words & set(c.split("_"))]
    return tuple([*close, *sharing][:n])


# -- explaining -----------------------------------------------------------------------------------


async def explain(db: Database, cfg: HomeConfig, scenario: str, loaded: LoadedScenario | None,
                  now: datetime, *, files: FileIds | None = None,
                  problems: Sequence[str] = ()) -> Why:
    """Why `scenario` did or did not run. `loaded` is the scenario as the hub runs it (None:
    not in the running set); `files` says where the id is written otherwise (and the near names
    of an unknown one); `problems` why those files do not load."""
    files = files or FileIds()
    if loaded is None:
        spot = files.where.get(scenario)
        return Why(scenario=scenario, known=spot is not None, loaded=False,
                   file=spot[0] if spot else None, line=spot[1] if spot else None,
                   problems=tuple(problems) if spot else (),
                   near=() if spot else near_names(scenario, files.where), now=now)
    has_history = await _has_table(db, "history")
    traces = await load_traces(db, scenario, 100) if await _has_table(db, "engine_traces") else []
    triggers = [compile_trigger(scenario, i, t, cfg) for i, t in enumerate(loaded.model.triggers)]
    seen = [await _trigger_why(db, cfg, tr, now, traces, has_history) for tr in triggers]
    return Why(
        scenario=scenario, known=True, loaded=True, file=loaded.file, line=loaded.line,
        description=loaded.model.description, enabled=loaded.model.enabled,
        triggers=tuple(seen), conditions=tuple(_condition_texts(loaded, cfg)),
        said={lang: tuple(condition_words(c, cfg, lang) for c in loaded.model.conditions) for lang in i18n.LANGS},
        last_refusal=next((t for t in traces if t.status in (NOT_FIRED, SKIPPED)), None),
        last_run=next((t for t in traces if t.status not in (NOT_FIRED, SKIPPED)), None),
        timers=tuple(await _timers(db, scenario)), history=has_history, now=now)


def _condition_texts(loaded: LoadedScenario, cfg: HomeConfig) -> list[str]:
    return [compile_condition(c, cfg).description for c in loaded.model.conditions]


def condition_words(c: m.Condition, cfg: HomeConfig, lang: str) -> str:
    """A condition as the technician console says it, in `lang` (ids why.cond.*); the trace
    notation (`compile_condition(...).description`) for the kinds it does not word."""
    say = _SAY.get(type(c))
    return say(c, cfg, lang) if say is not None else compile_condition(c, cfg).description


def _word(lang: str, msgid: str, /, **values: object) -> str:
    return i18n.text(lang, f"why.cond.{msgid}", **values)


def _shown(value: object, lang: str) -> str:
    if isinstance(value, list):
        return i18n.text(lang, "why.cond.one_of", values=", ".join(_shown(v, lang) for v in value))
    if isinstance(value, bool):
        return _word(lang, "true" if value else "false")
    return str(value)


def _test_words(c: m.StateCondition | m.HeldCondition, lang: str) -> str:
    above = getattr(c, "above", None)
    below = getattr(c, "below", None)
    not_ = getattr(c, "not_", None)
    parts = [_word(lang, "is", value=_shown(c.is_, lang))] if c.is_ is not None else []
    parts += [_word(lang, "is_not", value=_shown(not_, lang))] if not_ is not None else []
    parts += [_word(lang, "above", value=f"{above:g}")] if above is not None else []
    parts += [_word(lang, "below", value=f"{below:g}")] if below is not None else []
    return _word(lang, "and_").join(parts)


def _say_state(c: m.Condition, cfg: HomeConfig, lang: str) -> str:
    assert isinstance(c, m.StateCondition | m.HeldCondition)
    what = f"{_selector_words(c, lang)}.{c.attribute}"
    text = _word(lang, "state", what=what, test=_test_words(c, lang))
    if c.for_ is not None:
        text += " " + _word(lang, "for", duration=spoken_duration(c.for_, lang))
    if isinstance(c, m.HeldCondition):
        text += " " + _word(lang, "since", time=c.since.strftime("%H:%M"))
    return text


def _selector_words(sel: m.Selector, lang: str) -> str:
    if sel.device is not None:
        return _shown(sel.device, lang) if not isinstance(sel.device, list) else "/".join(sel.device)
    bits = [_word(lang, "every", kind=sel.kind)] if sel.kind is not None else []
    bits += [_word(lang, "in_room", room=_shown(sel.room, lang))] if sel.room is not None else []
    return " ".join(bits) or _word(lang, "any_device")


def _say_time(c: m.Condition, cfg: HomeConfig, lang: str) -> str:
    assert isinstance(c, m.TimeCondition)
    after = c.after.strftime("%H:%M") if c.after else "00:00"
    before = c.before.strftime("%H:%M") if c.before else "24:00"
    text = _word(lang, "time", after=after, before=before)
    if c.weekdays is not None and len(c.weekdays) < 7:
        text += " " + _word(lang, "days", days=", ".join(_word(lang, f"day.{m.WEEKDAYS[d]}")
                                                           for d in sorted(c.weekdays)))
    return text


def _say_logic(c: m.Condition, cfg: HomeConfig, lang: str) -> str:
    assert isinstance(c, m.AndCondition | m.OrCondition | m.NotCondition)
    inner = "; ".join(condition_words(sub, cfg, lang) for sub in c.conditions)
    return _word(lang, {m.AndCondition: "all", m.OrCondition: "any", m.NotCondition: "none"}[type(c)], inner=inner)


def _say_simple(c: m.Condition, cfg: HomeConfig, lang: str) -> str:
    if isinstance(c, m.ModeCondition):
        return _word(lang, "mode", value=_shown(c.is_, lang))
    if isinstance(c, m.ResidentCondition):
        return _word(lang, "resident", value=i18n.text(lang, f"device.presence.{c.is_}"))
    if isinstance(c, m.AlertCondition):
        return _word(lang, "alert_active" if c.active else "alert_inactive", key=c.key)
    if isinstance(c, m.TriggerCondition):
        return _word(lang, "trigger", value=_shown(c.id, lang))
    if isinstance(c, m.WaitCondition):
        return _word(lang, f"wait_{c.result}")
    assert isinstance(c, m.ParameterCondition)
    return _word(lang, "parameter", name=c.name, value=_shown(c.is_, lang))


_SAY: dict[type, Callable[[m.Condition, HomeConfig, str], str]] = {
    m.StateCondition: _say_state, m.HeldCondition: _say_state, m.TimeCondition: _say_time,
    m.AndCondition: _say_logic, m.OrCondition: _say_logic, m.NotCondition: _say_logic,
    m.ModeCondition: _say_simple, m.ResidentCondition: _say_simple, m.AlertCondition: _say_simple,
    m.TriggerCondition: _say_simple, m.WaitCondition: _say_simple, m.ParameterCondition: _say_simple,
}


async def _has_table(db: Database, name: str) -> bool:
    return await db.fetchone("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                             (name,)) is not None


async def _timers(db: Database, scenario: str) -> list[datetime]:
    if not await _has_table(db, "engine_timers"):
        return []
    rows = await db.fetchall("SELECT deadline FROM engine_timers WHERE scenario = ? ORDER BY deadline",
                             (scenario,))
    return [datetime.fromisoformat(str(r["deadline"])) for r in rows]


async def _trigger_why(db: Database, cfg: HomeConfig, tr: TriggerRT, now: datetime,
                       traces: Sequence[Trace], has_history: bool) -> TriggerWhy:
    fired = next((t.started for t in traces if t.trigger.get("id") == tr.id
                  and t.trigger.get("type") != "manual"), None)
    base = TriggerWhy(id=tr.id, description=tr.description, last_fired=fired)
    model = tr.model
    if isinstance(model, m.TimeTrigger | m.SunTrigger):
        return _replace(base, next_at=_next_moment(cfg, model, now))
    query = _history_query(tr)
    if query is None:
        return base
    watches, sql, params, wanted = query
    if not has_history:
        return _replace(base, watches=watches)
    rows = await db.fetchall(sql + " ORDER BY id DESC LIMIT ?", (*params, _ROWS))
    values = [(datetime.fromisoformat(str(r["time"])), _value(r["value"])) for r in rows]
    last = values[0] if values else None
    match = next((t for t, v in values if wanted(v)), None)
    return _replace(base, watches=watches, recorded=True, last_seen=last[0] if last else None,
                    last_value=last[1] if last else None, last_match=match)


_Query = tuple[str, str, tuple[object, ...], "_Test"]


class _Test:
    """What a history value must be for a trigger to count it (a callable)."""

    def __init__(self, test: object) -> None:
        self._test = test

    def __call__(self, value: object) -> bool:
        return bool(self._test(value)) if callable(self._test) else True


def _history_query(tr: TriggerRT) -> _Query | None:
    """(what it watches, SQL, parameters, match test) for the history rows a trigger listens to."""
    if isinstance(tr, StateTriggerRT):
        marks = ",".join("?" * len(tr.devices))
        test = tr.test if tr.test.has_target else None
        return (f"{'/'.join(tr.devices)}.{tr.attribute}",
                f"SELECT time, value FROM history WHERE type = 'state_changed' AND device IN ({marks})"
                " AND attribute = ?", (*tr.devices, tr.attribute), _Test(test))
    if isinstance(tr, EventTriggerRT):
        marks = ",".join("?" * len(tr.devices))
        events = tr.events
        return (f"{'/'.join(tr.devices)} event",
                f"SELECT time, value FROM history WHERE type = 'device_event' AND device IN ({marks})",
                tuple(tr.devices), _Test(None if events is None else lambda v: _event_name(v) in events))
    if isinstance(tr, HubTriggerRT) and tr.event in ("offline", "online"):
        want = tr.event == "online"
        return ("availability", "SELECT time, value FROM history WHERE type = 'availability'", (),
                _Test(lambda v: v is want))
    kind = _HOUSE.get(type(tr.model)) if tr.model is not None else None
    if kind is not None:
        assert isinstance(tr.model, m.ModeTrigger | m.PresenceTrigger)
        to = tr.model.to
        return (f"house {kind}", "SELECT time, value FROM history WHERE device IS NULL AND attribute = ?",
                (kind,), _Test(None if to is None else lambda v: norm(v) in (to if isinstance(to, list) else [to])))
    return None


def _event_name(value: object) -> object:
    return value.get("event") if isinstance(value, dict) else value


def _value(raw: object) -> object:
    try:
        return json.loads(str(raw))
    except ValueError:
        return raw


def _next_moment(cfg: HomeConfig, t: m.TimeTrigger | m.SunTrigger, now: datetime) -> datetime | None:
    loc = cfg.home.location
    tz = ZoneInfo(loc.timezone)
    if isinstance(t, m.TimeTrigger):
        times = t.at if isinstance(t.at, list) else [t.at]
        return next_time_of_day(now, times, tz, t.weekdays)
    return next_sun_event(now, loc.latitude, loc.longitude, t.event, t.offset, tz, t.weekdays)


def _replace(base: TriggerWhy, **changes: object) -> TriggerWhy:
    from dataclasses import replace

    return replace(base, **changes)  # type: ignore[arg-type]


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


def _trace_dict(t: Trace | None) -> dict[str, object] | None:
    if t is None:
        return None
    return {"started": t.started.isoformat(), "status": t.status, "trigger": dict(t.trigger),
            "conditions": [dict(c) for c in t.conditions], "notes": list(t.notes)}


# -- as text, for `huis trace` ---------------------------------------------------------------------

_When = Callable[[datetime | None], str]


def render_why(why: Why, tz: tzinfo | None = None) -> list[str]:
    """The explanation as lines of text (English, like the rest of `huis trace`)."""

    def when(d: datetime | None) -> str:
        return (d.astimezone(tz) if tz else d).strftime("%Y-%m-%d %H:%M:%S") if d else "never"

    if not why.known:
        near = ", ".join(why.near) if why.near else "none close"
        return [f"There is no scenario '{why.scenario}' in the running set or in the scenario files.",
                f"  near names: {near}", "  `huis trace` with no name lists the traces of every scenario."]
    if not why.loaded:
        lines = [f"{why.scenario}: written in {why.file}:{why.line or '?'} but NOT loaded."]
        lines += [f"  problem  {p}" for p in why.problems] or \
            ["  the files are valid now: `huis reload` loads them into the running hub."]
        return lines
    lines = [f"{why.scenario}: loaded from {why.file}:{why.line or '?'} ({why.description})"]
    if not why.enabled:
        lines.append("  DISABLED (enabled: false): it never runs until enabled.")
    lines.extend(_trigger_lines(why, when))
    lines.extend(f"  condition {c}" for c in why.conditions)
    lines.extend(_outcome_lines(why, when))
    return lines


def _trigger_lines(why: Why, when: _When) -> list[str]:
    lines: list[str] = []
    for t in why.triggers:
        lines.append(f"  trigger  {t.description}")
        if t.next_at is not None or not t.watches:
            lines.append(f"           next at {when(t.next_at)}" if t.next_at else
                         "           not in the history (the engine sees it live only)")
        elif not why.history:
            lines.append("           no history in this database to look in")
        elif t.last_seen is None:
            lines.append(f"           {t.watches}: never reported in the history (30 days)")
        else:
            lines.append(f"           {t.watches}: last reported {when(t.last_seen)} "
                         f"({json.dumps(t.last_value, default=str, ensure_ascii=False)}); "
                         f"as this trigger wants it: {when(t.last_match)}")
        lines.append(f"           fired this scenario: {when(t.last_fired)}")
    return lines


def _outcome_lines(why: Why, when: _When) -> list[str]:
    lines = [f"  timer    {what} pending until {when(d)}" for what, d in (("for:", d) for d in why.timers)]
    refused = why.last_refusal
    if refused is not None:
        lines.append(f"  last evaluation {when(refused.started)}: {refused.status} "
                     f"({refused.trigger.get('description', '?')})")
        lines.extend(f"           {'ok' if c.get('result') else 'FALSE':<6} {c.get('condition')}"
                     for c in refused.conditions)
        lines.extend(f"           {n}" for n in refused.notes)
    verdict = {
        "disabled": "it is disabled.",
        "waiting": "a `for:` timer is running; it fires when that ends unless the value changes back.",
        "refused": "its trigger fired, but it did not run (see the last evaluation).",
        "not_triggered": "none of its triggers has fired since the traces began.",
        "ran": f"it last ran {when(why.last_run.started if why.last_run else None)}.",
    }[why.verdict]
    lines.append(f"  why      {verdict}")
    return lines
