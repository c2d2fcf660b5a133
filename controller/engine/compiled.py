"""Validated scenario models compiled into what the engine runs: matchers and condition tests.

Compiling once at load time keeps the hot path to a dictionary lookup and a few comparisons per
event: device lists are resolved, values normalised, descriptions for traces written in advance.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Protocol

from controller.config import HomeConfig
from controller.engine import model as m
from controller.engine.loader import select_devices
from controller.engine.sun import in_window, spoken_duration
from controller.engine.templates import format_value, lookup_path, parse_template
from controller.events import Context
from controller.routine import ACTIVITY, Routine


class Env(Protocol):
    """What conditions look at: the engine's picture of the home and of time."""

    def value(self, device: str, attribute: str) -> object: ...
    def changed_at(self, device: str, attribute: str) -> datetime | None: ...
    def now(self) -> datetime: ...
    def local_now(self) -> datetime: ...
    def house(self, name: str) -> str: ...
    def alert_active(self, key: str) -> bool: ...
    def sun_time(self, day: date, event: str) -> datetime | None: ...
    def held(self, device: str, attribute: str, test: Callable[[object], bool],
             since: datetime, *, total: bool = False) -> timedelta: ...
    def routine(self) -> Routine: ...


RunVars = Mapping[str, object]  # {"trigger": {...}, "wait": {...}, "params": {...}}


def run_value(run: RunVars, path: tuple[str, ...]) -> object:
    """A template name that a run's own variables answer: trigger.*, wait.* or a parameter."""
    root = path[0]
    if root in ("trigger", "wait"):
        return lookup_path(run.get(root) or {}, path[1:])
    return lookup_path(run, ("params", root)) if len(path) == 1 else None


def norm(value: object) -> object:
    """A value as compared: strings case-insensitively, everything else as is."""
    return value.casefold() if isinstance(value, str) else value


def _norm_set(values: object) -> frozenset[object] | None:
    if values is None:
        return None
    items = values if isinstance(values, list) else [values]
    return frozenset(norm(v) for v in items)


def _show(values: object) -> str:
    if isinstance(values, list):
        return "[" + ", ".join(_show(v) for v in values) + "]"
    if isinstance(values, bool):
        return "true" if values else "false"
    return str(values)


def digest(model: m._Strict, *, exclude: set[str] | None = None) -> str:
    """A short stable hash of a model (to recognise "the same trigger" across reloads)."""
    body = json.dumps(model.model_dump(mode="json", by_alias=True, exclude=exclude),
                      sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:12]


class ValueTest:
    """to/from/above/below (trigger) or is/not/above/below (condition) on one value."""

    __slots__ = ("is_set", "not_set", "above", "below", "has_target")

    def __init__(self, is_: object, not_: object, above: float | None, below: float | None) -> None:
        self.is_set = _norm_set(is_)
        self.not_set = _norm_set(not_)
        self.above = above
        self.below = below
        self.has_target = is_ is not None or not_ is not None or above is not None or below is not None

    def __call__(self, value: object) -> bool:
        if value is None:
            return False
        if self.is_set is not None and norm(value) not in self.is_set:
            return False
        if self.not_set is not None and norm(value) in self.not_set:
            return False
        if self.above is not None or self.below is not None:
            if isinstance(value, bool) or not isinstance(value, int | float):
                return False
            if self.above is not None and not value > self.above:
                return False
            if self.below is not None and not value < self.below:
                return False
        return True


def _describe_test(is_: object, not_: object, above: float | None, below: float | None, word: str) -> str:
    parts = []
    if is_ is not None:
        parts.append(f"{word} {_show(is_)}")
    if not_ is not None:
        parts.append(f"not {_show(not_)}")
    if above is not None:
        parts.append(f"above {above:g}")
    if below is not None:
        parts.append(f"below {below:g}")
    return " ".join(parts)


def _selector_text(sel: m.Selector | m.OptionalSelector) -> str:
    bits = []
    if sel.device is not None:
        bits.append(_show(sel.device))
    if sel.kind is not None:
        bits.append(f"every {sel.kind}")
    if sel.room is not None:
        bits.append(f"in {_show(sel.room)}")
    return " ".join(bits) or "any device"


# -- triggers -----------------------------------------------------------------------------------

TriggerModel = (m.StateTrigger | m.TimeTrigger | m.SunTrigger | m.EventTrigger | m.AlertTrigger
                | m.HubTrigger | m.ModeTrigger | m.PresenceTrigger)
