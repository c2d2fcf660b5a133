"""Load scenario files: YAML with lines, parameters, pydantic shapes, then references to the home.

Every problem in every file is collected before anything is reported, each located as
`file:line: key.path: message (hint)`, so a technician fixes a whole file in one round.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import time, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from controller.config import HomeConfig, device_topic, load_home, resolve
from controller.durations import parse_duration
from controller.engine import model as m
from controller.engine.kinds import attributes_of, events_of
from controller.engine.templates import Template, parse_template
from controller.errors import ConfigError, Problem
from controller.yamlfile import Located, load_file
from controller.yamlfile import suggest as _close_match

Path_ = tuple[str | int, ...]
_PARAM_REF = re.compile(r"^\$([a-z][a-z0-9_]*)$")

# Names a template may start with, besides parameter names.
TEMPLATE_ROOTS = ("resident", "home", "scenario", "time", "weekday", "date", "mode", "presence",
                  "trigger", "state", "previous", "name", "room_name", "wait")
TRIGGER_VARIABLES = ("id", "type", "device", "device_name", "room", "room_name", "attribute",
                     "from", "to", "value", "event", "data", "for", "time", "late", "key",
                     "scenario", "severity", "action", "by")


@dataclass(frozen=True, slots=True, kw_only=True)
class ParameterInfo:
    """A declared parameter and the value in force."""

    scope: str  # the file's name or the scenario id
    name: str
    definition: m.Parameter
    value: Any
    overridden: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadedScenario:
    """A validated scenario with its parameters resolved, and where it came from."""

    model: m.Scenario
    file: str
    line: int | None
    index: int = 0  # position in its file's `scenarios` list
    parameters: Mapping[str, ParameterInfo]
    digest: str  # changes whenever anything about the scenario changes
    actions_digest: str  # changes when its actions change (a pending run cannot resume then)

    @property
    def id(self) -> str:
        return self.model.id

    def param_values(self) -> dict[str, Any]:
        """Parameter name -> value, for templates and `parameter` conditions."""
        return {name: p.value for name, p in self.parameters.items()}


@dataclass(frozen=True, slots=True, kw_only=True)
class ScenarioSet:
    """A complete, valid set of scenarios, ready for the engine."""

    scenarios: tuple[LoadedScenario, ...] = ()
    files: tuple[str, ...] = ()

    def get(self, scenario_id: str) -> LoadedScenario | None:
        for s in self.scenarios:
            if s.id == scenario_id:
                return s
        return None

    def ids(self) -> list[str]:
        return [s.id for s in self.scenarios]


Overrides = Mapping[str, Mapping[str, Any]]


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """'did you mean ...': a close match, else a choice sharing the first letters."""
    options = list(dict.fromkeys(choices))
    hint = _close_match(word, options)
    if hint is None and len(word) >= 3:
        same_start = [c for c in options if c.startswith(word)
                      or (len(word) >= 4 and (c[:5] == word[:5] or c[:4] == word[:4]))]
        if len(same_start) == 1:
            hint = f"did you mean '{same_start[0]}'?"
    return hint


# -- finding files ------------------------------------------------------------------------------


def scenario_files(paths: Iterable[str | Path]) -> list[Path]:
    """Files named directly, and the `*.yaml` in folders (skipping names starting with '_')."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            out.extend(f for f in sorted(p.iterdir())
                       if f.suffix in (".yaml", ".yml") and not f.name.startswith("_") and f.is_file())
        else:
            out.append(p)
    return out


def config_scenario_paths(cfg: HomeConfig) -> list[Path]:
    """The scenario folders a home configuration names, resolved against its file."""
    return [resolve(cfg, p) for p in cfg.scenarios]


def load_scenarios(
    paths: Iterable[str | Path], config: HomeConfig, overrides: Overrides | None = None
) -> ScenarioSet:
    """Load and validate scenario files; raises ConfigError listing every problem."""
    docs: list[Located] = []
    problems: list[Problem] = []
    for path in scenario_files(paths):
        try:
            docs.append(load_file(path))
        except ConfigError as exc:
            problems.extend(exc.problems)
    scenario_set, more = validate_documents(docs, config, overrides)
    problems.extend(more)
    if problems:
        raise ConfigError(problems)
    return scenario_set


def load_scenario_text(text: str, config: HomeConfig, file: str = "<text>",
                       overrides: Overrides | None = None) -> ScenarioSet:
    """Load scenarios from YAML text (tests, the dashboard's editor)."""
    from controller.yamlfile import load_text

    scenario_set, problems = validate_documents([load_text(text, file)], config, overrides)
    if problems:
        raise ConfigError(problems)
    return scenario_set


