"""Load scenario files: YAML with lines, parameters, pydantic shapes, then references to the home.

Every problem in every file is collected before anything is reported, each located as
`file:line: key.path: message (hint)`, so a technician fixes a whole file in one round.
The steps live in their own modules: `scenario_files` (which files), `parameters`,
`shape_errors` (pydantic's errors made readable), `home_check` (devices, rooms, attributes,
events, templates), `cross_checks` (scenarios naming each other) and `scenario_set` (the result).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from controller.config import HomeConfig, read_home, resolve
from controller.engine import model as m
from controller.engine.cross_checks import check_set, walk_actions, walk_scenario
from controller.engine.device_facts import Kinds, select_devices
from controller.engine.hints import suggest
from controller.engine.home_check import HomeChecker, check_valid_parts
from controller.engine.parameters import coerce_parameter, declare_parameters, substitute
from controller.engine.scenario_files import config_scenario_paths, file_kind, is_config, scenario_files
from controller.engine.scenario_set import LoadedScenario, Overrides, ParameterInfo, ScenarioSet
from controller.engine.shape_errors import translate_errors
from controller.engine.template_names import TEMPLATE_ROOTS, TRIGGER_VARIABLES, template_name_problem
from controller.errors import ConfigError, Problem
from controller.yamlfile import Located, Path_, gc_paused, load_file, load_text

# What callers imported from here before the split keeps working from here.
__all__ = [
    "TEMPLATE_ROOTS",
    "TRIGGER_VARIABLES",
    "Kinds",
    "LoadedScenario",
    "Overrides",
    "ParameterInfo",
    "ScenarioSet",
    "check_paths",
    "coerce_parameter",
    "config_scenario_paths",
    "is_config",
    "load_scenario_text",
    "load_scenarios",
    "scenario_files",
    "select_devices",
    "suggest",
    "template_name_problem",
    "translate_errors",
    "validate_documents",
    "walk_actions",
    "walk_scenario",
]


def load_scenarios(
    paths: Iterable[str | Path], config: HomeConfig, kinds: Kinds, overrides: Overrides | None = None
) -> ScenarioSet:
    """Load and validate scenario files; raises ConfigError listing every problem."""
    docs, problems = _read(scenario_files(paths))
    scenario_set, more = validate_documents(docs, config, kinds, overrides)
    problems.extend(more)
    if problems:
        raise ConfigError(problems)
    return scenario_set


def load_scenario_text(text: str, config: HomeConfig, kinds: Kinds, file: str = "<text>",
                       overrides: Overrides | None = None) -> ScenarioSet:
    """Load scenarios from YAML text (tests, the dashboard's editor)."""
    scenario_set, problems = validate_documents([load_text(text, file)], config, kinds, overrides)
    if problems:
        raise ConfigError(problems)
    return scenario_set


def check_paths(paths: Sequence[str | Path], kinds: Kinds,
                default_config: str | Path = "config/home.yaml") -> list[Problem]:
    """Validate configuration and scenario files together, as `huis check` does.

    The home configuration and alerts files are told apart by `file_kind`, and the alerts file a
    configuration names is never read as scenarios, so a config folder checks as such. Without
    a configuration among `paths`, `default_config` is used for cross-references; with only a
    configuration (or a config folder), the scenario folders it names are checked too.
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
        kind = file_kind(path, doc)
        if kind == "config":
            config_paths.append(path)
        elif kind == "scenarios":
            scenario_docs.append(doc)
        # An alerts file is not a scenario file: `huis check` reads it with the alerts checker.
    fallback = [Path(default_config)] if Path(default_config).exists() else []
    cfg = _first_home(config_paths or fallback, problems, kinds)
    if cfg is not None and cfg.alerts is not None:
        alerts_file = resolve(cfg, cfg.alerts).resolve()
        scenario_docs = [d for d in scenario_docs if Path(d.file).resolve() != alerts_file]
    if cfg is not None and config_paths and not scenario_docs:
        # Missing folders and folders named like files were reported with the configuration's
        # line; what is there is checked too, so one run shows everything.
        named = scenario_files(p for p in config_scenario_paths(cfg) if p.exists())
        docs, more = _read(p for p in named if not p.is_dir())
        scenario_docs.extend(docs)
        problems.extend(more)
    _, more = validate_documents(scenario_docs, cfg, kinds, None)
    return problems + more


def _read(paths: Iterable[Path]) -> tuple[list[Located], list[Problem]]:
    docs: list[Located] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            docs.append(load_file(path))
        except ConfigError as exc:
            problems.extend(exc.problems)
    return docs, problems


def _first_home(paths: Iterable[Path], problems: list[Problem], kinds: Kinds) -> HomeConfig | None:
    """The first valid home configuration among `paths`; every one is checked."""
    cfg: HomeConfig | None = None
    for path in paths:
        try:
            loaded, missing = read_home(path, kinds)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        problems.extend(missing)
        cfg = cfg or loaded
    return cfg


# -- validation ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _Run:
    """What every file of one validation shares."""

    config: HomeConfig | None
    kinds: Kinds
    overrides: Overrides
    used: set[tuple[str, str]] = field(default_factory=set)  # overrides that found their parameter
    encoded: dict[object, str | None] = field(default_factory=dict)  # see HomeChecker


def validate_documents(
    docs: Sequence[Located], config: HomeConfig | None, kinds: Kinds, overrides: Overrides | None
) -> tuple[ScenarioSet, list[Problem]]:
    """Validate parsed files; returns what is valid and every problem found.

    With `config` None only shapes, parameters and templates are checked, not references.
    """
    with gc_paused():
        return _validate_documents(docs, config, kinds, overrides)


def _validate_documents(
    docs: Sequence[Located], config: HomeConfig | None, kinds: Kinds, overrides: Overrides | None
) -> tuple[ScenarioSet, list[Problem]]:
    run = _Run(config=config, kinds=kinds, overrides=overrides or {})
    problems, duplicates = _duplicate_ids(docs)
    loaded: list[LoadedScenario] = []
    for doc in docs:
        file_scenarios, file_problems = _validate_file(doc, run)
        problems.extend(file_problems)
        loaded.extend(s for s in file_scenarios if (s.file, s.index) not in duplicates)
    problems.extend(_unused_overrides(run))
    if config is not None:
        problems.extend(check_set(docs, loaded))
    order = {d.file: i for i, d in enumerate(docs)}
    problems.sort(key=lambda p: (order.get(p.file, len(order)), p.line or 0))
    scenario_set = ScenarioSet(scenarios=tuple(loaded), files=tuple(d.file for d in docs), kinds=kinds)
    return scenario_set, problems


def _duplicate_ids(docs: Sequence[Located]) -> tuple[list[Problem], set[tuple[str, int]]]:
    """Scenario ids used twice, and (file, index) of each later use.

    Found on the raw ids, so a scenario with other mistakes still counts.
    """
    problems: list[Problem] = []
    seen: dict[str, tuple[Located, int]] = {}  # where first used; its line only read when needed
    duplicates: set[tuple[str, int]] = set()
    for doc in docs:
        for i, sid in _raw_ids(doc):
            if sid in seen:
                first, at = seen[sid]
                duplicates.add((doc.file, i))
                problems.append(doc.problem(("scenarios", i, "id"), f"scenario id '{sid}' is also "
                                            f"used at {first.file}:{first.line(('scenarios', at, 'id'))}",
                                            "scenario ids must be unique over all files"))
            else:
                seen[sid] = (doc, i)
    return problems, duplicates


def _raw_ids(doc: Located) -> list[tuple[int, str]]:
    raw = doc.data.get("scenarios") if isinstance(doc.data, dict) else None
    items = raw if isinstance(raw, list) else []
    return [(i, item["id"]) for i, item in enumerate(items)
            if isinstance(item, dict) and isinstance(item.get("id"), str)]


def _unused_overrides(run: _Run) -> list[Problem]:
    return [Problem(file="<parameters>", line=None, path=f"{scope}.{name}",
                    message=f"no parameter '{name}' in '{scope}'")
            for scope, values in run.overrides.items() for name in values
            if (scope, name) not in run.used]


def _validate_file(doc: Located, run: _Run) -> tuple[list[LoadedScenario], list[Problem]]:
    try:
        return _validate_shell(doc, run)
    except Exception as exc:
        # A value no check foresaw must never end `huis check` in a traceback or take down the
        # hub's reload: the file is refused with what went wrong, and the rest still checked.
        return [], [doc.problem((), f"this file could not be checked: {type(exc).__name__}: "
                                f"{str(exc)[:200]}", "please report this as a bug in huis")]


def _validate_shell(doc: Located, run: _Run) -> tuple[list[LoadedScenario], list[Problem]]:
    if not isinstance(doc.data, dict):
        return [], [doc.problem((), "a scenario file should be a mapping with a 'scenarios' list",
                                "start the file with 'scenarios:'")]
    try:
        shell = m.FileShell.model_validate(doc.data)
    except ValidationError as exc:
        return [], translate_errors(doc, exc, (), doc.data)
    scope = shell.name or _stem_scope(doc.file)
    file_params, problems = declare_parameters(doc, ("parameters",), scope, shell.parameters,
                                               run.overrides, run.used)
    out: list[LoadedScenario] = []
    for i, raw in enumerate(shell.scenarios):
        if not isinstance(raw, dict):
            problems.append(doc.problem(("scenarios", i),
                                        "a scenario should be a mapping with id, triggers and actions"))
            continue
        scenario, more = _validate_scenario(doc, run, i, raw, file_params)
        problems.extend(more)
        if scenario is not None:
            out.append(scenario)
    return out, problems


def _validate_scenario(
    doc: Located, run: _Run, index: int, raw: Mapping[str, object], file_params: Mapping[str, ParameterInfo]
) -> tuple[LoadedScenario | None, list[Problem]]:
    """One scenario of a file: its parameters, its shape, then its references to the home."""
    path: Path_ = ("scenarios", index)
    params, problems = _scenario_parameters(doc, run, path, raw, file_params)
    substituted, unknown = substitute(doc, path, raw, params)
    problems.extend(unknown)
    try:
        scenario = m.Scenario.model_validate(substituted)
    except ValidationError as exc:
        # Keep going with the parts that are fine, so references get checked as well.
        reported = {(p.line, p.path) for p in unknown}
        problems.extend(p for p in translate_errors(doc, exc, path, raw)
                        if (p.line, p.path) not in reported)
        problems.extend(check_valid_parts(doc, run.config, params, substituted, path, run.kinds))
        return None, problems
    if unknown:
        return None, problems
    problems.extend(HomeChecker(doc, run.config, params, run.kinds, run.encoded).scenario(scenario, path))
    return _loaded(doc, scenario, index, params), problems


def _scenario_parameters(
    doc: Located, run: _Run, path: Path_, raw: Mapping[str, object], file_params: Mapping[str, ParameterInfo]
) -> tuple[dict[str, ParameterInfo], list[Problem]]:
    """The file's parameters with the scenario's own added (or replacing them)."""
    params = dict(file_params)
    raw_params = raw.get("parameters")
    if not isinstance(raw_params, dict):
        return params, []
    raw_id = raw.get("id")
    sid = raw_id if isinstance(raw_id, str) else f"scenarios[{path[1]}]"
    try:
        defs = {k: m.Parameter.model_validate(v) for k, v in raw_params.items()}
    except ValidationError:
        defs = {}  # reported by the scenario's full validation
    own, problems = declare_parameters(doc, (*path, "parameters"), sid, defs, run.overrides, run.used)
    params.update(own)
    return params, problems


def _loaded(doc: Located, scenario: m.Scenario, index: int, params: Mapping[str, ParameterInfo]) -> LoadedScenario:
    return LoadedScenario(model=scenario, file=doc.file, line=doc.line(("scenarios", index)),
                          index=index, parameters=params)


def _stem_scope(file: str) -> str:
    stem = Path(file).stem.lower().lstrip("_")
    return re.sub(r"[^a-z0-9_]", "_", stem) or "scenarios"