Vars = dict[str, object]  # a trigger's or a run's variables ({trigger.*}): JSON-like values
FireFn = Callable[["TriggerRT", Vars, Context], None]


@dataclass(slots=True, eq=False, kw_only=True)
class TriggerRT:
    """A compiled trigger. `owner` is the scenario id, or a run id for a wait's triggers."""

    owner: str
    index: int
    id: str
    model: TriggerModel | None  # None: a run started by hand
    description: str
    key: str  # stable across reloads while the trigger means the same thing
    durable: bool = True  # a scenario's trigger (persisted timers), not a wait's
    fire: FireFn | None = None


@dataclass(slots=True, eq=False, kw_only=True)
class StateTriggerRT(TriggerRT):
    devices: tuple[str, ...]
    attribute: str
    test: ValueTest
    from_test: ValueTest | None
    for_: timedelta | None
    match_all: bool
    holding: bool = False  # match: all, whether every device matches right now

    def from_ok(self, old: object) -> bool:
        return self.from_test is None or self.from_test(old)


@dataclass(slots=True, eq=False, kw_only=True)
class EventTriggerRT(TriggerRT):
    devices: tuple[str, ...]
    events: frozenset[str] | None
    data: Mapping[str, object]


@dataclass(slots=True, eq=False, kw_only=True)
class HubTriggerRT(TriggerRT):
    event: str
    devices: frozenset[str] | None  # None: every device
    below: float


