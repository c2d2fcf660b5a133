"""Small event logs and scenarios for the replay tests, written where each test wants them."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config" / "home.yaml"
NIGHTS = ROOT / "tests" / "data" / "nights.csv"
SCENARIOS = ROOT / "scenarios"
HEADER = "timestamp,device,attribute,value\n"

# Scenarios of the tests' own, so a change to the shipped ones cannot make a replay test pass
# or fail: each says what it reacts to in its alert key.
WATCH = """\
name: watch
description: Wat de replay-tests volgen
scenarios:
  - id: door_opened
    description: Voordeur open -> melding
    triggers:
      - {type: state, device: front_door, attribute: open, to: true}
    actions:
      - {type: alert, key: door.open, severity: urgent, message: "Voordeur open om {time}."}
      - {type: set_presence, presence: away}
      - {type: set_mode, mode: away}
  - id: door_closed
    description: Voordeur dicht -> melding weg
    triggers:
      - {type: state, device: front_door, attribute: open, to: false}
    actions:
      - {type: resolve, key: door.open, reason: dicht}
  - id: tag_in_hall
    description: Label in de hal -> melding
    triggers:
      - {type: state, device: wander_tag, attribute: room, to: hall}
    actions:
      - {type: alert, key: tag.hall, severity: info, message: "Label in de hal om {time}."}
  - id: tag_left_hall
    description: Label weg uit de hal -> melding weg
    triggers:
      - {type: state, device: wander_tag, attribute: room, from: hall}
    actions:
      - {type: resolve, key: tag.hall, reason: weg uit de hal}
  # A light switched on by hand, not motion: the hub's own presence inference does not read
  # lights, so only this scenario changes presence here.
  - id: home_again
    description: Licht in de woonkamer aan -> thuis
    triggers:
      - {type: state, device: living_light, attribute: state, to: "ON"}
    actions:
      - {type: set_presence, presence: home}
      - {type: set_mode, mode: day}
"""


def write(tmp_path: Path, name: str, *rows: str) -> Path:
    """An event log with the header and `rows`."""
    path = tmp_path / name
    path.write_text(HEADER + "".join(f"{row}\n" for row in rows), encoding="utf-8")
    return path


def watch(tmp_path: Path) -> Path:
    """The tests' scenario file."""
    path = tmp_path / "watch.yaml"
    path.write_text(WATCH, encoding="utf-8")
    return path
