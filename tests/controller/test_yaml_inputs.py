"""The YAML loader and durations meet hostile input with a located message (issue 14)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from controller import yamlfile
from controller.durations import MAX_DURATION, parse_duration
from controller.errors import ConfigError
from controller.yamlfile import MAX_ALIASES, load_file, load_text


def bomb(levels: int = 9) -> str:
    text = 'lol: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    prev = "a"
    for c in "bcdefghijklm"[:levels - 1]:
        text += f"{c}{c}: &{c} [" + ",".join([f"*{prev}"] * 9) + "]\n"
        prev = c
    return text


@pytest.mark.parametrize(("text", "expected"), [
    ("xref: &x [1, *x]\n", "f.yaml:1: xref[1]: recursive alias: this value contains itself"),
    ("a: &m {b: *m}\n", "f.yaml:1: a.b: recursive alias"),
    ("{a: 1}: b\n", "f.yaml:1: a key must be a plain name, not a mapping"),
    ("? [1]\n: b\n", "f.yaml:1: a key must be a plain name, not a list"),
    ("x: 1\ntimeout: .inf\n", "f.yaml:2: timeout: '.inf' is not a finite number"),
    ("x: .nan\n", "f.yaml:1: x: '.nan' is not a finite number"),
    ("x: 99999999999999999999999\n", "f.yaml:1: x: '99999999999999999999999' is too large a number"),
    ("a: b\x00c\n", "f.yaml:1: character #x0000 is not allowed in a YAML file"),
    ("a: 1\nb: \x07\n", "f.yaml:2: character #x0007 is not allowed"),
    ("x: 1\ndeep: " + "[" * 5000 + "]" * 5000, "f.yaml:2: nested more than 64 levels deep"),
    ("a: !foo x\n", "f.yaml:1: a: 'x' cannot be read: could not determine a constructor"),
    ("a: 2026-13-45\n", "f.yaml:1: a: '2026-13-45' cannot be read: month must be in 1..12"),
    (bomb(), f"too many aliases (more than {MAX_ALIASES:,} uses)"),
])
def test_hostile_yaml_is_a_located_message(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_text(text, "f.yaml")
    assert expected in str(err.value)


def test_a_modest_use_of_aliases_is_fine() -> None:
    doc = load_text("base: &b {timeout: 10s}\na: *b\nb: *b\n", "f.yaml")
    assert doc.data == {"base": {"timeout": "10s"}, "a": {"timeout": "10s"}, "b": {"timeout": "10s"}}


@pytest.mark.parametrize(("content", "expected"), [
    (b"a: 1\nb: 2\n\x00\x01binary", ":3: binary file: contains a NUL byte"),
    (b"a: 1\nname: caf\xe9\n", ":2: not UTF-8 text: byte 0xe9 at offset 14"),
    ("a: 1\n".encode("utf-16"), ":1: saved as UTF-16 text"),
    (b"", None),
])
def test_files_that_are_not_utf8_text(tmp_path: Path, content: bytes, expected: str | None) -> None:
    path = tmp_path / "f.yaml"
    path.write_bytes(content)
    if expected is None:
        assert load_file(path).data == {}
        return
    with pytest.raises(ConfigError, match=expected):
        load_file(path)


def test_a_folder_where_a_file_belongs(tmp_path: Path) -> None:
    (tmp_path / "sos.yaml").mkdir()
    with pytest.raises(ConfigError, match="sos.yaml: is a folder where a YAML file belongs"):
        load_file(tmp_path / "sos.yaml")


def test_a_utf8_bom_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_bytes("\ufeffa: 1\n".encode())
    assert load_file(path).data == {"a": 1}


@pytest.mark.parametrize("value", ["99999999999999d", float("inf"), float("nan"), 1e300, 10**400,
                                   "1" * 400 + "s", timedelta(days=100_000)])
def test_durations_beyond_ten_years_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="not a usable duration: at most 3650 days"):
        parse_duration(value)


def test_the_longest_duration_is_accepted_and_messages_stay_short() -> None:
    assert parse_duration(f"{MAX_DURATION.days}d") == MAX_DURATION
    with pytest.raises(ValueError) as err:
        parse_duration("x" * 1_000_000)
    assert len(str(err.value)) < 120


# -- the fast path (issue 15: 10,000 rules) and the full builder read every file alike ---------

ROOT = Path(__file__).resolve().parents[2]


def _shipped_yaml() -> list[Path]:
    return sorted(p for folder in ("config", "scenarios", "tests/data") for p in (ROOT / folder).rglob("*.y*ml"))


@pytest.mark.parametrize("path", _shipped_yaml(), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_fast_path_reads_a_file_as_the_full_builder_does(path: Path) -> None:
    try:
        text = yamlfile.read_text(path)
    except ConfigError:
        return  # not a text file: refused before any YAML is read
    try:
        full = yamlfile._load(text, "f.yaml")
    except ConfigError:
        assert yamlfile._fast_load(text, "f.yaml") is None  # refused: the full builder says why
        return
    fast = yamlfile._fast_load(text, "f.yaml")
    if fast is None:  # left to the full builder (an empty file)
        return
    shallow = dict(fast._lines)
    assert fast.data == full.data
    assert {k: full.lines[k] for k in shallow} == shallow  # the lines it knows are the right ones
    assert fast.lines == full.lines  # and the rest, read when asked for, are all there


def test_a_usual_scenario_file_with_anchors_takes_the_fast_path() -> None:
    text = (ROOT / "scenarios" / "day_structure.yaml").read_text(encoding="utf-8")
    doc = load_text(text, "day_structure.yaml")
    assert doc._text is not None  # the deep lines are not built yet
    lines = text.splitlines()
    assert doc.line(("scenarios",)) == lines.index("scenarios:") + 1
    # A path deep inside still gets its own line: the rest are read from the text on demand.
    i = next(i for i, s in enumerate(doc.data["scenarios"]) if "conditions" in s)
    assert "conditions:" in lines[doc.line(("scenarios", i, "conditions")) - 1]
    assert doc._text is None


@pytest.mark.parametrize(("text", "expected"), [
    ("a: 1\nb:\n  c: [1, 2]\n  c: 3\n", "f.yaml:4: b.c: key appears twice"),
    ("a: &x {k: 1}\nb: *x\n<<: *x\n", "f.yaml:3: '<<' merge keys are not supported"),
    ("a:\n  - x: 1\n    y: [1, *nowhere]\n", "f.yaml:3: YAML syntax error: found undefined alias"),
])
def test_what_the_fast_path_leaves_is_reported_with_its_line(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_text(text, "f.yaml")
    assert expected in str(err.value)
