"""The care-quality scorer: hand-made pages against hand-made incidents, and one real replay."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bench.care_quality import pages_of, replay_life, score, tables, verdict
from bench.carelog import Incident, Life, Recorder, Situation
from controller.testing import AlertRecord
from huis.compose import Parts, load_home

ROOT = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Europe/Amsterdam")


def at(day: int, hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(2026, 1, day, hh, mm, ss, tzinfo=TZ)


def raised(when: datetime, key: str, severity: str, audience: str = "caregivers") -> AlertRecord:
    return AlertRecord(time=when, action="raised", id=f"{key}@{when:%d%H%M%S}", key=key, scenario="s",
                       severity=severity, audience=audience)


EXIT = Incident(kind="night_exit", since=at(6, 3, 0), start=at(6, 3, 1), end=at(6, 3, 40))
EXIT_LATE = Incident(kind="night_exit", since=at(7, 2, 0), start=at(7, 2, 1), end=at(7, 2, 30))
EXIT_MISSED = Incident(kind="night_exit", since=at(8, 2, 0), start=at(8, 2, 1), end=at(8, 2, 30))
UP = Incident(kind="night_up", start=at(9, 4, 0), end=at(9, 4, 13))
FALL = Incident(kind="no_motion", start=at(10, 13, 0), end=at(10, 17, 0))
LIFE = Life(name="hand-made", rows=[], start=at(5, 12, 0), end=at(11, 12, 0),
            incidents=[EXIT, EXIT_LATE, EXIT_MISSED, UP, FALL],
            situations=[Situation(what="out", start=at(6, 19, 0), end=at(6, 23, 30)),
                        Situation(what="asleep", start=at(7, 0, 0), end=at(7, 10, 30))])
RECORDS = [
    raised(at(6, 3, 1, 5), "night_exit.door", "urgent"),          # true: 5 s after the door
    raised(at(6, 3, 10), "night_exit.bed_empty", "warning"),      # true: same exit
    raised(at(6, 23, 20), "night_exit.door", "urgent"),           # false: coming home
    raised(at(7, 2, 3), "night_exit.door", "urgent"),             # true, but 2 min late
    raised(at(7, 10, 0), "inactivity.not_up", "warning"),         # false: asleep, no incident
    raised(at(8, 2, 10), "night_exit.bed_empty", "warning"),      # true page, not urgent: exit missed
    raised(at(9, 4, 10), "night_exit.bed_empty", "warning"),      # true: up at night
    raised(at(10, 16, 0), "medication.missed.12:30", "warning"),  # false: wrong family for the fall
    raised(at(10, 16, 0), "health.offline.bed_sensor", "info", audience="technician"),  # not a page
    raised(at(10, 20, 0), "reminder.weekly", "info"),             # a notice, not a page
    AlertRecord(time=at(6, 4, 0), action="resolved", id="x", key="night_exit.bed_empty", scenario="s",
                severity="warning"),                                # not a page
]


def test_pages_are_caregiver_raises_of_urgent_and_warning_alerts() -> None:
    pages = pages_of(RECORDS)
    assert len(pages) == 8
    assert {p.severity for p in pages} == {"urgent", "warning"}


def test_pages_are_matched_to_incidents_by_family_and_window() -> None:
    s = score(LIFE, RECORDS)
    assert s.days == pytest.approx(6.0)
    assert len(s.pages) == 8
    assert [(p.key, where) for p, where in s.false] == [
        ("night_exit.door", "out"), ("inactivity.not_up", "asleep"), ("medication.missed.12:30", "at home")]
    assert s.night_pages == 6 and s.false_night == 1
    assert s.notices == 1


def test_recall_and_time_to_alert_per_incident_kind() -> None:
    s = score(LIFE, RECORDS)
    exits = s.kinds["night_exit"]
    assert (exits.total, exits.found, exits.urgent_in_time) == (3, 2, 1)  # a warning is not enough
    assert exits.delays == [timedelta(seconds=5), timedelta(minutes=2)]
    up = s.kinds["night_up"]
    assert (up.total, up.found, up.delays) == (1, 1, [timedelta(minutes=10)])
    fall = s.kinds["no_motion"]
    assert (fall.total, fall.found, fall.recall) == (1, 0, 0.0)
    assert s.kinds["not_up"].recall is None  # none labelled: no recall to speak of
    assert "NOT met" in verdict([s])
    table = tables([s, "Ordóñez A: not measured; download it"])
    assert "| hand-made | 6.0 | 8 | 1.33 | 3 | 0.50 | 6 (1) | 1 |" in table
    assert "| hand-made | 2/3; 62 s / 2 min | 1/1; 10 min / 10 min | 0/1 | - | - | 1/3 |" in table
    assert "Ordóñez A: not measured" in table


def test_false_pages_once_the_routine_was_learned_are_counted_apart() -> None:
    # Learned on the third day at 03:30: the 10:00 not-up page of 7 January came before (on the
    # fixed defaults), the 16:00 dose page of 10 January after.
    learned = datetime(2026, 1, 8, 3, 30, tzinfo=LIFE.start.tzinfo)
    s = score(LIFE, RECORDS, learned)
    assert len(s.false) == 3 and s.false_learned == 1
    assert s.learned_days == pytest.approx((LIFE.end - learned) / timedelta(days=1))
    assert f"| {s.learned_days:.1f}, {1 / s.learned_days:.2f} |" in tables([s])
    never = score(LIFE, RECORDS)
    assert (never.learned_days, never.false_learned) == (0.0, 0) and "| never |" in tables([never])


async def test_a_life_replays_through_the_shipped_scenarios(tmp_path: Path) -> None:
    # Out of bed at 03:00 for 20 minutes after four hours asleep: the shipped night_exit warning
    # pages for it, through the real replay (read_log + replay_rows on Parts), and nothing else.
    rec = Recorder()
    rec.lie(at(5, 23, 0), at(6, 3, 0))
    rec.lie(at(6, 3, 20), at(6, 7, 30))
    rec.move("bathroom_motion", at(6, 3, 1), at(6, 3, 18))
    life = Life(name="one night", rows=rec.rows(at(5, 22, 59)), start=at(5, 22, 59), end=at(6, 7, 30),
                incidents=[Incident(kind="night_up", start=at(6, 3, 0), end=at(6, 3, 20))])
    parts = Parts.load(load_home(ROOT / "config" / "home.yaml"))
    records, learned = await replay_life(parts, life, tmp_path)
    assert learned is None  # one night is not enough to learn her routine from
    assert (tmp_path / "one-night.csv").exists() and (tmp_path / "one-night.txt").exists()
    s = score(life, records, learned)
    assert (s.learned_days, s.false_learned) == (0.0, 0)
    assert (s.kinds["night_up"].total, s.kinds["night_up"].found) == (1, 1)
    assert s.false == []
    assert all(r.time >= life.start for r in records)
    assert "replaying" in (tmp_path / "one-night.txt").read_text()
