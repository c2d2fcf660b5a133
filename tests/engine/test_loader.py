"""Loading and checking scenario files: every problem at once, as file:line: path: message."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import jsonschema
import pytest
import yaml

from controller.config import HomeConfig
from controller.engine import check_paths, load_scenario_text, load_scenarios, scenario_json_schema
from controller.errors import ConfigError
from devices import KINDS
from devices.bed import BedSensor
from devices.sos import SosButton

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "scenarios" / "_examples"
DEMO = ROOT / "config" / "home.yaml"


def problems(text: str, home: HomeConfig) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_scenario_text(text, home, KINDS, "s.yaml")
    return [str(p) for p in caught.value.problems]


def test_broken_example_reports_every_problem_with_file_and_line() -> None:
    found = [str(p) for p in check_paths([DEMO, EXAMPLES / "broken.yaml"], KINDS)]
    f = EXAMPLES / "broken.yaml"
    assert found == [
        f"{f}:6: scenarios[0].triggers[0].device: unknown device 'bed_sensr' (did you mean 'bed_sensor'?)",
        f"{f}:9: scenarios[0].triggers[0].for: '10 minuten' is not a duration (try '10m')",
        f"{f}:11: scenarios[0].conditions[0].type: 'tijd' is not a condition type (one of: time, sun, "
        "state, resident, mode, alert, trigger, wait, parameter, quiet, routine, and, or, not, held)",
        f"{f}:16: scenarios[0].actions[0].to[0]: unknown caregiver 'ana' (did you mean 'anna'?)",
        f"{f}:17: scenarios[0].actions[0].message: unknown template name 'residnt' (did you mean "
        "'resident'?)",
        f"{f}:18: scenarios[0].actions[1]: hall_light: a LED1623G12 has no adjustable colour temperature",
        f"{f}:21: scenarios[1].id: scenario id 'night_exit_warning' is also used at {f}:3 "
        "(scenario ids must be unique over all files)",
    ]


def test_showcase_is_valid_against_the_demo_home() -> None:
    assert check_paths([DEMO, EXAMPLES / "showcase.yaml"], KINDS) == []


def test_check_paths_with_only_a_config_checks_its_scenario_folders(tmp_path: Path) -> None:
    (tmp_path / "scenarios").mkdir()
    config = tmp_path / "home.yaml"
    config.write_text(DEMO.read_text().replace("../var/huis.db", "huis.db")
                      + "\nscenarios: [scenarios]\n")
    (tmp_path / "scenarios" / "a.yaml").write_text(
        "scenarios:\n  - id: a\n    triggers: [{type: time, at: '07:00'}]\n"
        "    actions: [{type: light, device: kitchen_lamp, state: on}]\n")
    (tmp_path / "scenarios" / "_skipped.yaml").write_text("not: [valid")
    (tmp_path / "alerts.yaml").write_text((DEMO.parent / "alerts.yaml").read_text())  # named by home.yaml
    assert [str(p) for p in check_paths([config], KINDS)] == [
        f"{tmp_path}/scenarios/a.yaml:4: scenarios[0].actions[0].device: unknown device "
        "'kitchen_lamp' (did you mean 'kitchen_light'?)"]


def test_attribute_event_and_kind_references(home: HomeConfig) -> None:
    assert problems("""scenarios:
  - id: a
    triggers:
      - {type: state, device: bed_sensor, attribute: occupied, to: false}
      - {type: event, device: dispenser, event: dose_forgotten}
      - {type: state, kind: motoin, attribute: occupancy}
      - {type: state, room: bedrom, attribute: occupancy}
      - {type: event, device: front_door}
    conditions:
      - {type: trigger, id: nope}
    actions:
      - {type: light, device: bedroom_curtain, state: on}
      - {type: announce, text: "{state.bed_sensor.occupied} {name.bed} {trigger}", speaker: speakr}
