"""Load YAML while remembering the line of every key, so errors can say `file:line`."""

from __future__ import annotations

import copy
import difflib
import gc
import itertools
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from controller.errors import ConfigError, Problem

Path_ = tuple[str | int, ...]


class Located:
    """Parsed YAML data plus the 1-based line of each node, keyed by its path.

    A file read by the fast path knows the lines of its top two levels only (a scenario's own
    line); the rest are read from the text again the first time anything asks for them, which
    is when a problem is being reported. A valid 10,000-rule file never builds them.
    """

    __slots__ = ("_lines", "_text", "data", "file")

    def __init__(self, file: str, data: object, lines: dict[Path_, int] | None = None,
                 text: str | None = None) -> None:
        self.file = file
        self.data = data  # what yaml.safe_load would give: dicts, lists, scalars
        self._lines: dict[Path_, int] = {} if lines is None else lines
        self._text = text  # set while only the shallow lines are known

    @property
    def lines(self) -> dict[Path_, int]:
        """Every path's line (built from the text on first use after the fast path)."""
        if self._text is not None:
            full = _load_located(self._text, self.file).lines
            full.update(self._lines)  # anything added by hand (onboarding) stays
            self._lines, self._text = full, None
        return self._lines

    def line(self, path: Sequence[str | int]) -> int | None:
        """The line of `path`, or of its nearest ancestor we know."""
        p = tuple(path)
        found = self._lines.get(p)
        if found is not None:
            return found
        lines = self.lines
        while p:
            if p in lines:
                return lines[p]
            p = p[:-1]
        return lines.get((), None)

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


def _line_of(ev: yaml.Event | None) -> int:
    mark = ev.start_mark if ev is not None else None
    if mark is None:
        raise _Fallback
    return mark.line + 1


class _Fallback(Exception):
    """Something the fast path leaves to the full builder, which reports it with its line."""


_MERGE = "tag:yaml.org,2002:merge"
_SHALLOW = 2  # paths this long get their line in the fast path: a file's keys and its scenarios


def _fast_load(text: str, file: str) -> Located | None:
    """The usual file read from libyaml's events, without a node graph or a line per value.

    Returns None for anything unusual (no libyaml, an alias at the top two levels, merge keys, duplicate
    keys, a syntax error, limits exceeded, several documents): `_load` then decides, with the
    messages it always gave. Repeated scalars ("type", "state", "on") are built once and shared.
    """
    if _FAST is None:
        return None
    loader = _FAST(text)
    try:
        builder = _FastBuilder(loader)
        data = builder.document()
    except Exception:  # whatever it is, the full builder reads the file again and says what
        return None
    finally:
        loader.dispose()
    return Located(file=file, data=data, lines=builder.lines, text=text)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Anchor:
    """An anchored value and what expanding an alias of it adds to the counts."""

    value: object
    nodes: int
    containers: int
    height: int