def check_paths(paths: Sequence[str | Path], default_config: str | Path = "config/home.yaml") -> list[Problem]:
    """Validate configuration and scenario files together, as `huis check` does.

    A file with `devices:` or `resident:` (and no `scenarios:` list) at the top is the home
    configuration. Without one among `paths`, `default_config` is used for cross-references;
    with only a configuration, the scenario folders it names are checked too.
    """
    problems: list[Problem] = []
    config_paths: list[Path] = []
    scenario_docs: list[Located] = []
    for path in scenario_files(paths) if paths else [Path(default_config)]:
        try:
            doc = load_file(path)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        if _is_config(path, doc):
            config_paths.append(path)
        else:
            scenario_docs.append(doc)
    cfg: HomeConfig | None = None
    for path in config_paths or ([Path(default_config)] if Path(default_config).exists() else []):
        try:
            loaded = load_home(path)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        cfg = cfg or loaded
    if cfg is not None and config_paths and not scenario_docs:
        for path in scenario_files(p for p in config_scenario_paths(cfg) if p.exists()):
            try:
                scenario_docs.append(load_file(path))
            except ConfigError as exc:
                problems.extend(exc.problems)
    _, more = validate_documents(scenario_docs, cfg, None)
    return problems + more


def _is_config(path: Path, doc: Located) -> bool:
    data = doc.data
    if isinstance(data, dict) and ("devices" in data or "resident" in data):
        return True
    if isinstance(data, dict) and isinstance(data.get("scenarios"), list):
        return False
    return path.name in ("home.yaml", "home.yml")


# -- validation ---------------------------------------------------------------------------------


def validate_documents(
    docs: Sequence[Located], config: HomeConfig | None, overrides: Overrides | None
) -> tuple[ScenarioSet, list[Problem]]:
    """Validate parsed files; returns what is valid and every problem found.

    With `config` None only shapes, parameters and templates are checked, not references.
    """
    problems: list[Problem] = []
    loaded: list[LoadedScenario] = []
    used_overrides: set[tuple[str, str]] = set()
    # Duplicates are found on the raw ids, so a scenario with other mistakes still counts.
    seen: dict[str, str] = {}
    duplicates: set[tuple[str, int]] = set()
    for doc in docs:
        raw = doc.data.get("scenarios") if isinstance(doc.data, dict) else None
        for i, item in enumerate(raw if isinstance(raw, list) else []):
            sid = item.get("id") if isinstance(item, dict) else None
            if not isinstance(sid, str):
                continue
            where = f"{doc.file}:{doc.line(('scenarios', i, 'id'))}"
            if sid in seen:
                duplicates.add((doc.file, i))
                problems.append(doc.problem(("scenarios", i, "id"),
                                            f"scenario id '{sid}' is also used at {seen[sid]}",
                                            "scenario ids must be unique over all files"))
            else:
                seen[sid] = where
    for doc in docs:
        file_scenarios, file_problems = _validate_file(doc, config, overrides or {}, used_overrides)
        problems.extend(file_problems)
        for s in file_scenarios:
            if (s.file, s.index) in duplicates:
                continue
            loaded.append(s)
    for scope, values in (overrides or {}).items():
        for name in values:
            if (scope, name) not in used_overrides:
                problems.append(Problem(file="<parameters>", line=None, path=f"{scope}.{name}",
                                        message=f"no parameter '{name}' in '{scope}'"))
    if config is not None:
        problems.extend(_check_set(docs, loaded))
    order = {d.file: i for i, d in enumerate(docs)}
    problems.sort(key=lambda p: (order.get(p.file, len(order)), p.line or 0))
    return ScenarioSet(scenarios=tuple(loaded), files=tuple(d.file for d in docs)), problems


