"""The Ordóñez converter on a hand-made pair of files in the dataset's format (not the dataset)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bench.carelog import write_log
from bench.ordonez import Interval, labelled_incidents, load
from controller.replay import read_log
from huis.compose import load_home

ROOT = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Europe/Amsterdam")

# The README's format: two header lines, tab-aligned columns, CRLF, no newline at the end.
SENSORS = [
    ("2011-11-28 20:00:00", "2011-11-28 22:40:00", "Seat\t\tPressure", "Living"),
    ("2011-11-28 22:41:00", "2011-11-28 22:41:10", "Maindoor\tMagnetic", "Entrance"),
    ("2011-11-28 23:30:00", "2011-11-28 23:30:08", "Maindoor\tMagnetic", "Entrance"),
    ("2011-11-28 23:50:00", "2011-11-29 03:10:00", "Bed\t\tPressure", "Bedroom"),
    ("2011-11-29 03:12:00", "2011-11-29 03:14:00", "Toilet\t\tFlush", "Bathroom"),
    ("2011-11-29 03:28:00", "2011-11-29 09:30:00", "Bed\t\tPressure", "Bedroom"),
    ("2011-11-29 09:35:00", "2011-11-29 09:36:00", "Fridge\t\tMagnetic", "Kitchen"),
]
ADLS = [
    ("2011-11-28 20:00:00", "2011-11-28 22:40:00", "Spare_Time/TV"),
    ("2011-11-28 22:41:00", "2011-11-28 23:30:08", "Leaving"),
    ("2011-11-28 23:50:00", "2011-11-29 03:10:00", "Sleeping"),
    ("2011-11-29 03:11:00", "2011-11-29 03:27:00", "Toileting"),
    ("2011-11-29 03:28:00", "2011-11-29 09:30:00", "Sleeping"),
    ("2011-11-29 09:35:00", "2011-11-29 09:20:00", "Breakfast"),  # end before start, as in A
]


def at(day: int, hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(2011, 11, day, hh, mm, ss, tzinfo=TZ)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    head = "Start time          \tEnd time            \t"
    sensors = [f"{head}Location\tType\t\tPlace", "--------------------\t" * 4 + "-----"]
    sensors += [f"{a}\t\t{b}\t\t{what}\t{place}" for a, b, what, place in SENSORS]
    adls = [f"{head}Activity\t", "--------------------\t--------------------\t--------"]
    adls += [f"{a}\t\t{b}\t\t{what}\t" for a, b, what in ADLS]
    (tmp_path / "OrdonezA_Sensors.txt").write_bytes("\r\n".join(sensors).encode("ascii"))
    (tmp_path / "OrdonezA_ADLs.txt").write_bytes("\r\n".join(adls).encode("ascii"))
    return tmp_path


def test_sensors_become_the_demo_homes_devices(folder: Path) -> None:
    life = load("A", folder, inject=False)
    rows = [(t, d, a, v) for t, d, a, v in life.rows]
    assert (at(28, 22, 41), "front_door", "contact", False) in rows
    assert (at(28, 22, 41), "front_door", "open", True) in rows  # derived, as the adapter does
    assert (at(28, 22, 41, 10), "front_door", "open", False) in rows
    assert (at(28, 22, 40, 30), "hall_motion", "occupancy", True) in rows  # passing the hall
    assert (at(28, 23, 50), "bed_sensor", "occupancy", True) in rows
    assert (at(29, 3, 10), "bed_sensor", "occupancy", False) in rows
    assert (at(29, 3, 12), "bathroom_motion", "occupancy", True) in rows
    assert (at(29, 3, 15, 30), "bathroom_motion", "occupancy", False) in rows  # 90 s after the flush
    assert (at(29, 9, 35), "kitchen_motion", "occupancy", True) in rows
    first = [r for r in rows if r[0] == life.start]
    assert {r[1] for r in first} >= {"bed_sensor", "front_door", "hall_motion", "bedroom_motion"}


def test_labels_give_the_truth(folder: Path) -> None:
    life = load("A", folder, inject=False)
    assert [(i.kind, i.start, i.end) for i in life.incidents] == [("night_up", at(29, 3, 10), at(29, 3, 28))]
    assert life.situation_at(at(28, 23, 0)) == "out"  # the evening outing: no incident
    assert life.situation_at(at(29, 5, 0)) == "asleep"


def test_leaving_after_sleeping_at_night_is_a_labelled_night_exit() -> None:
    def label(a: datetime, b: datetime, what: str) -> Interval:
        return Interval(start=a, end=b, what=what)

    sleeping = [label(at(28, 23, 0), at(29, 2, 0), "Sleeping"), label(at(29, 3, 0), at(29, 8, 0), "Sleeping")]
    leaving = [label(at(28, 20, 0), at(28, 22, 30), "Leaving"),  # an evening out: no incident
               label(at(29, 2, 5), at(29, 2, 50), "Leaving")]
    found = labelled_incidents(sleeping, leaving)
    assert [(i.kind, i.begins, i.start, i.end) for i in found] == [
        ("night_exit", at(29, 2, 0), at(29, 2, 5), at(29, 3, 0))]


def test_a_night_exit_is_injected_into_a_long_night(folder: Path) -> None:
    life = load("A", folder, seed=1)
    exits = [i for i in life.incidents if i.kind == "night_exit"]
    assert len(exits) == 1
    exit_ = exits[0]
    # The first sleep (3 h 20) is too short to hold one; the second, from 03:28, holds it.
    assert at(29, 3, 28) + timedelta(minutes=50) <= exit_.begins < exit_.start < exit_.end < at(29, 7, 0)
    rows = life.rows
    assert (exit_.begins, "bed_sensor", "occupancy", False) in rows
    assert (exit_.start, "front_door", "open", True) in rows
    assert (exit_.end, "bed_sensor", "occupancy", True) in rows
    assert life.situation_at(exit_.start + timedelta(minutes=5)) == "out"


def test_the_converted_log_reads_back_for_huis_replay(folder: Path, tmp_path: Path) -> None:
    life = load("A", folder)
    rows = read_log(write_log(life, tmp_path / "a.csv", "hand-made"), load_home(ROOT / "config" / "home.yaml"))
    assert len(rows) == len(life.rows)


def test_a_missing_folder_says_what_to_download(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="OrdonezA_Sensors.txt"):
        load("A", tmp_path / "nowhere")