class _FastBuilder:
    """Plain data from a stream of parser events; lines only for the top `_SHALLOW` levels."""

    def __init__(self, loader: yaml.CSafeLoader) -> None:
        self._get = loader.get_event
        self._safe = yaml.SafeLoader("")
        self._scalars: dict[tuple[object, bool, str], object] = {}
        self.lines: dict[Path_, int] = {}
        self._anchors: dict[str, _Anchor] = {}
        self._nodes = 0  # values built, aliases expanded (as _Builder counts them)
        self._containers = 0
        self._aliases = 0
        self._deepest = 0

    def _next(self) -> yaml.Event:
        ev = self._get()
        if ev is None:
            raise _Fallback
        return ev

    def document(self) -> object:
        ev = self._next()
        if not isinstance(ev, yaml.StreamStartEvent) or \
                not isinstance(self._next(), yaml.DocumentStartEvent):
            raise _Fallback  # an empty file: the full builder says what it means
        ev = self._next()
        self.lines[()] = _line_of(ev)
        data = self._node(ev, (), 0)
        if not isinstance(self._next(), yaml.DocumentEndEvent) or \
                not isinstance(self._next(), yaml.StreamEndEvent):
            raise _Fallback
        return data

    def _node(self, ev: yaml.Event | None, path: Path_ | None, depth: int) -> object:
        kind = type(ev)
        if kind is yaml.ScalarEvent and ev.anchor is None:  # type: ignore[union-attr]
            # Most values: the general case below, without what anchors need.
            self._nodes += 1
            if depth > MAX_DEPTH or self._nodes > MAX_NODES:
                raise _Fallback
            if depth > self._deepest:
                self._deepest = depth
            return self._scalar(ev)  # type: ignore[arg-type]
        if kind is yaml.AliasEvent:
            return self._alias(ev, path, depth)  # type: ignore[arg-type]
        self._nodes += 1
        if depth > MAX_DEPTH or self._nodes > MAX_NODES:
            raise _Fallback
        self._deepest = max(self._deepest, depth)
        anchor = getattr(ev, "anchor", None)
        before = (self._nodes, self._containers, self._deepest)
        self._deepest = depth
        if kind is yaml.ScalarEvent:
            value = self._scalar(ev)  # type: ignore[arg-type]
        elif kind is yaml.SequenceStartEvent:
            self._containers += 1
            value = self._sequence(path, depth)
        elif kind is yaml.MappingStartEvent:
            self._containers += 1
            value = self._mapping(path, depth)
        else:
            raise _Fallback
        if anchor is not None:
            if anchor in self._anchors:
                raise _Fallback  # a duplicate anchor: the full builder's parser refuses it
            self._anchors[anchor] = _Anchor(value=value, nodes=self._nodes - before[0] + 1,
                                            containers=self._containers - before[1],
                                            height=self._deepest - depth)
        self._deepest = max(before[2], self._deepest)
        return value

    def _alias(self, ev: yaml.AliasEvent, path: Path_ | None, depth: int) -> object:
        """A copy of the anchored value, counted as the full builder counts an expanded alias."""
        found = self._anchors.get(ev.anchor or "") if path is None else None
        if found is None:
            raise _Fallback  # undefined, still open (a cycle), or shallow (lines needed)
        self._nodes += found.nodes
        self._aliases += found.containers
        self._deepest = max(self._deepest, depth + found.height)
        if self._nodes > MAX_NODES or self._aliases > MAX_ALIASES or depth + found.height > MAX_DEPTH:
            raise _Fallback
        return copy.deepcopy(found.value)

    def _sequence(self, path: Path_ | None, depth: int) -> list[object]:
        out: list[object] = []
        shallow = path is not None and len(path) < _SHALLOW
        get = self._get  # a None event (the stream ended early) fails the type checks
        while True:
            ev = get()
            if type(ev) is yaml.SequenceEndEvent:
                return out
            sub: Path_ | None = None
            if shallow:
                assert path is not None
                sub = (*path, len(out))
                self.lines[sub] = _line_of(ev)
            out.append(self._node(ev, sub, depth + 1))

    def _mapping(self, path: Path_ | None, depth: int) -> dict[object, object]:
        out: dict[object, object] = {}
        shallow = path is not None and len(path) < _SHALLOW
        get = self._get
        while True:
            ev = get()
            if type(ev) is yaml.MappingEndEvent:
                return out
            if type(ev) is not yaml.ScalarEvent or ev.anchor is not None:
                raise _Fallback
            key = self._scalar(ev)  # type: ignore[arg-type]
            if key in out:
                raise _Fallback
            sub: Path_ | None = None
            if shallow:
                assert path is not None
                sub = (*path, str(key))
                self.lines[sub] = _line_of(ev)
            out[key] = self._node(get(), sub, depth + 1)

    def _scalar(self, ev: yaml.ScalarEvent) -> object:
        plain = bool(ev.implicit[0])
        cache_key = (ev.tag, plain, ev.value)
        try:
            return self._scalars[cache_key]
        except KeyError:
            pass
        tag = ev.tag
        if tag is None or tag == "!":
            tag = self._safe.resolve(yaml.ScalarNode, ev.value, ev.implicit)  # type: ignore[no-untyped-call]
        if tag == _MERGE:
            raise _Fallback
        value = self._safe.construct_object(yaml.ScalarNode(tag, ev.value, style=ev.style))
        if isinstance(value, float) and not math.isfinite(value):
            raise _Fallback
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
            raise _Fallback
        self._scalars[cache_key] = value
        return value


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else f"{text[:limit]}..."


def _line_at(text: str, index: int) -> int:
    return text.count("\n", 0, max(index, 0)) + 1


def _too_deep(text: str) -> int | None:
    """The line where brackets first nest deeper than MAX_DEPTH (quotes ignored: a hint only)."""
    only = _NOT_BRACKETS.sub("", text)
    if max(itertools.accumulate(_STEP[ch] for ch in only), default=0) <= MAX_DEPTH:
        return None
    depth = 0
    for i, ch in enumerate(text):
        depth += (ch in "[{") - (ch in "]}")
        if depth > MAX_DEPTH:
            return _line_at(text, i)
    return None  # pragma: no cover - the scan above found it deeper


_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def load_text(text: str, file: str) -> Located:
    """Parse YAML text; a syntax error, a cycle or an alias bomb becomes a ConfigError naming the line."""
    # PyYAML composes recursively: refuse deep brackets before they become a RecursionError.
    deep = _too_deep(text) if text.count("[") + text.count("{") > MAX_DEPTH else None
    if deep is not None:
        raise _fail(file, deep, (), f"nested more than {MAX_DEPTH} levels deep")
    with gc_paused():
        # The fast path reads the usual file; whatever it leaves (anchors, duplicate keys, a
        # syntax error...) the full builder reads again and reports with its line.
        return _fast_load(text, file) or _load(text, file)


def _load_located(text: str, file: str) -> Located:
    """Every line of a file the fast path read (asked for when a problem is reported)."""
    with gc_paused():
        return _load(text, file)


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a file is parsed (or its scenarios validated and
    compiled): those steps only ever add objects, and with it on, a 10,000-rule file took six
    times as long to parse (each collection walks them all); validating it, a third longer."""
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
