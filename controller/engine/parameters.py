"""Scenario parameters: declared values coerced to their type, overrides applied, `$name` substituted.

A parameter lets a technician change a tolerance or a time without touching a scenario's logic;
the values in force are checked here, before any scenario is validated with them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from controller.durations import parse_duration
from controller.engine import model as m
from controller.engine.hints import declared, suggest
from controller.engine.scenario_set import Overrides, ParameterInfo, ParamValue
from controller.engine.template_names import TEMPLATE_ROOTS
from controller.errors import Problem
from controller.yamlfile import Located, Path_

_PARAM_REF = re.compile(r"^\$([a-z][a-z0-9_]*)$")
# A path being walked: (parent link, key), the root being (None, the scenario's path).
_Link = tuple["_Link | None", "str | int | Path_"]


def coerce_parameter(defn: m.Parameter, value: object) -> ParamValue:
    """A parameter value of the declared type within its range; ValueError saying why not."""
    v = _coerce_type(defn.type, value)
    lo = None if defn.min is None else _coerce_type(defn.type, defn.min)
    hi = None if defn.max is None else _coerce_type(defn.type, defn.max)
    # v, lo and hi were all coerced to the declared type, so they compare; mypy sees the union.
    if lo is not None and v < lo:  # type: ignore[operator]
        raise ValueError(f"{value!r} is below the minimum {defn.min!r}")
    if hi is not None and v > hi:  # type: ignore[operator]
        raise ValueError(f"{value!r} is above the maximum {defn.max!r}")
    if defn.choices is not None and v not in defn.choices:
        raise ValueError(f"{value!r} is not one of {', '.join(defn.choices)}")
    return v


def _coerce_type(kind: str, value: object) -> ParamValue:
    if kind == "duration":
        return parse_duration(value)
    if kind == "time":
        return m.parse_time_of_day(value)
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        raise ValueError(f"{value!r} is not true or false")
    if kind in ("number", "integer"):
        return _coerce_number(kind, value)
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not text")
    return value


def _coerce_number(kind: str, value: object) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{value!r} is not a number")
    if kind == "integer":
        if value != int(value):
            raise ValueError(f"{value!r} is not a whole number")
        return int(value)
    return float(value)


def declare_parameters(
    doc: Located, path: Path_, scope: str, defs: Mapping[str, m.Parameter], overrides: Overrides,
    used: set[tuple[str, str]],
) -> tuple[dict[str, ParameterInfo], list[Problem]]:
    """The parameters declared at `path` with their values in force; records overrides `used`."""
    problems: list[Problem] = []
    out: dict[str, ParameterInfo] = {}
    scope_overrides = overrides.get(scope, {})
    for name, defn in defs.items():
        at = (*path, name)
        if name in TEMPLATE_ROOTS:
            problems.append(doc.problem(at, f"'{name}' is a reserved template name",
                                        "choose another parameter name"))
            continue
        try:
            value = coerce_parameter(defn, defn.default)
        except ValueError as exc:
            problems.append(doc.problem((*at, "default"), str(exc)))
            continue
        problems.extend(_bound_problems(doc, at, defn))
        overridden = False
        if name in scope_overrides:
            used.add((scope, name))
            try:
                value = coerce_parameter(defn, scope_overrides[name])
                overridden = True
            except ValueError as exc:
                problems.append(doc.problem(at, f"override for {scope}.{name}: {exc}"))
        out[name] = ParameterInfo(scope=scope, name=name, definition=defn, value=value,
                                  overridden=overridden)
    return out, problems


def _bound_problems(doc: Located, at: Path_, defn: m.Parameter) -> list[Problem]:
    problems: list[Problem] = []
    for bound, raw in (("min", defn.min), ("max", defn.max)):
        if raw is not None:
            try:
                _coerce_type(defn.type, raw)
            except ValueError as exc:
                problems.append(doc.problem((*at, bound), str(exc)))
    return problems


def substitute(
    doc: Located, path: Path_, raw: Mapping[str, object], params: Mapping[str, ParameterInfo]
) -> tuple[dict[str, object], list[Problem]]:
    """Replace `$name` values with parameter values (the id and parameters themselves excepted)."""
    problems: list[Problem] = []

    # Paths are linked pairs (parent, key) from (None, path), made into a tuple only for a problem; a part with
    # no `$name` in it comes back as the same object (most scenarios use no parameter at all).
    def walk(node: object, at: _Link) -> object:
        if isinstance(node, str):
            ref = _PARAM_REF.match(node) if node[:1] == "$" else None
            if ref is None:
                return node
            name = ref.group(1)
            if name not in params:
                problems.append(doc.problem(_unlink(at), f"unknown parameter '${name}'",
                                            suggest(name, params) or declared(params)))
                return node
            return params[name].value
        if isinstance(node, dict):
            new = {k: walk(v, (at, str(k))) for k, v in node.items()}
            return node if all(new[k] is v for k, v in node.items()) else new
        if isinstance(node, list):
            items = [walk(v, (at, i)) for i, v in enumerate(node)]
            return node if all(a is b for a, b in zip(items, node, strict=True)) else items
        return node

    out = {k: (v if k in ("id", "parameters") or not _mentions(v) else walk(v, ((None, path), k)))
           for k, v in raw.items()}
    return out, problems


def _mentions(node: object) -> bool:
    """Whether a `$name` may be in `node` (a quick look, before anything is copied)."""
    if isinstance(node, str):
        return node[:1] == "$"
    if isinstance(node, dict):
        return any(map(_mentions, node.values()))
    if isinstance(node, list):
        return any(map(_mentions, node))
    return False


def _unlink(at: _Link) -> Path_:
    parts: list[str | int] = []
    while at[0] is not None:
        parts.append(at[1])  # type: ignore[arg-type]
        at = at[0]
    return (*at[1], *reversed(parts))  # type: ignore[misc]