@dataclass(slots=True, eq=False, kw_only=True)
class SimpleTriggerRT(TriggerRT):
    """time, sun, alert, mode and presence triggers: matched by the engine on the model."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Head:
    """What every compiled trigger has, worked out before its kind is looked at."""

    owner: str
    index: int
    id: str
    key: str


def compile_trigger(owner: str, index: int, t: TriggerModel, cfg: HomeConfig, *,
                    durable: bool = True) -> TriggerRT:
    """A trigger model -> its runtime form."""
    head = _Head(owner=owner, index=index, id=t.id or str(index),
                 key=f"{owner}|{digest(t, exclude={'for_'})}")
    if isinstance(t, m.StateTrigger):
        rt: TriggerRT = _state_trigger(head, t, cfg)
    elif isinstance(t, m.EventTrigger):
        rt = _event_trigger(head, t, cfg)
    elif isinstance(t, m.HubTrigger):
        rt = _hub_trigger(head, t, cfg)
    else:
        rt = SimpleTriggerRT(owner=owner, index=index, id=head.id, model=t,
                             description=_simple_description(t), key=head.key)
    rt.durable = durable
    return rt


def _state_trigger(head: _Head, t: m.StateTrigger, cfg: HomeConfig) -> StateTriggerRT:
    desc = f"state {_selector_text(t)}.{t.attribute}"
    change = _describe_test(t.to, None, t.above, t.below, "->")
    if t.from_ is not None:
        desc += f" from {_show(t.from_)}"
    desc += f" {change}" if change else " changes"
    if t.match == "all":
        desc += " (all)"
    if t.for_ is not None:
        desc += f" for {spoken_duration(t.for_, 'en')}"
    return StateTriggerRT(
        owner=head.owner, index=head.index, id=head.id, model=t, description=desc, key=head.key,
        devices=tuple(select_devices(cfg, t.device, t.kind, t.room)), attribute=t.attribute,
        test=ValueTest(t.to, None, t.above, t.below),
        from_test=None if t.from_ is None else ValueTest(t.from_, None, None, None),
        for_=t.for_, match_all=t.match == "all")


def _event_trigger(head: _Head, t: m.EventTrigger, cfg: HomeConfig) -> EventTriggerRT:
    events = [t.event] if isinstance(t.event, str) else t.event
    desc = f"event {_selector_text(t)} {_show(t.event) if t.event else 'any'}"
    return EventTriggerRT(owner=head.owner, index=head.index, id=head.id, model=t,
                          description=desc, key=head.key,
                          devices=tuple(select_devices(cfg, t.device, t.kind, t.room)),
                          events=None if events is None else frozenset(events),
                          data={k: norm(v) for k, v in t.data.items()})


def _hub_trigger(head: _Head, t: m.HubTrigger, cfg: HomeConfig) -> HubTriggerRT:
    any_sel = t.device is None and t.kind is None and t.room is None
    devs = None if any_sel else frozenset(select_devices(cfg, t.device, t.kind, t.room))
    desc = f"hub {t.event}" + ("" if any_sel else f" {_selector_text(t)}")
    if t.event == "battery_low":
        desc += f" below {t.below:g}%"
    return HubTriggerRT(owner=head.owner, index=head.index, id=head.id, model=t, description=desc,
                        key=head.key, event=t.event, devices=devs, below=t.below)


def _simple_description(t: TriggerModel) -> str:
    if isinstance(t, m.TimeTrigger):
        times = t.at if isinstance(t.at, list) else [t.at]
        return "time " + ", ".join(x.strftime("%H:%M") for x in times) + _days(t.weekdays)
    if isinstance(t, m.SunTrigger):
        return f"sun {t.event}" + _offset(t.offset) + _days(t.weekdays)
    if isinstance(t, m.AlertTrigger):
        return f"alert {_show(t.action)}" + (f" key {t.key}" if t.key else "") + \
            (f" of {t.scenario}" if t.scenario else "")
    if isinstance(t, m.ModeTrigger):
        return "mode" + _change(t.from_, t.to)
    if isinstance(t, m.PresenceTrigger):
        return "presence" + _change(t.from_, t.to)
    raise TypeError(f"unknown trigger {t!r}")  # pragma: no cover - the model union is closed


def _offset(off: timedelta) -> str:
    s = off.total_seconds()
    return f" {'+' if s > 0 else '-'}{spoken_duration(abs(off), 'en')}" if s else ""


def _change(from_: object, to: object) -> str:
    return (f" from {_show(from_)}" if from_ else "") + (f" -> {_show(to)}" if to else " changes")


def _days(days: frozenset[int] | None) -> str:
    if days is None or len(days) == 7:
        return ""
    return " on " + ",".join(m.WEEKDAYS[d] for d in sorted(days))


def in_choice(value: object, choice: object) -> bool:
    """`value` equals `choice` or is in the list `choice`; None means anything."""
    if choice is None:
        return True
    return value in choice if isinstance(choice, list) else value == choice


# -- conditions ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Cond:
    """A compiled condition: a description for traces and a test."""

    description: str
    test: Callable[[Env, RunVars], bool]
    parts: tuple[Cond, ...] = field(default=())
    # What the condition saw, for the trace ("presence is away: afwezig sinds 19:42, omdat ...").
    explain: Callable[[Env], str] | None = None


ConditionModel = (m.TimeCondition | m.SunCondition | m.StateCondition | m.ResidentCondition
                  | m.ModeCondition | m.AlertCondition | m.TriggerCondition | m.WaitCondition
                  | m.ParameterCondition | m.QuietCondition | m.RoutineCondition
                  | m.AndCondition | m.OrCondition | m.NotCondition | m.HeldCondition)


def compile_condition(c: ConditionModel, cfg: HomeConfig) -> Cond:
    """A condition model -> a test with a readable description."""
    if isinstance(c, m.TimeCondition):
        return _time_condition(c)
    if isinstance(c, m.SunCondition):
        return _sun_condition(c)
    if isinstance(c, m.StateCondition):
        return _state_condition(c, cfg)
    if isinstance(c, m.AlertCondition):
        return _alert_condition(c)
    if isinstance(c, m.AndCondition | m.OrCondition | m.NotCondition):
        return _with_explain(_logic_condition(c, cfg))
    if isinstance(c, m.QuietCondition | m.RoutineCondition):
        return routine_condition(c, cfg)
    if isinstance(c, m.HeldCondition):
        return held_condition(c, cfg)
    if isinstance(c, m.ResidentCondition):
        return resident_condition(c)
    return _run_condition(c)


def _time_condition(c: m.TimeCondition) -> Cond:
    after, before, days = c.after, c.before, c.weekdays
    desc = "time " + (after.strftime("%H:%M") if after else "") + ".." + \
        (before.strftime("%H:%M") if before else "") + _days(days)
    return Cond(description=desc,
                test=lambda env, run: in_window(env.local_now(), after, before, days))


def _state_condition(c: m.StateCondition, cfg: HomeConfig) -> Cond:
    devices = tuple(select_devices(cfg, c.device, c.kind, c.room))
    test = ValueTest(c.is_, c.not_, c.above, c.below)
    attr, held, match_all = c.attribute, c.for_, c.match == "all"
    desc = f"state {_selector_text(c)}.{attr} {_describe_test(c.is_, c.not_, c.above, c.below, 'is')}"
    if held is not None:
        desc += f" for {spoken_duration(held, 'en')}"
    if len(devices) > 1:
        desc += " (all)" if match_all else " (any)"

    def state_test(env: Env, run: RunVars) -> bool:
        def one(dev: str) -> bool:
            if not test(env.value(dev, attr)):
                return False
            if held is None:
                return True
            since = env.changed_at(dev, attr)
            return since is not None and env.now() - since >= held

        return all(map(one, devices)) if match_all else any(map(one, devices))

    return Cond(description=desc, test=state_test)


def _alert_condition(c: m.AlertCondition) -> Cond:
    key, active = c.key, c.active
    desc = f"alert {key} {'active' if active else 'not active'}"
    tpl = parse_template(key)
    if tpl.constant:
        return Cond(description=desc, test=lambda env, run: env.alert_active(key) == active)

    # A key like "medication.missed.{trigger.dose}" names the alert of this run's trigger.
    def alert_test(env: Env, run: RunVars) -> bool:
        return env.alert_active(tpl.render(lambda path: run_value(run, path))) == active

    return Cond(description=desc, test=alert_test)


def _logic_condition(c: m.AndCondition | m.OrCondition | m.NotCondition, cfg: HomeConfig) -> Cond:
    parts = tuple(compile_condition(sub, cfg) for sub in c.conditions)
    inner = "; ".join(p.description for p in parts)
    if isinstance(c, m.AndCondition):
        return Cond(description=f"all of ({inner})", parts=parts,
                    test=lambda env, run: all(p.test(env, run) for p in parts))
    if isinstance(c, m.OrCondition):
        return Cond(description=f"any of ({inner})", parts=parts,
                    test=lambda env, run: any(p.test(env, run) for p in parts))
    return Cond(description=f"none of ({inner})", parts=parts,
                test=lambda env, run: not any(p.test(env, run) for p in parts))


def _run_condition(c: ConditionModel) -> Cond:
    """Conditions on the house or on the run's own variables."""
    if isinstance(c, m.ModeCondition):
        modes = c.is_
        return Cond(description=f"mode is {_show(modes)}",
                    test=lambda env, run: in_choice(env.house("mode"), modes))
    if isinstance(c, m.TriggerCondition):
        ids = c.id
        return Cond(description=f"trigger is {_show(ids)}",
                    test=lambda env, run: in_choice(lookup_path(run, ("trigger", "id")), ids))
    if isinstance(c, m.WaitCondition):
        result = c.result
        return Cond(description=f"wait ended by {result}",
                    test=lambda env, run: lookup_path(run, ("wait", "result")) == result)
    if isinstance(c, m.ParameterCondition):
        name, vt = c.name, ValueTest(c.is_, None, None, None)
        return Cond(description=f"parameter {name} is {_show(c.is_)}",
                    test=lambda env, run: vt(lookup_path(run, ("params", name))))
    raise TypeError(f"unknown condition {c!r}")  # pragma: no cover - the model union is closed


