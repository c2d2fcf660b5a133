"""A continuous replay learns the resident's routine from the days it has already replayed, as
the live hub learns from its history: recomputed at the routine's nightly time on the virtual
clock, the defaults until `routine.learn_days` days are known (issue 8, items 5 and 6)."""

from __future__ import annotations

import io
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from controller.replay import check_log, replay_rows
from huis.compose import Parts, load_home

from .logs import CONFIG, write

TZ = ZoneInfo("Europe/Amsterdam")
FIRST = date(2026, 1, 5)  # a Monday

# A scenario of the test's own: "still in bed at 10:00, later than she usually gets up".
LATE = """\
name: late
description: Later in bed dan gewoonlijk
scenarios:
  - id: late_up
    description: Om 10:00 nog in bed en later dan gewoonlijk -> melding
    triggers:
      - {type: time, at: "10:00"}
    conditions:
      - {type: routine, is: past_wake_time}
      - {type: state, device: bed_sensor, attribute: occupancy, is: true}
    actions:
      - {type: alert, key: late.up, severity: warning, message: "Om {time} nog in bed."}
  - id: late_up_done
    description: Uit bed -> melding weg
    triggers:
      - {type: state, device: bed_sensor, attribute: occupancy, to: false}
    actions:
      - {type: resolve, key: late.up, reason: opgestaan}
"""


def _sleeps_until_eleven(nights: int) -> list[str]:
    """In bed 23:00-11:00 every night, up and about in the living room in between."""
    rows = []
    for n in range(nights):
        evening, morning = FIRST + timedelta(days=n), FIRST + timedelta(days=n + 1)
        rows.append(f"{evening}T23:00:00+01:00,bed_sensor,occupancy,true")
        rows.append(f"{morning}T11:00:00+01:00,bed_sensor,occupancy,false")
        rows += [f"{morning}T{h:02d}:05:00+01:00,living_motion,occupancy,true" for h in range(11, 22)]
    return rows


async def test_a_late_sleeper_stops_paging_once_her_routine_is_learned(tmp_path: Path) -> None:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "late.yaml").write_text(LATE, encoding="utf-8")
    cfg = load_home(CONFIG)
    assert cfg.routine.learn_days == 7 and cfg.routine.wake.default == time(10)
    parts = Parts.load(cfg, [scenarios])
    log = write(tmp_path, "late.csv", *_sleeps_until_eleven(10))
    out = io.StringIO()
    report = await replay_rows(parts, check_log(parts, log), out, source=str(log))

    # Learned at 03:30 once 7 days are known (5-11 January): from then on she is "not up" only
    # after her own 11:00 plus the 1h30 margin (clipped to 12:00), so 10:00 no longer pages.
    learned = [r for r in report.routines if r.learned]
    assert learned and learned[0].computed_at == datetime(2026, 1, 12, 3, 30, tzinfo=TZ)
    assert learned[-1].wake_by_times == (time(12),) * 7
    assert "2026-01-12 03:30:00  ROUTINE   learned from 7 day(s); not up by: mon 12:00" in out.getvalue()
    # Before that the fixed 10:00 applies: every morning pages. Nothing was known of her then.
    assert [p.time.astimezone(TZ).date().day for p in report.pages] == [6, 7, 8, 9, 10, 11]
    # Why the later mornings stayed quiet: the routine was used, not the rule left unloaded.
    assert all(not r.learned for r in report.routines if r.computed_at and r.computed_at.day < 12)