""", home) == [
        "s.yaml:4: scenarios[0].triggers[0].attribute: a bed has no attribute 'occupied' "
        "(did you mean 'occupancy'?)",
        "s.yaml:5: scenarios[0].triggers[1].event: a dispenser sends no event 'dose_forgotten' "
        "(did you mean 'dose_taken'?)",
        "s.yaml:6: scenarios[0].triggers[2].kind: unknown device kind 'motoin' (did you mean 'motion'?)",
        "s.yaml:7: scenarios[0].triggers[3].room: unknown room 'bedrom' (did you mean 'bedroom'?)",
        "s.yaml:8: scenarios[0].triggers[4]: a contact sends no events (use a 'state' trigger)",
        "s.yaml:10: scenarios[0].conditions[0].id: no trigger with id 'nope' (trigger ids: 0, 1, 2, 3, 4)",
        "s.yaml:12: scenarios[0].actions[0].device: 'bedroom_curtain' is a curtain, not a light",
        "s.yaml:13: scenarios[0].actions[1].text: a bed has no attribute 'occupied' (did you mean "
        "'occupancy'?)",
        "s.yaml:13: scenarios[0].actions[1].text: unknown device 'bed' in 'name.bed'",
        "s.yaml:13: scenarios[0].actions[1].text: 'trigger': name a field, e.g. trigger.device",
        "s.yaml:13: scenarios[0].actions[1].device: unknown device 'speakr' (did you mean 'speaker'?)",
    ]


def test_shape_problems(home: HomeConfig) -> None:
    assert problems("""scenarios:
  - id: Bad-Id
    mode: sometimes
    triggers: []
    actions:
      - {type: light, device: bedroom_light}
      - {type: delay, duration: soon}
      - {type: alert, severity: loud, message: "x {"}
      - {type: lamp}
      - {type: wait, triggers: [{type: time, at: "7:75"}], timeout: 5m}
""", home) == [
        "s.yaml:2: scenarios[0].id: 'Bad-Id': string should match pattern '^[a-z][a-z0-9_]*$'",
        "s.yaml:3: scenarios[0].mode: 'sometimes': input should be 'single', 'restart', 'queued' or "
        "'parallel'",
        "s.yaml:4: scenarios[0].triggers: List should have at least 1 item after validation, not 0",
        "s.yaml:6: scenarios[0].actions[0]: give 'state', a brightness or a colour temperature",
        "s.yaml:7: scenarios[0].actions[1].duration: 'soon' is not a duration (try '10m')",
        "s.yaml:8: scenarios[0].actions[2].severity: 'loud': input should be 'urgent', 'warning' or 'info'",
        "s.yaml:9: scenarios[0].actions[3].type: 'lamp' is not an action type (one of: light, "
        "curtain, announce, alert, resolve, set_mode, set_presence, delay, wait, if, cancel, mqtt, "
        "command)",
        "s.yaml:10: scenarios[0].actions[4].triggers[0].at: '7:75' is not a time of day (try '07:30')",
    ]


def test_template_syntax_is_checked(home: HomeConfig) -> None:
    assert problems("""scenarios:
  - id: a
    triggers: [{type: time, at: "07:00"}]
    actions:
      - {type: announce, text: "Goedemorgen {resident"}
""", home) == [
        "s.yaml:5: scenarios[0].actions[0].text: unbalanced '{' at position 13 of 'Goedemorgen "
        "{resident' (placeholders look like {resident}; write {{ or }} for a brace)"]


def test_parameters_defaults_ranges_and_overrides(home: HomeConfig) -> None:
    text = """name: night
parameters:
  tolerance: {type: duration, default: 10m, min: 0m, max: 30m}
  level: {type: integer, default: 10, min: 1, max: 100}
scenarios:
  - id: a
    triggers: [{type: state, device: bed_sensor, attribute: occupancy, to: false, for: $tolerance}]
    actions: [{type: light, device: bedroom_light, brightness_percent: $level}]
"""
    loaded = load_scenario_text(text, home, KINDS, "s.yaml", {"night": {"tolerance": "20m"}})
    [s] = loaded.scenarios
    assert s.model.triggers[0].for_.total_seconds() == 1200  # type: ignore[union-attr]
    assert s.parameters["tolerance"].overridden
    assert s.parameters["level"].value == 10
    with pytest.raises(ConfigError) as caught:
        load_scenario_text(text, home, KINDS, "s.yaml", {"night": {"tolerance": "45m", "nope": 1}})
    assert [str(p) for p in caught.value.problems] == [
        "s.yaml:3: parameters.tolerance: override for night.tolerance: '45m' is above the maximum '30m'",
        "<parameters>: night.nope: no parameter 'nope' in 'night'",
    ]
    assert problems(text.replace("default: 10m", "default: 45m").replace("$level", "$levl"), home) == [
        "s.yaml:3: parameters.tolerance.default: '45m' is above the maximum '30m'",
        "s.yaml:7: scenarios[0].triggers[0].for: unknown parameter '$tolerance' (declared: level)",
        "s.yaml:8: scenarios[0].actions[0].brightness_percent: unknown parameter '$levl' "
        "(did you mean 'level'?)",
    ]


def test_unquoted_times_and_yaml_booleans(home: HomeConfig) -> None:
    loaded = load_scenario_text("""scenarios:
  - id: a
    triggers: [{type: time, at: 22:30}]
    conditions: [{type: time, after: 22:00, before: 07:00}]
    actions: [{type: light, device: bedroom_light, state: off}]