def _sun_condition(c: m.SunCondition) -> Cond:
    after, before = c.after, c.before
    a_off, b_off = c.after_offset, c.before_offset

    def offset_text(event: str | None, off: timedelta) -> str:
        if event is None:
            return ""
        s = off.total_seconds()
        return event + (f"{'+' if s > 0 else '-'}{spoken_duration(abs(off), 'en')}" if s else "")

    desc = f"sun {offset_text(after, a_off)}..{offset_text(before, b_off)}"

    def test(env: Env, run: RunVars) -> bool:
        now = env.now()
        today = env.local_now().date()

        def at(event: str, day: date, off: timedelta) -> datetime | None:
            t = env.sun_time(day, event)
            return None if t is None else t + off

        a = at(after, today, a_off) if after else None
        b = at(before, today, b_off) if before else None
        if after and before:
            if a is None or b is None:
                return False
            if a <= b:
                return a <= now < b
            return now >= a or now < b  # e.g. sunset .. sunrise: the night
        if a is not None:
            return now >= a
        if b is not None:
            return now < b
        return False

    return Cond(description=desc, test=test)


def evaluate(conds: Sequence[Cond], env: Env, run: RunVars) -> list[tuple[Cond, bool]]:
    """Test every condition (all of them, so a trace shows each one that failed)."""
    out: list[tuple[Cond, bool]] = []
    for c in conds:
        try:
            ok = bool(c.test(env, run))
        except Exception:  # a condition bug must read as "not met", never take the hub down
            ok = False
        # A failed condition says what it saw: that is the "why did it not fire?".
        out.append((c if ok else _explained(c, env), ok))
    return out


