"""Load YAML while remembering the line of every key, so errors can say `file:line`."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from controller.errors import ConfigError, Problem

Path_ = tuple[str | int, ...]


@dataclass(slots=True)
class Located:
    """Parsed YAML data plus the 1-based line of each node, keyed by its path."""

    file: str
    data: object  # what yaml.safe_load would give: dicts, lists, scalars
    lines: dict[Path_, int] = field(default_factory=dict)

    def line(self, path: Sequence[str | int]) -> int | None:
        """The line of `path`, or of its nearest ancestor we know."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), None)

    def problem(
        self, path: Sequence[str | int], message: str, hint: str | None = None
    ) -> Problem:
        """A Problem located at `path` in this file."""
        return Problem(
            file=self.file, line=self.line(path), path=dotted(path), message=message, hint=hint
        )


def dotted(path: Iterable[str | int]) -> str:
    """('triggers', 0, 'for') -> 'triggers[0].for'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _construct(node: yaml.Node, path: Path_, lines: dict[Path_, int], file: str) -> object:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[object, object] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise ConfigError([Problem(file=file, line=key_node.start_mark.line + 1,
                                           path=dotted(path), message="'<<' merge keys are not supported")])
            key = _LOADER.construct_object(key_node, deep=True)
            if key in out:
                raise ConfigError([Problem(file=file, line=key_node.start_mark.line + 1,
                                           path=dotted((*path, str(key))),
                                           message="key appears twice")])
            sub = (*path, str(key))
            out[key] = _construct(value_node, sub, lines, file)
            lines[sub] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(v, (*path, i), lines, file) for i, v in enumerate(node.value)]
    return _LOADER.construct_object(node, deep=True)


_LOADER = yaml.SafeLoader("")


def load_text(text: str, file: str) -> Located:
    """Parse YAML text; a syntax error becomes a ConfigError naming the line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError([Problem(file=file, line=line, path="",
                                   message=f"YAML syntax error: {exc.problem}")]) from exc
    lines: dict[Path_, int] = {}
    data = {} if node is None else _construct(node, (), lines, file)
    return Located(file=file, data=data, lines=lines)


def load_file(path: str | Path) -> Located:
    """Read and parse a YAML file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([Problem(file=str(p), line=None, path="",
                                   message=f"cannot read file: {exc.strerror}")]) from exc
    return load_text(text, str(p))


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """'did you mean ...' for a misspelt name, or None."""
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{match[0]}'?" if match else None


def pydantic_problems(
    doc: Located, exc: ValidationError, prefix: Path_ = (), fields: dict[Path_, list[str]] | None = None
) -> list[Problem]:
    """Translate a pydantic ValidationError into located, readable problems."""
    problems: list[Problem] = []
    for err in exc.errors(include_url=False):
        loc: Path_ = (*prefix, *(p for p in err["loc"] if not _is_union_tag(p)))
        kind = err["type"]
        hint = None
        if kind == "missing":
            message = "required key missing"
        elif kind == "extra_forbidden":
            message = f"'{loc[-1]}' is not a valid option"
            if fields is not None:
                hint = suggest(str(loc[-1]), fields.get(_schema_path(loc[:-1]), []))
        else:
            message = err["msg"]
            value = err.get("input")
            if isinstance(value, str | int | float | bool) and kind != "value_error":
                message = f"{value!r}: {message[0].lower()}{message[1:]}"
            elif kind == "value_error":
                message = message.removeprefix("Value error, ")
        problems.append(doc.problem(loc, message, hint))
    return problems


def _is_union_tag(part: int | str) -> bool:
    # pydantic puts validator and union-member names such as 'function-after[...]' into `loc`;
    # users never wrote those.
    return isinstance(part, str) and "[" in part


def _schema_path(loc: Path_) -> Path_:
    # Field lists are registered per schema position, with list indexes and map keys as '*'.
    return tuple("*" if isinstance(p, int) else p for p in loc)