def _validate_file(
    doc: Located, config: HomeConfig | None, overrides: Overrides, used: set[tuple[str, str]]
) -> tuple[list[LoadedScenario], list[Problem]]:
    if not isinstance(doc.data, dict):
        return [], [doc.problem((), "a scenario file should be a mapping with a 'scenarios' list",
                                "start the file with 'scenarios:'")]
    try:
        shell = m.FileShell.model_validate(doc.data)
    except ValidationError as exc:
        return [], translate_errors(doc, exc, (), doc.data)
    problems: list[Problem] = []
    scope = shell.name or _stem_scope(doc.file)
    file_params, more = _parameters(doc, ("parameters",), scope, shell.parameters, overrides, used)
    problems.extend(more)
    out: list[LoadedScenario] = []
    for i, raw in enumerate(shell.scenarios):
        path: Path_ = ("scenarios", i)
        if not isinstance(raw, dict):
            problems.append(doc.problem(path, "a scenario should be a mapping with id, triggers and actions"))
            continue
        scenario_params = dict(file_params)
        raw_params = raw.get("parameters")
        raw_id = raw.get("id")
        sid = raw_id if isinstance(raw_id, str) else f"scenarios[{i}]"
        if isinstance(raw_params, dict):
            try:
                defs = {k: m.Parameter.model_validate(v) for k, v in raw_params.items()}
            except ValidationError:
                defs = {}  # reported below by the full validation
            own, more = _parameters(doc, (*path, "parameters"), sid, defs, overrides, used)
            problems.extend(more)
            scenario_params.update(own)
        substituted, more = _substitute(doc, path, raw, scenario_params)
        problems.extend(more)
        try:
            scenario = m.Scenario.model_validate(substituted)
        except ValidationError as exc:
            # Keep going with the parts that are fine, so references get checked as well.
            reported = {(p.line, p.path) for p in more}
            problems.extend(p for p in translate_errors(doc, exc, path, raw)
                            if (p.line, p.path) not in reported)
            problems.extend(_check_parts(doc, config, scenario_params, substituted, path))
            continue
        if more:
            continue
        problems.extend(_Checker(doc, config, scenario_params).scenario(scenario, path))
        body = json.dumps(
            [scenario.model_dump(mode="json", by_alias=True),
             {k: _jsonable(p.value) for k, p in scenario_params.items()}],
            sort_keys=True, default=str)
        actions = json.dumps([a.model_dump(mode="json", by_alias=True) for a in scenario.actions],
                             sort_keys=True, default=str)
        out.append(LoadedScenario(
            model=scenario, file=doc.file, line=doc.line(path), index=i, parameters=scenario_params,
            digest=hashlib.sha256(body.encode()).hexdigest()[:16],
            actions_digest=hashlib.sha256(actions.encode()).hexdigest()[:16]))
    return out, problems


_TRIGGER = TypeAdapter(m.Trigger)
_CONDITION = TypeAdapter(m.Condition)
_ACTION = TypeAdapter(m.Action)


def _check_parts(doc: Located, config: HomeConfig | None, params: Mapping[str, ParameterInfo],
                 raw: dict[str, Any], path: Path_) -> list[Problem]:
    """Reference checks on the triggers, conditions and actions that are valid on their own."""
    checker = _Checker(doc, config, params)
    found = raw.get("triggers")
    triggers: list[Any] = found if isinstance(found, list) else []
    ids = {str(t.get("id") or i) for i, t in enumerate(triggers) if isinstance(t, dict)}
    for i, item in enumerate(triggers):
        try:
            checker.trigger(_TRIGGER.validate_python(item), (*path, "triggers", i))
        except ValidationError:
            checker.raw_selector(item, (*path, "triggers", i))
    for section, adapter in (("conditions", _CONDITION), ("actions", _ACTION)):
        items = raw.get(section)
        for i, item in enumerate(items if isinstance(items, list) else []):
            try:
                obj = adapter.validate_python(item)
            except ValidationError:
                checker.raw_selector(item, (*path, section, i))
                continue
            if section == "conditions":
                checker.condition(obj, (*path, section, i), ids)
            else:
                checker.action(obj, (*path, section, i), ids)
    return checker.problems


def _stem_scope(file: str) -> str:
    stem = Path(file).stem.lower().lstrip("_")
    return re.sub(r"[^a-z0-9_]", "_", stem) or "scenarios"


def _jsonable(value: Any) -> Any:
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, time):
        return value.isoformat()
    return value


# -- parameters ---------------------------------------------------------------------------------


def coerce_parameter(defn: m.Parameter, value: Any) -> Any:
    """A parameter value of the declared type within its range; ValueError saying why not."""
    v = _coerce_type(defn.type, value)
    lo = None if defn.min is None else _coerce_type(defn.type, defn.min)
    hi = None if defn.max is None else _coerce_type(defn.type, defn.max)
    if lo is not None and v < lo:
        raise ValueError(f"{value!r} is below the minimum {defn.min!r}")
    if hi is not None and v > hi:
        raise ValueError(f"{value!r} is above the maximum {defn.max!r}")
    if defn.choices is not None and v not in defn.choices:
        raise ValueError(f"{value!r} is not one of {', '.join(defn.choices)}")
    return v


