"""The simulated lives: deterministic, and they hold the incidents (and only those) they label."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bench.carelog import NIGHT_UP_AFTER, Life, Row, at_night, days_of, write_log
from bench.lives import generate
from controller.replay import read_log
from huis.compose import load_home

ROOT = Path(__file__).resolve().parents[2]
WEEKS = 2


@pytest.fixture(scope="module")
def life() -> Life:
    return generate(1, weeks=WEEKS, seed=3)


def spans(rows: list[Row], device: str, attribute: str, on: object) -> list[tuple[datetime, datetime]]:
    """When `device`'s `attribute` was `on`, from the log's rows."""
    out: list[tuple[datetime, datetime]] = []
    since: datetime | None = None
    for when, dev, attr, value in rows:
        if dev != device or attr != attribute:
            continue
        if value == on and since is None:
            since = when
        elif value != on and since is not None:
            out.append((since, when))
            since = None
    return out


def test_the_same_seed_gives_the_same_life_and_another_seed_another() -> None:
    assert generate(0, weeks=1, seed=5).rows == generate(0, weeks=1, seed=5).rows
    assert generate(0, weeks=1, seed=5).rows != generate(0, weeks=1, seed=6).rows


def test_each_week_holds_the_incidents_it_claims(life: Life) -> None:
    kinds = [i.kind for i in life.incidents]
    assert life.days == pytest.approx(7 * WEEKS, abs=0.5)
    assert kinds.count("night_exit") == 2 * WEEKS
    assert kinds.count("no_motion") == WEEKS
    assert kinds.count("not_up") == WEEKS
    assert kinds.count("missed_dose") >= WEEKS  # plus a dose taken late after a fall, if any


def test_a_night_exit_is_an_empty_bed_at_night_then_the_front_door(life: Life) -> None:
    bed_empty = spans(life.rows, "bed_sensor", "occupancy", False)
    door_open = [a for a, _ in spans(life.rows, "front_door", "open", True)]
    contact_false = [a for a, _ in spans(life.rows, "front_door", "contact", False)]
    assert door_open == contact_false  # `open` is derived from `contact`, as the adapter does
    for exit_ in (i for i in life.incidents if i.kind == "night_exit"):
        assert at_night(exit_.begins) and at_night(exit_.start) and at_night(exit_.end)
        empty = next(s for s in bed_empty if s[0] <= exit_.begins < s[1])
        assert empty[0] == exit_.begins  # the bed empties as the exit begins...
        assert exit_.start in door_open  # ...then the front door opens
        assert exit_.begins < exit_.start < empty[1]
        assert timedelta(minutes=15) <= exit_.end - exit_.start <= timedelta(minutes=62)
        in_bed_before = [s for s in spans(life.rows, "bed_sensor", "occupancy", True) if s[1] == exit_.begins]
        assert in_bed_before and in_bed_before[0][1] - in_bed_before[0][0] >= timedelta(minutes=10)


def test_night_toilet_visits_last_1_to_15_minutes_and_long_ones_are_labelled(life: Life) -> None:
    exits = [i for i in life.incidents if i.kind == "night_exit"]
    night_up = {i.start: i for i in life.incidents if i.kind == "night_up"}
    visits = [(a, b) for a, b in spans(life.rows, "bed_sensor", "occupancy", False)
              if at_night(a) and at_night(b) and not any(e.begins == a for e in exits)
              and b - a > timedelta(minutes=1)]  # shorter: turning over, a flickering mat
    assert visits, "no night toilet visits in two weeks"
    nights = {(a - timedelta(hours=12)).date() for a, _ in visits}
    assert len(visits) / (WEEKS * 7) <= 4
    for a, b in visits:
        # 1-15 min in the bathroom, plus the walk there and back
        assert b - a <= timedelta(minutes=17), (a, b)
        bathroom = [s for s in spans(life.rows, "bathroom_motion", "occupancy", True) if a <= s[0] <= b]
        if b - a > NIGHT_UP_AFTER:
            assert a in night_up and night_up[a].end == b
            assert bathroom
        else:
            assert a not in night_up
    assert len(nights) >= 2


def test_nothing_moves_during_a_no_motion_incident(life: Life) -> None:
    for incident in (i for i in life.incidents if i.kind == "no_motion"):
        assert incident.end - incident.start >= timedelta(hours=3, minutes=30)
        moves = [r for r in life.rows if r[2] == "occupancy" and r[1].endswith("_motion") and r[3] is True
                 and incident.start < r[0] < incident.end]
        assert moves == []
        assert life.situation_at(incident.start + timedelta(hours=1)) == ""  # at home, not out


def test_not_up_is_a_weekday_in_bed_long_after_the_usual_time(life: Life) -> None:
    in_bed = spans(life.rows, "bed_sensor", "occupancy", True)
    for incident in (i for i in life.incidents if i.kind == "not_up"):
        assert incident.start.weekday() < 5
        assert any(a <= incident.start and incident.end <= b for a, b in in_bed)
        assert incident.end.hour >= 11


def test_a_missed_dose_was_due_and_not_taken_within_the_hour(life: Life) -> None:
    events = [(r[0], r[3]) for r in life.rows if r[1] == "dispenser"]
    for incident in (i for i in life.incidents if i.kind == "missed_dose"):
        dose = incident.start.strftime("%H:%M")
        assert (incident.start, {"event": "dose_due", "dose": dose}) in events
        taken = [t for t, v in events if v == {"event": "dose_taken", "dose": dose}
                 and incident.start <= t <= incident.start + timedelta(hours=1)]
        assert taken == []


def test_ordinary_life_goes_out_in_the_evening_and_sleeps_in_at_weekends() -> None:
    weeks = [generate(n, weeks=2, seed=8) for n in range(4)]
    homecomings = [s.end for life in weeks for s in life.situations
                   if s.what == "out" and s.start.hour >= 18 and not at_night(s.start)]
    assert homecomings and all(at_night(t) or t.hour >= 21 for t in homecomings)
    assert any(t.hour in (0, 1) for t in homecomings)  # some come home after midnight
    weekend_wakes = [s.end for life in weeks for s in life.situations
                     if s.what == "asleep" and s.end.weekday() >= 5]
    assert any(t.hour >= 9 for t in weekend_wakes)
    assert any(s.what == "visitor" for life in weeks for s in life.situations)
    assert any(s.what == "nap" for life in weeks for s in life.situations)
    assert any(r[2] == "available" for life in weeks for r in life.rows)  # a flaky sensor


def test_the_log_reads_back_as_a_huis_replay_log(life: Life, tmp_path: Path) -> None:
    path = write_log(life, tmp_path / "life.csv", "a simulated life")
    rows = read_log(path, load_home(ROOT / "config" / "home.yaml"))
    assert len(rows) == len(life.rows)
    assert {r.device for r in rows} >= {"bed_sensor", "front_door", "dispenser", "living_motion"}


def test_a_life_cut_into_days_keeps_every_row_incident_and_sensor_state(life: Life) -> None:
    days = days_of(life)
    assert days[0].start == life.start and days[-1].end == life.end
    assert all(d.start.hour == 12 for d in days[1:])  # noon to noon: no night is split
    assert sum(len(d.incidents) for d in days) == len(life.incidents)
    own: list[Row] = []
    for day in days:
        known = {(r[1], r[2]) for r in life.rows if r[0] < day.start and r[2] != "event"}
        own += day.rows[len(known):]  # after the carried state: the day's own rows, in order
    assert own == life.rows
    for day in days[1:]:
        carried = {(r[1], r[2]) for r in day.rows if r[0] == day.start}
        assert {("bed_sensor", "occupancy"), ("front_door", "open"), ("living_motion", "occupancy")} <= carried
