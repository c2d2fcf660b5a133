"""A row the live hub would not accept is a `LOG:line:` problem; all of them at once, exit 2."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from huis.cli import replay

from .logs import CONFIG, SCENARIOS, write


def run(log: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, list[str]]:
    out = io.StringIO()
    code = replay(CONFIG, [SCENARIOS], log, None, out)
    return code, out.getvalue(), capsys.readouterr().err.splitlines()


def test_a_misspelt_attribute_and_an_ill_typed_value_are_problems_and_nothing_is_replayed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Both were accepted silently: `opne` stored as an attribute nobody reads, and `yes`
    # stored as a truthy text that cancelled a pending warning.
    log = write(tmp_path, "bad.csv",
                "2026-01-06T03:00:00+01:00,bed_sensor,occupancy,false",
                "2026-01-06T03:04:00+01:00,front_door,opne,true",
                "2026-01-06T03:05:00+01:00,bed_sensor,occupancy,yes")
    code, out, err = run(log, capsys)
    assert (code, out) == (2, "")
    assert err == [
        f"{log}:3: front_door.opne: unknown attribute 'opne' of front_door (a contact; it has contact, "
        "open, battery, voltage, linkquality, available and event) (did you mean 'open'?)",
        f"{log}:4: bed_sensor.occupancy: the bed adapter refuses 'yes': 'occupancy' should be true or "
        "false, got 'yes' (did you mean true?)",
        "2 problem(s) found.",
    ]


def test_every_kind_of_problem_in_one_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = write(tmp_path, "bad.csv",
                "gisteren,bed_sensor,occupancy,false",
                "2026-01-06T03:04:00+01:00,front_doo,contact,false",
                "2026-01-06T03:04:00+01:00,front_door,contact,false",
                "2026-01-06T03:04:00+01:00,front_door,open,false",
                "2026-01-06T03:05:00+01:00,sos_button,event,emergncy",
                "2026-01-06T03:05:00+01:00,hall_light,state,aan",
                "2026-01-06T03:05:00+01:00,front_door,available,ja",
                "2026-01-06T03:05:00+01:00,wander_tag,room,bedrom",
                "2026-01-06T03:05:00+01:00,bed_sensor,battery,")
    code, out, err = run(log, capsys)
    assert (code, out) == (2, "")
    assert err == [
        f"{log}:2: 'gisteren' is not a timestamp (try 2026-01-05T23:10:00+01:00)",
        f"{log}:3: unknown device 'front_doo' (did you mean 'front_door'?)",
        f"{log}:5: front_door.open: open = false disagrees with contact = false on line 4 (the adapter "
        "derives one from the other)",
        f"{log}:6: sos_button.event: unknown event 'emergncy' of sos_button (a sos sends emergency) "
        "(did you mean 'emergency'?)",
        f"{log}:7: hall_light.state: the light adapter refuses 'aan': 'state' should be one of ON, OFF, "
        "got 'aan'",
        f"{log}:8: front_door.available: 'available' should be true or false, got 'ja' (did you mean true?)",
        f"{log}:9: wander_tag.room: 'bedrom' is not a room of this home (did you mean 'bedroom'?)",
        f"{log}:10: bed_sensor.battery: 'battery' needs a value",
        "8 problem(s) found.",
    ]


def test_a_good_log_has_no_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = write(tmp_path, "good.csv",
                "2026-01-06T03:00:00+01:00,bed_sensor,occupancy,false",
                "2026-01-06T03:00:00+01:00,bed_sensor,battery,87",
                "2026-01-06T03:01:00+01:00,hall_light,state,on",
                "2026-01-06T03:02:00+01:00,front_door,open,true",
                '2026-01-06T03:03:00+01:00,dispenser,event,"{""event"": ""dose_due"", ""dose"": ""08:00""}"',
                "2026-01-06T03:04:00+01:00,front_door,available,false")
    code, _, err = run(log, capsys)
    assert (code, err) == (0, [])