def _coerce_type(kind: str, value: Any) -> Any:
    if kind == "duration":
        return parse_duration(value)
    if kind == "time":
        return m.parse_time_of_day(value)
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        raise ValueError(f"{value!r} is not true or false")
    if kind in ("number", "integer"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{value!r} is not a number")
        if kind == "integer":
            if value != int(value):
                raise ValueError(f"{value!r} is not a whole number")
            return int(value)
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not text")
    return value


def _parameters(
    doc: Located, path: Path_, scope: str, defs: Mapping[str, m.Parameter], overrides: Overrides,
    used: set[tuple[str, str]],
) -> tuple[dict[str, ParameterInfo], list[Problem]]:
    problems: list[Problem] = []
    out: dict[str, ParameterInfo] = {}
    scope_overrides = overrides.get(scope, {})
    for name, defn in defs.items():
        if name in TEMPLATE_ROOTS:
            problems.append(doc.problem((*path, name), f"'{name}' is a reserved template name",
                                        "choose another parameter name"))
            continue
        try:
            value = coerce_parameter(defn, defn.default)
        except ValueError as exc:
            problems.append(doc.problem((*path, name, "default"), str(exc)))
            continue
        for bound in ("min", "max"):
            raw = getattr(defn, bound)
            if raw is not None:
                try:
                    _coerce_type(defn.type, raw)
                except ValueError as exc:
                    problems.append(doc.problem((*path, name, bound), str(exc)))
        overridden = False
        if name in scope_overrides:
            used.add((scope, name))
            try:
                value = coerce_parameter(defn, scope_overrides[name])
                overridden = True
            except ValueError as exc:
                problems.append(doc.problem((*path, name), f"override for {scope}.{name}: {exc}"))
        out[name] = ParameterInfo(scope=scope, name=name, definition=defn, value=value,
                                  overridden=overridden)
    return out, problems


def _substitute(
    doc: Located, path: Path_, raw: dict[str, Any], params: Mapping[str, ParameterInfo]
) -> tuple[dict[str, Any], list[Problem]]:
    """Replace `$name` values with parameter values (the id and parameters themselves excepted)."""
    problems: list[Problem] = []

    def walk(node: Any, at: Path_) -> Any:
        if isinstance(node, str):
            ref = _PARAM_REF.match(node)
            if ref is None:
                return node
            name = ref.group(1)
            if name not in params:
                problems.append(doc.problem(at, f"unknown parameter '${name}'",
                                            suggest(name, params) or _declared(params)))
                return node
            return params[name].value
        if isinstance(node, dict):
            return {k: walk(v, (*at, str(k))) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, (*at, i)) for i, v in enumerate(node)]
        return node

    out = {k: (v if k in ("id", "parameters") else walk(v, (*path, k))) for k, v in raw.items()}
    return out, problems


def _declared(params: Mapping[str, Any]) -> str:
    return f"declared: {', '.join(params)}" if params else "declare it under 'parameters:'"


# -- pydantic errors ----------------------------------------------------------------------------


def _section_types(path: Path_) -> tuple[str, dict[str, type[BaseModel]]] | None:
    for part in reversed(path):
        if part == "triggers":
            return "trigger", m.TRIGGER_TYPES
        if part == "conditions":
            return "condition", m.CONDITION_TYPES
        if part in ("actions", "then", "else"):
            return "action", m.ACTION_TYPES
    return None


