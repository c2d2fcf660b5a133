"""Every broken configuration in tests/data/broken/ is a message, never a traceback or a hang.

Each case is laid over a small valid home (tests/data/broken/_base/, see its README) and run
through `huis check` and through `huis run` start-up: both must exit 2 and say
`file:line: key: message` for a file of the home, with no traceback. `huis run` never gets as
far as connecting (the base home's broker port is 1): it refuses to start.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from huis.cli import main

BROKEN = Path(__file__).resolve().parents[1] / "data" / "broken"
CASES = sorted(p.name for p in BROKEN.iterdir() if not p.name.startswith("_") and p.name != "README.md")
LOCATED = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+): (?P<rest>.+)$", re.MULTILINE)


def test_the_corpus_has_at_least_60_cases_each_saying_what_is_wrong() -> None:
    assert len(CASES) >= 60
    for name in CASES:
        case = BROKEN / name
        said = (case / "README.md").read_bytes() if case.is_dir() else case.read_bytes()
        assert said.startswith(b"# ") or case.is_dir() or said.startswith(b"\xff\xfe#") or \
            said.startswith(b"#"), f"{name}: first line should say what is wrong"


def build_home(case: str, where: Path) -> Path:
    """The base home with `case` put in; returns its home.yaml."""
    home = where / "home"
    shutil.copytree(BROKEN / "_base", home)
    src = BROKEN / case
    if src.is_dir():
        _overlay(src, home)
    elif case.startswith("home-"):
        shutil.copyfile(src, home / "home.yaml")
    elif case.startswith("alerts-"):
        shutil.copyfile(src, home / "alerts.yaml")
    else:
        shutil.copyfile(src, home / "scenarios" / case.removeprefix("scenario-"))
    return home / "home.yaml"


def _overlay(src: Path, dst: Path) -> None:
    for entry in src.iterdir():
        if entry.name == "README.md" and src.parent == BROKEN:
            continue
        target = dst / entry.name
        if entry.is_dir():
            if target.is_file():
                target.unlink()  # a folder where the base home has a file: the case itself
            target.mkdir(exist_ok=True)
            _overlay(entry, target)
        else:
            shutil.copyfile(entry, target)


@pytest.fixture(autouse=True)
def _keep_logging() -> Iterator[None]:
    # `huis` points the root logger at the stderr it finds; give the next test its own back.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def assert_refused(code: int, err: str, home: Path) -> None:
    assert code == 2, err
    assert "Traceback" not in err, err
    located = [m for m in LOCATED.finditer(err) if Path(m["file"]).resolve().is_relative_to(home.parent)]
    assert located, f"no 'file:line: message' for a file of the home in:\n{err}"
    assert all(len(line) < 400 for line in err.splitlines()), "a message echoes too much"


@pytest.mark.parametrize("case", CASES)
def test_huis_check_reports_the_case(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = build_home(case, tmp_path)
    code = main(["check", str(home)])
    assert_refused(code, capsys.readouterr().err, home)


@pytest.mark.parametrize("case", CASES)
def test_huis_run_refuses_to_start(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = build_home(case, tmp_path)
    code = main(["run", "--config", str(home)])
    assert_refused(code, capsys.readouterr().err, home)


@pytest.mark.parametrize("case", ["folder-sos-yaml-is-a-folder", "scenario-alias-bomb.yaml", "scenario-binary.yaml"])
def test_as_a_process(case: str, tmp_path: Path) -> None:
    """The console entry itself, for a few cases: exit 2, the message, no traceback."""
    home = build_home(case, tmp_path)
    for args in (["check", str(home)], ["run", "--config", str(home)]):
        result = subprocess.run([sys.executable, "-m", "huis.cli", *args], capture_output=True,
                                text=True, timeout=60)
        assert_refused(result.returncode, result.stderr, home)


def test_the_base_home_is_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each case breaks one thing: the home it is laid over is fine."""
    home = tmp_path / "home"
    shutil.copytree(BROKEN / "_base", home)
    assert main(["check", str(home / "home.yaml")]) == 0, capsys.readouterr().err
