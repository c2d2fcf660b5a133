"""Message templates: `{name}` and `{name.sub}` placeholders, nothing else.

Deliberately not `str.format` (which allows attribute access and indexing on the objects it is
given) and not a template language: scenario authors fill in names from a fixed vocabulary, and
an unknown name is caught when the scenario is loaded rather than in the middle of the night.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import time, timedelta

from controller import i18n
from controller.engine.sun import spoken_duration

_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\}|[{}]")

MISSING = "?"


@dataclass(frozen=True, slots=True, kw_only=True)
class Template:
    """A parsed template: literal text and name paths, in order."""

    source: str
    parts: tuple[str | tuple[str, ...], ...]

    @property
    def names(self) -> list[tuple[str, ...]]:
        """Every placeholder, as a path of names."""
        return [p for p in self.parts if isinstance(p, tuple)]

    @property
    def constant(self) -> bool:
        """True when the template has no placeholders."""
        return not self.names

    def render(self, lookup: Callable[[tuple[str, ...]], object], language: str = "nl") -> str:
        """Fill in every placeholder through `lookup` (a missing value renders as '?')."""
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                out.append(format_value(lookup(part), language))
        return "".join(out)


def parse_template(text: str) -> Template:
    """Parse `text`; ValueError saying where a brace is unbalanced."""
    parts: list[str | tuple[str, ...]] = []
    literal: list[str] = []
    pos = 0
    for m in _TOKEN.finditer(text):
        literal.append(text[pos:m.start()])
        pos = m.end()
        token = m.group(0)
        if token == "{{":
            literal.append("{")
        elif token == "}}":
            literal.append("}")
        elif m.group(1):
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(tuple(m.group(1).split(".")))
        else:
            raise ValueError(
                f"unbalanced '{token}' at position {m.start() + 1} of {text!r} "
                "(placeholders look like {resident}; write {{ or }} for a brace)"
            )
    literal.append(text[pos:])
    if any(literal):
        parts.append("".join(literal))
    return Template(source=text, parts=tuple(parts))


def format_value(value: object, language: str = "nl") -> str:
    """How a value reads in a message."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return i18n.text(language, "template.yes" if value else "template.no")
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, timedelta):
        return spoken_duration(value, language)
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return str(value)


def lookup_path(root: object, path: tuple[str, ...]) -> object:
    """Walk nested mappings; None when any step is missing (or `root` is not a mapping)."""
    value = root
    for name in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(name)
        if value is None:
            return None
    return value