def _fields(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _fields_at(data: Any, path: Path_) -> list[str]:
    """Valid keys of the mapping at `path` (for 'did you mean' on a misspelt key)."""
    node = _get(data, path)
    if len(path) <= 0 or path == ():
        return _fields(m.ScenarioFile)
    if len(path) == 2 and path[0] == "scenarios":
        return _fields(m.Scenario)
    if len(path) >= 2 and path[-2] == "parameters":
        return _fields(m.Parameter)
    section = _section_types(path)
    if section is not None and isinstance(node, dict):
        model = section[1].get(str(node.get("type")))
        if model is not None:
            return _fields(model)
    return []


def _get(data: Any, path: Path_) -> Any:
    for part in path:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data


def translate_errors(doc: Located, exc: ValidationError, prefix: Path_, raw: Any) -> list[Problem]:
    """pydantic errors -> located problems, with union noise removed and similar errors merged."""
    by_path: dict[Path_, list[dict[str, Any]]] = {}
    order: list[Path_] = []
    for err in exc.errors(include_url=False):
        loc = _clean_loc(raw, tuple(err["loc"]), err["type"])
        full = (*prefix, *loc)
        if full not in by_path:
            by_path[full] = []
            order.append(full)
        by_path[full].append(dict(err))
    problems: list[Problem] = []
    root = doc.data
    for full in order:
        errs = by_path[full]
        first = errs[0]
        kind = first["type"]
        hint = None
        at: Path_ = full
        if kind in ("union_tag_invalid", "union_tag_not_found"):
            section = _section_types(full) or ("item", {})
            tags = list(section[1])
            at = (*full, "type")
            if kind == "union_tag_not_found":
                message = "required key missing"
                hint = f"one of: {', '.join(tags)}"
            else:
                tag = str(first.get("ctx", {}).get("tag"))
                article = "an" if section[0][0] in "aeiou" else "a"
                message = f"'{tag}' is not {article} {section[0]} type"
                hint = suggest(tag, tags) or f"one of: {', '.join(tags)}"
        elif kind == "missing":
            message = "required key missing"
        elif kind == "extra_forbidden":
            message = f"'{full[-1]}' is not a valid option"
            hint = suggest(str(full[-1]), _fields_at(root, full[:-1]))
        elif len(errs) > 1 and any(e["type"] == "value_error" for e in errs):
            message = next(str(e["msg"]) for e in errs if e["type"] == "value_error")
            message = message.removeprefix("Value error, ")
        elif len(errs) > 1:
            wants = []
            for e in errs:
                text = str(e["msg"]).removeprefix("Value error, ").removeprefix("Input should be ")
                if text not in wants:
                    wants.append(text)
            message = f"{_show(first.get('input'))}: should be {' or '.join(wants)}"
        else:
            message = str(first["msg"])
            value = first.get("input")
            if kind == "value_error" or kind == "assertion_error":
                message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
            elif isinstance(value, str | int | float | bool):
                message = f"{value!r}: {message[0].lower()}{message[1:]}"
        problems.append(doc.problem(at, message, hint))
    return problems


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _clean_loc(raw: Any, loc: tuple[Any, ...], kind: str) -> Path_:
    """Drop the parts of a pydantic location the user never wrote (union tags, type names)."""
    out: list[str | int] = []
    node = raw
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, dict) and part in node:
            out.append(str(part))
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out.append(part)
            node = node[part]
        elif last and kind in ("missing", "extra_forbidden") and isinstance(node, dict):
            out.append(str(part))
        else:
            continue  # a discriminator tag, 'function-after[...]', 'list[...]', 'str', ...
    return tuple(out)


# -- references to the home ---------------------------------------------------------------------


def select_devices(
    cfg: HomeConfig, device: str | list[str] | None, kind: str | None, room: str | list[str] | None
) -> list[str]:
    """Device ids a selector names, in configuration order (unknown names are skipped)."""
    ids = [device] if isinstance(device, str) else device
    rooms = [room] if isinstance(room, str) else room
    out = []
    for dev_id, dev in cfg.devices.items():
        if ids is not None and dev_id not in ids:
            continue
        if kind is not None and dev.kind != kind:
            continue
        if rooms is not None and dev.room not in rooms:
            continue
        out.append(dev_id)
    return out


