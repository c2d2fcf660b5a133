"""Presence and mode changes in the replay's output, and the per day and night summary."""

from __future__ import annotations

import io
import json
from pathlib import Path

from huis.cli import replay

from .logs import CONFIG, NIGHTS, SCENARIOS, watch, write


def test_presence_and_mode_changes_are_printed_with_their_cause(tmp_path: Path) -> None:
    log = write(tmp_path, "out.csv",
                "2026-01-06T14:00:00+01:00,front_door,contact,false",
                "2026-01-06T14:01:00+01:00,front_door,contact,true",
                "2026-01-06T16:30:00+01:00,living_light,state,ON")
    out = io.StringIO()
    assert replay(CONFIG, [watch(tmp_path)], log, None, out) == 0
    # The lines of this test's scenarios (the hub may infer presence as well).
    house = [line for line in out.getvalue().splitlines()
             if ("  PRESENCE " in line or "  MODE " in line) and ": scenario:" in line]
    assert house == [
        "2026-01-06 14:00:00  PRESENCE  away (was home): scenario:door_opened <- device:front_door: "
        "replayed from line 2",
        "2026-01-06 14:00:00  MODE      away (was day): scenario:door_opened <- device:front_door: "
        "replayed from line 2",
        "2026-01-06 16:30:00  PRESENCE  home (was away): scenario:home_again <- device:living_light: "
        "replayed from line 4",
        "2026-01-06 16:30:00  MODE      day (was away): scenario:home_again <- device:living_light: "
        "replayed from line 4",
    ]


def test_the_summary_counts_pages_lights_and_reminders_per_day_and_night(tmp_path: Path) -> None:
    out = io.StringIO()
    target = tmp_path / "week.json"
    assert replay(CONFIG, [SCENARIOS], NIGHTS, None, out, per_period=True, json_path=target) == 0
    doc = json.loads(target.read_text(encoding="utf-8"))
    periods = {(p["date"], p["part"]): p for p in doc["periods"]}
    assert next(iter(periods)) == ("2026-01-05", "day")
    # Thursday night: up at 02:05, the front door at 02:30: an urgent page (whatever else).
    thursday = periods[("2026-01-07", "night")]
    assert thursday["start"] == "2026-01-07T22:00:00+01:00"
    assert thursday["end"] == "2026-01-08T07:00:00+01:00"
    assert ("night_exit.door", "urgent") in [(p["key"], p["severity"]) for p in thursday["pages"]]
    # The orientation light for the toilet visit from bed on Monday night, 03:10.
    assert periods[("2026-01-05", "night")]["lights"]["bathroom_light"]["on"] >= 1
    # The day's spoken reminders belong to the day: breakfast at 08:30 on Tuesday.
    tuesday = periods[("2026-01-06", "day")]
    assert {"time": "2026-01-06T08:30:00+01:00", "text": "Het is 08:30. Tijd voor het ontbijt."} in tuesday["reminders"]
    # Each alert with its time, for tools that measure time to alert.
    assert ("2026-01-08T02:30:00+01:00", "night_exit.door", "urgent", "caregivers") in [
        (a["time"], a["key"], a["severity"], a["audience"]) for a in thursday["alerts"]]
    # Every page of the replay is in exactly one period.
    text = out.getvalue()
    raised = int(text.splitlines()[-1].split("; ")[1].split(" alert(s)")[0])
    assert sum(p["count"] for entry in doc["periods"] for p in entry["pages"] + entry["technician"]) == raised
    [line] = [line for line in text.splitlines() if line.startswith("2026-01-07 night  pages: ")]
    assert " urgent night_exit.door" in line


def test_the_night_can_be_other_hours(tmp_path: Path) -> None:
    log = write(tmp_path, "door.csv",
                "2026-01-06T06:30:00+01:00,front_door,contact,false",
                "2026-01-06T23:30:00+01:00,front_door,contact,true")
    out = io.StringIO()
    target = tmp_path / "s.json"
    assert replay(CONFIG, [watch(tmp_path)], log, None, out, per_period=True, json_path=target,
                  night="23:00-06:00") == 0
    assert out.getvalue().splitlines()[:4] == [
        "per day (06:00-23:00) and night (23:00-06:00), local time:",
        "2026-01-06 day    pages: 1 urgent door.open; lights: 0; reminders: 0",
        "    06:30:00 presence home -> away",
        "    06:30:00 mode day -> away",
    ]
    doc = json.loads(target.read_text(encoding="utf-8"))
    assert [(p["date"], p["part"]) for p in doc["periods"]] == [("2026-01-06", "day"), ("2026-01-06", "night")]