""", home, KINDS)
    [s] = loaded.scenarios
    assert str(s.model.triggers[0].at) == "22:30:00"  # type: ignore[union-attr]
    assert s.model.actions[0].state == "OFF"  # type: ignore[union-attr]


def test_digests_tell_changes_apart(home: HomeConfig, tmp_path: Path) -> None:
    base = "scenarios:\n  - {id: a, triggers: [{type: time, at: '07:00'}], actions: [%s]}\n"
    one = load_scenario_text(base % "{type: set_mode, mode: day}", home, KINDS).scenarios[0]
    same = load_scenario_text("\n" + base % "{type: set_mode, mode: day}", home, KINDS).scenarios[0]
    other = load_scenario_text(base % "{type: set_mode, mode: night}", home, KINDS).scenarios[0]
    assert one.digest == same.digest and one.actions_digest == same.actions_digest
    assert one.actions_digest != other.actions_digest


def test_folders_skip_underscore_files(home: HomeConfig, tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("scenarios: [{id: a, triggers: [{type: time, at: '07:00'}], "
                                     "actions: [{type: set_mode, mode: day}]}]\n")
    (tmp_path / "_draft.yaml").write_text("this is: [not valid")
    assert load_scenarios([tmp_path], home, KINDS).ids() == ["a"]


def test_json_schema_validates_the_examples() -> None:
    schema = scenario_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    showcase = yaml.safe_load((EXAMPLES / "showcase.yaml").read_text())
    assert list(validator.iter_errors(showcase)) == []
    broken = yaml.safe_load((EXAMPLES / "broken.yaml").read_text())
    messages = sorted(e.message for e in validator.iter_errors(broken))
    assert messages  # the schema catches shape mistakes in an editor too
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):  # the shipped scenarios, once they exist
        assert list(validator.iter_errors(yaml.safe_load(path.read_text()))) == [], path


def test_the_complete_examples_in_the_docs_are_valid(demo_config: HomeConfig) -> None:
    text = (ROOT / "docs" / "scenarios.md").read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```yaml\n")[1:]]
    complete = [b for b in blocks if "\nscenarios:\n" in f"\n{b}" and "    ...\n" not in b]
    assert complete
    for block in complete:
        load_scenario_text(block, demo_config, KINDS, "docs/scenarios.md")


def test_device_vocabulary_comes_from_the_injected_kinds(home: HomeConfig) -> None:
    class WeighingBed(BedSensor):  # an adapter reporting a weight, and no occupancy
        attributes: ClassVar[tuple[str, ...]] = ("weight",)

    class QuietSos(SosButton):  # an adapter whose button sends no events
        events: ClassVar[tuple[str, ...]] = ()

    text = """scenarios:
  - id: a
    triggers:
      - {type: state, device: bed_sensor, attribute: occupancy, to: true}
      - {type: event, device: sos_button, event: emergency}
    actions: [{type: set_mode, mode: night}]
"""
    load_scenario_text(text, home, KINDS, "s.yaml")  # valid with the shipped adapters
    with pytest.raises(ConfigError) as caught:
        load_scenario_text(text, home, {**KINDS, "bed": WeighingBed(), "sos": QuietSos()}, "s.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "s.yaml:4: scenarios[0].triggers[0].attribute: a bed has no attribute 'occupancy' "
        "(bed attributes: weight, available)",
        "s.yaml:5: scenarios[0].triggers[1]: a sos sends no events (use a 'state' trigger)",
    ]


def test_selectors_name_devices_in_configuration_order(home: HomeConfig) -> None:
    """Kind and room selectors read an index of the home (issue 15): same answers as a walk."""
    from controller.engine.device_facts import select_devices

    def walk(device: str | list[str] | None, kind: str | None, room: str | list[str] | None) -> list[str]:
        ids = [device] if isinstance(device, str) else device
        rooms = [room] if isinstance(room, str) else room
        return [d for d, dev in home.devices.items() if (ids is None or d in ids)
                and (kind is None or dev.kind == kind) and (rooms is None or dev.room in rooms)]

    kinds = sorted({d.kind for d in home.devices.values()}) + ["nothing", None]
    rooms = sorted({d.room for d in home.devices.values() if d.room}) + ["attic"]
    Sel = tuple[str | list[str] | None, str | None, str | list[str] | None]
    selectors: list[Sel] = [(None, k, r) for k in kinds for r in [None, *rooms, list(reversed(rooms[:3]))]]
    selectors += [(d, k, None) for d in [*home.devices, "nobody"] for k in (None, "motion")]
    selectors += [(list(reversed(list(home.devices)))[:4], None, None), (["nobody"], None, rooms[0])]
    for device, kind, room in selectors:
        assert select_devices(home, device, kind, room) == walk(device, kind, room), (device, kind, room)
