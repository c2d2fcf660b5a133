"""pydantic's errors about a scenario's shape, translated into located, readable problems.

pydantic reports a wrong trigger type as several union-member errors at paths the user never
wrote; a technician should read one line: where, what is wrong, and what would be right.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from controller.engine import model as m
from controller.engine.hints import suggest
from controller.errors import Problem
from controller.yamlfile import Located, Path_

# Where a problem is reported, its message and its hint.
Described = tuple[Path_, str, str | None]


def translate_errors(doc: Located, exc: ValidationError, prefix: Path_, raw: object) -> list[Problem]:
    """pydantic errors -> located problems, with union noise removed and similar errors merged."""
    by_path: dict[Path_, list[ErrorDetails]] = {}
    for err in exc.errors(include_url=False):
        full = (*prefix, *_clean_loc(raw, tuple(err["loc"]), err["type"]))
        by_path.setdefault(full, []).append(err)
    problems: list[Problem] = []
    for full, errs in by_path.items():
        at, message, hint = _describe(doc.data, full, errs)
        problems.append(doc.problem(at, message, hint))
    return problems


def _describe(root: object, full: Path_, errs: Sequence[ErrorDetails]) -> Described:
    """One problem for all the errors pydantic reported at one place."""
    kind = errs[0]["type"]
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return _wrong_type(full, errs[0])
    if kind == "missing":
        return full, "required key missing", None
    if kind == "extra_forbidden":
        return full, f"'{full[-1]}' is not a valid option", suggest(str(full[-1]), _fields_at(root, full[:-1]))
    if len(errs) > 1:
        return full, _merged_message(errs), None
    return full, _single_message(errs[0]), None


def _wrong_type(full: Path_, first: ErrorDetails) -> Described:
    """A missing or unknown `type:` of a trigger, condition or action."""
    what, types = _section_types(full) or ("item", {})
    tags = list(types)
    at = (*full, "type")
    if first["type"] == "union_tag_not_found":
        return at, "required key missing", f"one of: {', '.join(tags)}"
    tag = str(first.get("ctx", {}).get("tag"))
    article = "an" if what[0] in "aeiou" else "a"
    return at, f"'{tag}' is not {article} {what} type", suggest(tag, tags) or f"one of: {', '.join(tags)}"


def _merged_message(errs: Sequence[ErrorDetails]) -> str:
    """Several errors at one place (the members of a union): a validator's reason, or 'should be a or b'."""
    for e in errs:
        if e["type"] == "value_error":
            return str(e["msg"]).removeprefix("Value error, ")
    wants: list[str] = []
    for e in errs:
        text = str(e["msg"]).removeprefix("Value error, ").removeprefix("Input should be ")
        if text not in wants:
            wants.append(text)
    return f"{_show(errs[0].get('input'))}: should be {' or '.join(wants)}"


def _single_message(err: ErrorDetails) -> str:
    message = str(err["msg"])
    value = err.get("input")
    if err["type"] in ("value_error", "assertion_error"):
        return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if isinstance(value, str | int | float | bool):
        return f"{value!r}: {message[0].lower()}{message[1:]}"
    return message


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


def _fields_at(data: object, path: Path_) -> list[str]:
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


def _get(data: object, path: Path_) -> object:
    for part in path:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _clean_loc(raw: object, loc: tuple[int | str, ...], kind: str) -> Path_:
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
