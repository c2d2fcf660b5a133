"""Rows take the live hub's path: the adapters derive what they derive live (issue 8, item 6)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from controller.replay import check_log, replay_rows
from huis.cli import replay
from huis.compose import Parts, load_home

from .logs import CONFIG, watch, write

SIGHTINGS = ('"{""hall"": {""room"": ""hall"", ""distance"": 1.5, ""rssi"": -70, '
             '""at"": ""2026-01-06T03:00:00+01:00""}, ""living"": {""room"": ""living"", '
             '""distance"": 4.0, ""rssi"": -80, ""at"": ""2026-01-06T02:59:50+01:00""}}"')


def alerts(text: str) -> list[str]:
    return [line[21:] for line in text.splitlines() if "  ALERT " in line or "  RESOLVED " in line]


def test_a_log_with_contact_rows_only_gives_door_alerts(tmp_path: Path) -> None:
    # The contact adapter derives `open` from `contact` live; a replay used to store `contact`
    # as it stood and never set `open`, so a door-only log gave no door alert at all.
    log = write(tmp_path, "doors.csv",
                "2026-01-06T03:04:00+01:00,front_door,contact,false",
                "2026-01-06T03:06:00+01:00,front_door,contact,true")
    out = io.StringIO()
    assert replay(CONFIG, [watch(tmp_path)], log, None, out) == 0
    assert alerts(out.getvalue()) == [
        "ALERT     urgent door.open (door_opened, to caregivers): Voordeur open om 03:04.",
        "RESOLVED  door.open: dicht",
    ]


def test_exported_contact_and_open_rows_replay_once_and_agree(tmp_path: Path) -> None:
    # What `huis export` writes: both the device's attribute and the derived one, same moment.
    log = write(tmp_path, "export.csv",
                "2026-01-06T03:04:00+01:00,front_door,contact,false",
                "2026-01-06T03:04:00+01:00,front_door,open,true",
                "2026-01-06T03:06:00+01:00,front_door,open,false")
    out = io.StringIO()
    assert replay(CONFIG, [watch(tmp_path)], log, None, out) == 0
    assert alerts(out.getvalue()) == [
        "ALERT     urgent door.open (door_opened, to caregivers): Voordeur open om 03:04.",
        "RESOLVED  door.open: dicht",  # `open` alone: replayed as the contact message behind it
    ]


async def test_a_row_reaches_the_hub_as_its_adapter_decodes_it(tmp_path: Path) -> None:
    cfg = load_home(CONFIG)
    parts = Parts.load(cfg, [watch(tmp_path)])
    log = write(tmp_path, "door.csv", "2026-01-06T03:04:00+01:00,front_door,contact,false")
    rows = check_log(parts, log)
    report = await replay_rows(parts, rows, io.StringIO(), source=str(log))
    # `open` came out of the contact adapter, and the alert's cause names the log's line.
    [page] = report.pages
    assert page.key == "door.open"
    assert report.alerts[0].cause.endswith("device:front_door: replayed from line 2")


def test_a_tags_recorded_sightings_give_its_room_through_the_adapter(tmp_path: Path) -> None:
    # Exported from a live hub: the sightings the adapter keeps; the room comes from them.
    log = write(tmp_path, "tag.csv", f"2026-01-06T03:00:00+01:00,wander_tag,sightings,{SIGHTINGS}")
    out = io.StringIO()
    assert replay(CONFIG, [watch(tmp_path)], log, None, out) == 0
    assert alerts(out.getvalue()) == ["ALERT     info tag.hall (tag_in_hall, to caregivers): Label in de hal om 03:00."]


def test_a_recorded_room_must_agree_with_the_sightings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = write(tmp_path, "tag.csv",
                f"2026-01-06T03:00:00+01:00,wander_tag,sightings,{SIGHTINGS}",
                "2026-01-06T03:00:00+01:00,wander_tag,room,living")
    out = io.StringIO()
    assert replay(CONFIG, [watch(tmp_path)], log, None, out) == 2
    assert out.getvalue() == ""
    assert capsys.readouterr().err.splitlines() == [
        f'{log}:3: wander_tag.room: room = "living" disagrees with the sightings recorded at the same '
        'moment, from which the adapter derives "hall"',
        "1 problem(s) found.",
    ]


def test_a_hand_written_room_stands_until_the_next_row(tmp_path: Path) -> None:
    log = write(tmp_path, "tag.csv",
                "2026-01-06T03:00:00+01:00,wander_tag,room,hall",
                "2026-01-06T03:30:00+01:00,wander_tag,room,living",
                "2026-01-06T03:40:00+01:00,wander_tag,room,hall")
    out = io.StringIO()
    assert replay(CONFIG, [watch(tmp_path)], log, None, out) == 0
    # No periodic refresh in a replay: the room holds from 03:00 to 03:30 (no sightings to age).
    assert alerts(out.getvalue()) == [
        "ALERT     info tag.hall (tag_in_hall, to caregivers): Label in de hal om 03:00.",
        "RESOLVED  tag.hall: weg uit de hal",
        "ALERT     info tag.hall (tag_in_hall, to caregivers): Label in de hal om 03:40.",
    ]