class _Checker:
    """Checks one validated scenario against the home configuration and its parameters."""

    def __init__(self, doc: Located, cfg: HomeConfig | None, params: Mapping[str, ParameterInfo]) -> None:
        self.doc = doc
        self.cfg = cfg
        self.params = params
        self.problems: list[Problem] = []

    def add(self, path: Path_, message: str, hint: str | None = None) -> None:
        self.problems.append(self.doc.problem(path, message, hint))

    def scenario(self, s: m.Scenario, path: Path_) -> list[Problem]:
        ids: set[str] = set()
        for i, t in enumerate(s.triggers):
            tid = t.id or str(i)
            if tid in ids:
                self.add((*path, "triggers", i, "id"), f"trigger id '{tid}' is used twice")
            ids.add(tid)
            self.trigger(t, (*path, "triggers", i))
        for i, c in enumerate(s.conditions):
            self.condition(c, (*path, "conditions", i), ids)
        self.actions(s.actions, (*path, "actions"), ids)
        return self.problems

    # selectors and attributes

    def raw_selector(self, item: Any, path: Path_) -> None:
        """Check the device names of an item that is otherwise invalid (best effort)."""
        if not isinstance(item, dict) or self.cfg is None:
            return
        fields = {k: item.get(k) for k in ("device", "kind", "room")}
        if not any(isinstance(v, str | list) for v in fields.values()):
            return
        try:
            sel = m.OptionalSelector.model_validate(fields)
        except ValidationError:
            return
        devs = self.devices(sel, path, optional=True)
        if isinstance(item.get("attribute"), str) and devs:
            self.attribute(devs, item["attribute"], (*path, "attribute"))

    def devices(self, sel: m.Selector | m.OptionalSelector, path: Path_, *,
                want: str | None = None, optional: bool = False) -> list[str]:
        cfg = self.cfg
        if cfg is None:
            return []
        ok = True
        for dev_id in [sel.device] if isinstance(sel.device, str) else (sel.device or []):
            if dev_id not in cfg.devices:
                ok = False
                where = (*path, "device") if isinstance(sel.device, str) else \
                    (*path, "device", (sel.device or []).index(dev_id))
                self.add(where, f"unknown device '{dev_id}'",
                         suggest(dev_id, cfg.devices) or f"devices: {', '.join(cfg.devices)}")
            elif want is not None and cfg.devices[dev_id].kind != want:
                ok = False
                self.add((*path, "device"), f"'{dev_id}' is a {cfg.devices[dev_id].kind}, not a {want}")
        from devices import KINDS

        if sel.kind is not None and sel.kind not in KINDS:
            ok = False
            self.add((*path, "kind"), f"unknown device kind '{sel.kind}'",
                     suggest(sel.kind, KINDS) or f"kinds: {', '.join(sorted(KINDS))}")
        for room in [sel.room] if isinstance(sel.room, str) else (sel.room or []):
            if room not in cfg.rooms:
                ok = False
                self.add((*path, "room"), f"unknown room '{room}'",
                         suggest(room, cfg.rooms) or f"rooms: {', '.join(cfg.rooms)}")
        if not ok:
            return []
        kind = sel.kind if sel.kind is not None else want
        found = select_devices(cfg, sel.device, kind, sel.room)
        if not found and not (optional and sel.device is None and sel.kind is None and sel.room is None):
            what = f"{want} " if want else ""
            self.add(path, f"selects no {what}device", "check 'device', 'kind' and 'room'")
        return found

    def attribute(self, devices: list[str], attribute: str, path: Path_) -> None:
        if self.cfg is None:
            return
        for dev_id in devices:
            kind = self.cfg.devices[dev_id].kind
            known = attributes_of(kind)
            if known is not None and attribute not in known:
                self.add(path, f"a {kind} has no attribute '{attribute}'",
                         suggest(attribute, known) or f"{kind} attributes: {', '.join(known)}")
                return

    # triggers

    def trigger(self, t: Any, path: Path_) -> None:
        if isinstance(t, m.StateTrigger):
            devs = self.devices(t, path)
            self.attribute(devs, t.attribute, (*path, "attribute"))
        elif isinstance(t, m.EventTrigger):
            devs = self.devices(t, path)
            names = [t.event] if isinstance(t.event, str) else (t.event or [])
            for dev_id in devs if self.cfg is not None else []:
                kind = self.cfg.devices[dev_id].kind  # type: ignore[union-attr]
                known = events_of(kind)
                if known is not None and not known:
                    self.add(path, f"a {kind} sends no events", "use a 'state' trigger")
                    return
                for name in names:
                    if known is not None and name not in known:
                        self.add((*path, "event"), f"a {kind} sends no event '{name}'",
                                 suggest(name, known) or f"{kind} events: {', '.join(known)}")
                        return
        elif isinstance(t, m.HubTrigger):
            self.devices(t, path, optional=True)
        elif isinstance(t, m.TimeTrigger | m.SunTrigger):
            if t.weekdays is not None and not t.weekdays:
                self.add((*path, "weekdays"), "no days given")

    # conditions

    def condition(self, c: Any, path: Path_, trigger_ids: set[str]) -> None:
        if isinstance(c, m.StateCondition):
            devs = self.devices(c, path)
            self.attribute(devs, c.attribute, (*path, "attribute"))
        elif isinstance(c, m.AndCondition | m.OrCondition | m.NotCondition):
            for i, sub in enumerate(c.conditions):
                self.condition(sub, (*path, "conditions", i), trigger_ids)
        elif isinstance(c, m.TriggerCondition):
            for tid in [c.id] if isinstance(c.id, str) else c.id:
                if tid not in trigger_ids:
                    self.add((*path, "id"), f"no trigger with id '{tid}'",
                             suggest(tid, trigger_ids) or f"trigger ids: {', '.join(sorted(trigger_ids))}")
        elif isinstance(c, m.ParameterCondition):
            if c.name not in self.params:
                self.add((*path, "name"), f"unknown parameter '{c.name}'",
                         suggest(c.name, self.params) or _declared(self.params))
        elif isinstance(c, m.AlertCondition):
            tpl = self.template(c.key, (*path, "key"))
            # A condition has only its run to go on: the trigger, a wait's result, parameters.
            for names in tpl.names if tpl is not None else []:
                if names[0] not in ("trigger", "wait") and not (len(names) == 1 and names[0] in self.params):
                    self.add((*path, "key"), f"'{{{'.'.join(names)}}}' cannot be used in an alert condition's key",
                             "use trigger.*, wait.* or a parameter")

    # actions

    def actions(self, actions: Sequence[Any], path: Path_, trigger_ids: set[str]) -> None:
        for i, a in enumerate(actions):
            self.action(a, (*path, i), trigger_ids)

    def action(self, a: Any, path: Path_, trigger_ids: set[str]) -> None:
        if isinstance(a, m.LightAction):
            self.command(self.devices(a, path, want="light"), a.values(), path)
        elif isinstance(a, m.CurtainAction):
            self.command(self.devices(a, path, want="curtain"), a.values(), path)
        elif isinstance(a, m.CommandAction):
            self.command(self.devices(a, path), a.values, path)
        elif isinstance(a, m.AnnounceAction):
            self.template(a.text, (*path, "text"))
            if a.speaker is not None and self.cfg is not None:
                self.devices(m.Selector(device=a.speaker), path, want="speaker")
        elif isinstance(a, m.RaiseAlertAction):
            self.template(a.message, (*path, "message"))
            if a.key is not None:
                self.template(a.key, (*path, "key"))
            if self.cfg is not None:
                for i, who in enumerate(a.to):
                    if who not in self.cfg.caregivers:
                        self.add((*path, "to", i), f"unknown caregiver '{who}'",
                                 suggest(who, self.cfg.caregivers)
                                 or f"caregivers: {', '.join(self.cfg.caregivers)}")
        elif isinstance(a, m.ResolveAlertAction):
            self.template(a.reason, (*path, "reason"))
            if a.key is not None:
                self.template(a.key, (*path, "key"))
        elif isinstance(a, m.MqttAction):
            self.template(a.topic, (*path, "topic"))
            if isinstance(a.payload, str):
                self.template(a.payload, (*path, "payload"))
            else:
                for k, v in a.payload.items():
                    if isinstance(v, str):
                        self.template(v, (*path, "payload", k))
        elif isinstance(a, m.WaitAction):
            for i, t in enumerate(a.triggers):
                self.trigger(t, (*path, "triggers", i))
        elif isinstance(a, m.IfAction):
            for i, c in enumerate(a.conditions):
                self.condition(c, (*path, "conditions", i), trigger_ids)
            self.actions(a.then, (*path, "then"), trigger_ids)
            self.actions(a.else_, (*path, "else"), trigger_ids)

    def command(self, devices: list[str], values: Mapping[str, Any], path: Path_) -> None:
        """Let each device's adapter refuse an impossible command now, not at night."""
        if self.cfg is None:
            return
        from controller.device_kind import Command, DeviceSpec
        from devices import KINDS

        for dev_id in devices:
            dev = self.cfg.devices[dev_id]
            adapter = KINDS.get(dev.kind)
            if adapter is None:
                continue
            spec = DeviceSpec(id=dev_id, topic=device_topic(dev_id, dev), model=dev.model,
                              options=dict(dev.options))
            try:
                adapter.encode(spec, Command(device=dev_id, values=dict(values)))
            except ValueError as exc:
                self.add(path, f"{dev_id}: {exc}")
                return
            except Exception:  # an adapter that cannot encode offline is checked at run time
                continue

    def template(self, text: str, path: Path_) -> Template | None:
        try:
            tpl = parse_template(text)
        except ValueError as exc:
            self.add(path, str(exc))
            return None
        for names in tpl.names:
            problem = template_name_problem(names, self.cfg, self.params)
            if problem is not None:
                self.add(path, *problem)
        return tpl