# -- conditions that say what they saw (presence, held) ------------------------------------------


def _explained(c: Cond, env: Env) -> Cond:
    """`c` with what it saw added to its description, for the trace."""
    if c.explain is None:
        return c
    try:
        seen = c.explain(env)
    except Exception:  # the words must never cost the rule
        return c
    return replace(c, description=f"{c.description} [{seen}]") if seen else c


def _with_explain(c: Cond) -> Cond:
    """A logic condition explains with whatever its parts explain."""
    explainers = [p.explain for p in c.parts if p.explain is not None]
    if not explainers:
        return c
    return replace(c, explain=lambda env: "; ".join(e(env) for e in explainers))


def resident_condition(c: m.ResidentCondition) -> Cond:
    """The resident's presence is this; the trace says since when and why."""
    want = c.is_

    def explain(env: Env) -> str:
        reason = env.house("presence_reason")
        return f"presence is {env.house('presence')}" + (f": {reason}" if reason else "")

    return Cond(description=f"resident is {want}", explain=explain,
                test=lambda env, run: env.house("presence") == want)


def last_time_of_day(local_now: datetime, at: time) -> datetime:
    """The latest local `at` at or before `local_now`."""
    day = local_now.replace(hour=at.hour, minute=at.minute, second=at.second, microsecond=0)
    return day if day <= local_now else day - timedelta(days=1)


def held_condition(c: m.HeldCondition, cfg: HomeConfig) -> Cond:
    """Some device held a value for at least `for` at a stretch (or in total) since a time of day."""
    devices = tuple(select_devices(cfg, c.device, c.kind, c.room))
    test = ValueTest(c.is_, None, None, None)
    attr, need, since, total = c.attribute, c.for_, c.since, c.in_total
    desc = (f"held {_selector_text(c)}.{attr} is {_show(c.is_)} for {spoken_duration(need, 'en')}"
            f"{' in total' if total else ''} since {since:%H:%M}")

    def measured(env: Env) -> timedelta:
        start = last_time_of_day(env.local_now(), since)
        return max((env.held(d, attr, test, start, total=total) for d in devices), default=timedelta(0))

    return Cond(description=desc, test=lambda env, run: measured(env) >= need,
                explain=lambda env: f"{'in total' if total else 'longest'} {spoken_duration(measured(env), 'en')}")


def describe_value(value: object) -> str:
    """A value as shown in trace text (as a technician would write it in YAML)."""
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "true" if value else "false"
    return format_value(value, "en")


# -- the resident's routine (controller/routine.py) ---------------------------------------------


def quiet_since(env: Env, watched: Sequence[tuple[str, str, str]]) -> datetime | None:
    """When the home last showed activity: the latest change of a motion sensor, the bed or a door
    (None when none has reported). A motion sensor that sees movement now means: not quiet."""
    latest: datetime | None = None
    for dev, kind, attr in watched:
        if kind == "motion" and env.value(dev, attr) is True:
            return env.now()
        at = env.changed_at(dev, attr)
        if at is not None and (latest is None or at > latest):
            latest = at
    return latest


def routine_condition(c: m.QuietCondition | m.RoutineCondition, cfg: HomeConfig) -> Cond:
    """`quiet` (longer than a duration or the routine's limit) and `routine` (past the usual wake
    time, in the usual night)."""
    if isinstance(c, m.RoutineCondition):
        if c.is_ == "night":
            return Cond(description="routine: in the resident's usual night",
                        test=lambda env, run: env.routine().in_night(env.local_now()))
        return Cond(description="routine: past the resident's usual wake time",
                    test=lambda env, run: env.local_now().time() >= env.routine().wake_by(env.local_now()))
    watched = tuple((dev_id, d.kind, ACTIVITY[d.kind]) for dev_id, d in cfg.devices.items() if d.kind in ACTIVITY)
    fixed = c.longer_than if isinstance(c.longer_than, timedelta) else None
    usual = "the resident's usual gap for the part of the day it began in"
    desc = "quiet (no motion, bed or door) longer than " + (
        spoken_duration(fixed, "en") if fixed is not None else usual)

    def quiet_test(env: Env, run: RunVars) -> bool:
        since = quiet_since(env, watched)
        if since is None:
            return False
        # Judged by the part of the day the quiet began in, as the routine learned its gaps.
        limit = fixed if fixed is not None else \
            env.routine().quiet_limit(since.astimezone(env.local_now().tzinfo))
        return env.now() - since >= limit

    return Cond(description=desc, test=quiet_test)
