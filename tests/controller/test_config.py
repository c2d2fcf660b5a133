from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from controller.config import parse_home
from controller.errors import ConfigError
from controller.yamlfile import load_text
from huis.compose import KINDS, load_home

DATA = Path(__file__).resolve().parent.parent / "data"

MINIMAL = """
rooms:
  bedroom: {name: Slaapkamer, area: [0, 0, 100, 100]}
devices:
  bed_sensor: {kind: bed, room: bedroom}
resident: {pseudonym: Mevrouw Jansen}
"""
# The smallest alerts file that fits MINIMAL with a caregiver 'team': the hub needs one.
MINIMAL_ALERTS = """
severities:
  urgent: {policy: p, channels: [page]}
  warning: {policy: p, channels: [page]}
  info: {policy: p, channels: [page]}
policies:
  p: {steps: [{after: 0m, notify: [team]}]}
caregivers:
  team: {channels: [{type: page}]}
"""


def test_minimal_config_gets_defaults() -> None:
    cfg = parse_home(load_text(MINIMAL, "home.yaml"), KINDS)
    assert cfg.home.location.timezone == "Europe/Amsterdam"
    assert cfg.mqtt is None  # -> embedded broker in `huis demo`
    assert cfg.devices["bed_sensor"].kind == "bed"


def test_broken_config_reports_every_problem_with_file_line_and_hint() -> None:
    path = DATA / "broken_home.yaml"
    with pytest.raises(ConfigError) as info:
        load_home(path)
    lines = [str(p) for p in info.value.problems]
    f = str(path)
    expected = [
        f"{f}:3: home.nmae: 'nmae' is not a valid option (did you mean 'name'?)",
        f"{f}:5: home.location.latitude: 100: input should be less than or equal to 90",
        f"{f}:9: rooms.Bad-Room: 'Bad-Room' is not a valid id "
        "(use lower case letters, digits and '_', starting with a letter)",
        f"{f}:12: devices.bed_sensor.kind: unknown device kind 'bedd' (did you mean 'bed'?)",
        f"{f}:13: devices.bed_sensor.room: unknown room 'bedrom' (did you mean 'bedroom'?)",
        f"{f}:16: devices.bed_two.model: model 'TS0601' is not supported for kind 'bed' "
        "(supported: TS0601_bed_presence_sensor)",
        f"{f}:18: devices.bed_two.mdoel: 'mdoel' is not a valid option (did you mean 'model'?)",
        f"{f}:19: devices.hall_sensor.kind: required key missing",
        f"{f}:21: resident.pseudonym: required key missing",
        f"{f}:22: resident.rooms[1]: unknown room 'kitchen'",
    ]
    for line in expected:
        assert line in lines, f"missing: {line}\ngot:\n" + "\n".join(lines)
    assert any("Europe/Amsterdm" in line and "Europe/Amsterdam" in line for line in lines)


def test_yaml_syntax_error_names_the_line() -> None:
    with pytest.raises(ConfigError) as info:
        parse_home(load_text("rooms:\n  bedroom: {name: x\nresident: y\n", "bad.yaml"), KINDS)
    (problem,) = info.value.problems
    assert problem.file == "bad.yaml"
    assert problem.line == 3
    assert "YAML syntax error" in problem.message


def test_duplicate_key_is_an_error() -> None:
    with pytest.raises(ConfigError) as info:
        load_text("rooms: {}\nrooms: {}\n", "dup.yaml")
    assert str(info.value.problems[0]) == "dup.yaml:2: rooms: key appears twice"


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read file"):
        load_home(tmp_path / "nope.yaml")


def test_huis_check_exits_2_and_prints_file_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "huis.cli", "check", str(DATA / "broken_home.yaml")],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "broken_home.yaml:12: devices.bed_sensor.kind: unknown device kind 'bedd'" in result.stderr
    assert "Traceback" not in result.stderr


def test_huis_check_accepts_a_valid_file(tmp_path: Path) -> None:
    good = tmp_path / "home.yaml"
    (tmp_path / "alerts.yaml").write_text(MINIMAL_ALERTS)
    good.write_text(MINIMAL + "caregivers:\n  team: {name: Zorgteam}\nscenarios: []\n")
    result = subprocess.run([sys.executable, "-m", "huis.cli", "check", str(good)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_huis_check_reports_a_missing_alerts_file(tmp_path: Path) -> None:
    home = tmp_path / "home.yaml"
    home.write_text(MINIMAL + "scenarios: []\n")
    result = subprocess.run([sys.executable, "-m", "huis.cli", "check", str(home)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    # Located where the configuration names it (issue 14: check finds what run would hit).
    assert f"{home}:2: alerts: 'alerts.yaml' does not exist" in result.stderr