def template_name_problem(
    names: tuple[str, ...], cfg: HomeConfig | None, params: Mapping[str, Any]
) -> tuple[str, str | None] | None:
    """Why a placeholder cannot be filled in, or None when it can."""
    root = names[0]
    shown = ".".join(names)
    roots = [*TEMPLATE_ROOTS, *params]
    if root not in roots:
        return f"unknown template name '{shown}'", suggest(root, roots) or "see docs/scenarios.md"
    if root in ("trigger", "wait"):
        rest = names[1:]
        if root == "wait":
            if not rest or rest[0] not in ("result", "trigger"):
                return f"'{shown}': use wait.result or wait.trigger.<name>", None
            rest = rest[1:] if rest[0] == "trigger" else ()
            if not rest and names[1] == "trigger":
                return f"'{shown}': name a field, e.g. wait.trigger.device", None
        if rest and rest[0] not in TRIGGER_VARIABLES:
            return (f"'{shown}': triggers have no '{rest[0]}'",
                    suggest(rest[0], TRIGGER_VARIABLES) or f"known: {', '.join(TRIGGER_VARIABLES)}")
        if root == "trigger" and not rest:
            return f"'{shown}': name a field, e.g. trigger.device", None
        return None
    if root in ("state", "previous"):
        if len(names) != 3:
            return f"'{shown}': write {root}.<device>.<attribute>", None
        if cfg is not None:
            if names[1] not in cfg.devices:
                return f"unknown device '{names[1]}' in '{shown}'", suggest(names[1], cfg.devices)
            known = attributes_of(cfg.devices[names[1]].kind)
            if known is not None and names[2] not in known:
                return (f"a {cfg.devices[names[1]].kind} has no attribute '{names[2]}'",
                        suggest(names[2], known))
        return None
    if root in ("name", "room_name"):
        if len(names) != 2:
            return f"'{shown}': write {root}.<id>", None
        pool: Mapping[str, Any] | None = None
        if cfg is not None:
            pool = cfg.devices if root == "name" else cfg.rooms
        if pool is not None and names[1] not in pool:
            return f"unknown {'device' if root == 'name' else 'room'} '{names[1]}' in '{shown}'", \
                suggest(names[1], pool)
        return None
    if len(names) != 1:
        return f"'{shown}': '{root}' has no parts", None
    return None


