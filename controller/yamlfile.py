"""Load YAML while remembering the line of every key, so errors can say `file:line`."""

from __future__ import annotations

import difflib
import gc
import math
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
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


# Limits that keep a hostile or broken file from hanging or exhausting the loader. A real home
# and its scenarios are a few thousand values; an alias bomb ("billion laughs") is billions.
MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 200_000
MAX_ALIASES = 1_000
# SQLite stores integers in 64 bits; a larger number in a config is a typo.
MAX_INT = 2**63 - 1


# libyaml's parser when PyYAML was built with it (the wheels are): the same nodes with the same
# marks, ten times faster than the pure-Python one, which spent 90% of loading 1,000 rules.
_FAST = getattr(yaml, "CSafeLoader", None)


def _compose(text: str) -> yaml.Node | None:
    """The node graph of `text`. A file libyaml refuses is parsed again by PyYAML's own parser,
    whose messages name the line and what was expected more plainly ("expected ',' or ']', but
    got '<stream end>'" on the line of the bracket, where libyaml names the line after)."""
    if _FAST is not None:
        try:
            return yaml.compose(text, Loader=_FAST)
        except yaml.YAMLError:
            pass
    return yaml.compose(text, Loader=yaml.SafeLoader)


def _fail(file: str, line: int | None, path: Path_, message: str) -> ConfigError:
    return ConfigError([Problem(file=file, line=line, path=dotted(path), message=message)])


class _Builder:
    """Turns a composed YAML node graph into plain data, stamping each path with its line.

    yaml.compose resolves aliases to shared nodes, so a cycle (`x: &x [*x]`) or an alias bomb
    is a small graph that expands without end; the builder counts and refuses instead.
    """

    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[Path_, int] = {}
        self._loader = yaml.SafeLoader("")
        self._done: set[int] = set()  # nodes built once: meeting one again is an alias
        self._open: set[int] = set()  # nodes being built: meeting one again is a cycle
        self._nodes = 0
        self._aliases = 0

    def build(self, node: yaml.Node, path: Path_) -> object:
        line = node.start_mark.line + 1
        self.lines[path] = line
        self._count(node, path, line)
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path, line)
        self._open.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            return [self.build(v, (*path, i)) for i, v in enumerate(node.value)]
        finally:
            self._open.discard(id(node))
            self._done.add(id(node))

    def _count(self, node: yaml.Node, path: Path_, line: int) -> None:
        if id(node) in self._open:
            raise _fail(self.file, line, path, "recursive alias: this value contains itself")
        if id(node) in self._done and not isinstance(node, yaml.ScalarNode):
            self._aliases += 1
        self._nodes += 1
        if self._aliases > MAX_ALIASES:
            raise _fail(self.file, line, path, f"too many aliases (more than {MAX_ALIASES:,} uses)")
        if self._nodes > MAX_NODES:
            raise _fail(self.file, line, path,
                        f"too many aliases or values (the file expands to more than {MAX_NODES:,})")
        if len(path) > MAX_DEPTH:
            raise _fail(self.file, line, path[:3], f"nested more than {MAX_DEPTH} levels deep")

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict[object, object]:
        out: dict[object, object] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise _fail(self.file, line, path, "'<<' merge keys are not supported")
            if not isinstance(key_node, yaml.ScalarNode):
                shape = "mapping" if isinstance(key_node, yaml.MappingNode) else "list"
                raise _fail(self.file, line, path, f"a key must be a plain name, not a {shape}")
            key = self._scalar(key_node, path, line)
            sub = (*path, str(key))
            if key in out:
                raise _fail(self.file, line, sub, "key appears twice")
            out[key] = self.build(value_node, sub)
            self.lines[sub] = line
        return out

    def _scalar(self, node: yaml.ScalarNode, path: Path_, line: int) -> object:
        try:
            value = self._loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError, TypeError) as exc:
            # An unknown tag (`!foo`), an impossible date (2026-13-45), bad base64 in `!!binary`.
            reason = getattr(exc, "problem", None) or str(exc)
            raise _fail(self.file, line, path, f"{_clip(node.value)!r} cannot be read: {reason}") from exc
        if isinstance(value, float) and not math.isfinite(value):
            raise _fail(self.file, line, path, f"{node.value!r} is not a finite number")
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
            raise _fail(self.file, line, path, f"{_clip(node.value)!r} is too large a number")
        return value


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else f"{text[:limit]}..."


def _line_at(text: str, index: int) -> int:
    return text.count("\n", 0, max(index, 0)) + 1


def _too_deep(text: str) -> int | None:
    """The line where brackets first nest deeper than MAX_DEPTH (quotes ignored: a hint only)."""
    depth = 0
    for i, ch in enumerate(text):
        depth += (ch in "[{") - (ch in "]}")
        if depth > MAX_DEPTH:
            return _line_at(text, i)
    return None


def load_text(text: str, file: str) -> Located:
    """Parse YAML text; a syntax error, a cycle or an alias bomb becomes a ConfigError naming the line."""
    # PyYAML composes recursively: refuse deep brackets before they become a RecursionError.
    deep = _too_deep(text) if text.count("[") + text.count("{") > MAX_DEPTH else None
    if deep is not None:
        raise _fail(file, deep, (), f"nested more than {MAX_DEPTH} levels deep")
    with _gc_paused():
        return _load(text, file)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a file is parsed: a parse only ever adds objects,
    and with it on, a 10,000-rule file took six times as long (each collection walks them all)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _load(text: str, file: str) -> Located:
    try:
        node = _compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise _fail(file, line, (), f"YAML syntax error: {exc.problem}") from exc
    except yaml.reader.ReaderError as exc:
        # Control characters such as NUL, which YAML does not allow in a file.
        raise _fail(file, _line_at(text, exc.position), (),
                    f"character #x{exc.character:04x} is not allowed in a YAML file") from exc
    except yaml.YAMLError as exc:
        raise _fail(file, None, (), f"YAML error: {exc}") from exc
    except RecursionError as exc:
        raise _fail(file, _too_deep(text), (), f"nested more than {MAX_DEPTH} levels deep") from exc
    builder = _Builder(file)
    if node is None:
        builder.lines[()] = 1  # an empty file: what is missing is missing from line 1
    data = {} if node is None else builder.build(node, ())
    return Located(file=file, data=data, lines=builder.lines)


def load_file(path: str | Path) -> Located:
    """Read and parse a YAML file; anything that is not a readable UTF-8 text file is a ConfigError."""
    p = Path(path)
    text = read_text(p)
    return load_text(text, str(p))


def read_text(p: Path, limit: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of a configuration file, or a ConfigError saying why it has none."""
    if p.is_dir():
        raise _fail(str(p), None, (), "is a folder where a YAML file belongs")
    try:
        with p.open("rb") as f:
            raw = f.read(limit + 1)
    except OSError as exc:
        raise _fail(str(p), None, (), f"cannot read file: {exc.strerror}") from exc
    if len(raw) > limit:
        raise _fail(str(p), None, (), f"file is larger than {limit:,} bytes; a configuration "
                    "file is a few kilobytes")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _fail(str(p), 1, (), "saved as UTF-16 text: save the file as UTF-8")
    nul = raw.find(b"\0")
    if nul >= 0:
        raise _fail(str(p), raw.count(b"\n", 0, nul) + 1, (),
                    "binary file: contains a NUL byte (not a YAML text file)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _fail(str(p), raw.count(b"\n", 0, exc.start) + 1, (),
                    f"not UTF-8 text: byte 0x{raw[exc.start]:02x} at offset {exc.start} "
                    "(save the file as UTF-8)") from exc


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
