"""The `quiet` and `routine` conditions as a technician writes them: checked shapes, a home that
could never be quiet, and the trace text."""

from __future__ import annotations

import pytest

from controller.config import HomeConfig, parse_home
from controller.engine import load_scenario_text
from controller.errors import ConfigError
from controller.yamlfile import load_text
from devices import KINDS

SCENARIO = """scenarios:
  - id: a
    triggers: [{type: time, at: "12:00"}]
    conditions:
      - {type: quiet, longer_than: %s}
      - {type: routine, is: %s}
    actions: [{type: alert, severity: info, message: hallo}]
"""


def problems(text: str, home: HomeConfig) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_scenario_text(text, home, KINDS, "s.yaml")
    return [str(p) for p in caught.value.problems]


def test_valid_forms_load(home: HomeConfig) -> None:
    for limit, where in (("routine", "past_wake_time"), ("90m", "night"), ("2h", "night")):
        loaded = load_scenario_text(SCENARIO % (limit, where), home, KINDS, "s.yaml")
        assert loaded.ids() == ["a"]


def test_wrong_values_are_reported_with_their_line(home: HomeConfig) -> None:
    found = problems(SCENARIO % ("soon", "bedtime"), home)
    assert any(p.startswith("s.yaml:5: scenarios[0].conditions[0].longer_than") for p in found), found
    assert any(p.startswith("s.yaml:6: scenarios[0].conditions[1].is") and "past_wake_time" in p
               for p in found), found


def test_a_home_without_activity_sensors_can_never_be_quiet() -> None:
    lamps_only = parse_home(load_text("""
rooms: {living: {name: Woonkamer, area: [0, 0, 10, 10]}}
devices: {lamp: {kind: light, model: LED2201G8, room: living}}
resident: {pseudonym: Mevrouw Jansen}
""", "home.yaml"), KINDS)
    assert problems(SCENARIO % ("routine", "night"), lamps_only) == [
        "s.yaml:5: scenarios[0].conditions[0]: this home has no motion, bed or door sensor, so 'quiet' "
        "can never hold (add a device of kind motion, bed, contact)"]