def _check_set(docs: Sequence[Located], loaded: Sequence[LoadedScenario]) -> list[Problem]:
    """References between scenarios: cancel targets and alert triggers naming a scenario."""
    ids = [s.id for s in loaded]
    by_file = {d.file: d for d in docs}
    problems: list[Problem] = []
    for s in loaded:
        doc = by_file.get(s.file)
        if doc is None:
            continue
        base = ("scenarios", s.index)
        for path, node in walk_scenario(s.model, base):
            if isinstance(node, m.CancelAction):
                targets = [node.scenario] if isinstance(node.scenario, str) else node.scenario
                for t in targets:
                    if t not in ids:
                        problems.append(doc.problem((*path, "scenario"), f"unknown scenario '{t}'",
                                                    suggest(t, ids)))
            elif isinstance(node, m.AlertTrigger) and node.scenario is not None:
                if node.scenario not in ids:
                    problems.append(doc.problem((*path, "scenario"), f"unknown scenario '{node.scenario}'",
                                                suggest(node.scenario, ids)))
    return problems


def walk_scenario(s: m.Scenario, base: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    """Every trigger, condition and action of a scenario with its path, depth first."""
    for i, t in enumerate(s.triggers):
        yield (*base, "triggers", i), t
    yield from _walk_conditions(s.conditions, (*base, "conditions"))
    yield from walk_actions(s.actions, (*base, "actions"))


def _walk_conditions(conds: Sequence[Any], base: Path_) -> Iterator[tuple[Path_, Any]]:
    for i, c in enumerate(conds):
        yield (*base, i), c
        if isinstance(c, m.AndCondition | m.OrCondition | m.NotCondition):
            yield from _walk_conditions(c.conditions, (*base, i, "conditions"))


def walk_actions(actions: Sequence[Any], base: Path_) -> Iterator[tuple[Path_, Any]]:
    """Every action (and wait trigger, if condition) below `actions`, with its path."""
    for i, a in enumerate(actions):
        yield (*base, i), a
        if isinstance(a, m.WaitAction):
            for j, t in enumerate(a.triggers):
                yield (*base, i, "triggers", j), t
        elif isinstance(a, m.IfAction):
            yield from _walk_conditions(a.conditions, (*base, i, "conditions"))
            yield from walk_actions(a.then, (*base, i, "then"))
            yield from walk_actions(a.else_, (*base, i, "else"))
