"""`huis routine`: what the hub learned of the resident's days, from a real history table."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from tests.controller.test_cli_user import config_in, huis
from tests.routine_days import days, write_history


async def test_prints_bed_and_wake_times_active_hours_and_quiet_gaps(tmp_path: Path) -> None:
    config = config_in(tmp_path)
    await write_history(tmp_path / "huis.db", days(date(2026, 1, 5), 14))
    done = huis("routine", "--config", str(config), "--at", "2026-01-19T12:00")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Routine of Mevrouw Jansen: LEARNED from 14 day(s)")
    assert "wed  23:00  07:30  09:00      03-04, 07-13, 15-23" in lines
    assert "day      12:00    196    20m    20m    1h30  1h53    (1h30-5h00; 3h00)" in lines

    as_json = json.loads(huis("routine", "--config", str(config), "--at", "2026-01-19T12:00", "--json").stdout)
    assert as_json["quiet"]["day"] == {"gaps": 196, "p50": 20.0, "p90": 20.0, "longest": 90.0,
                                       "limit": 113.0}


async def test_says_default_until_enough_days_are_known(tmp_path: Path) -> None:
    config = config_in(tmp_path)
    await write_history(tmp_path / "huis.db", days(date(2026, 1, 5), 3))
    done = huis("routine", "--config", str(config), "--at", "2026-01-08T12:00")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == ("Routine of Mevrouw Jansen: DEFAULT (only 3 of 7 day(s) known; "
                                           "the fixed limits apply); last 28 days; limit: the 99th percentile of each "
                                           "day's longest quiet x 1.25.")
    # Monday has no night before it and Wednesday's is not over yet: with fewer than three nights
    # of a weekday, the median of all nights stands in. Not up by stays at the default until learned.
    assert "mon  23:00  07:30  10:00      07-13, 15-23" in done.stdout.splitlines()
    assert "wed  23:00  07:30  10:00      03-04, 07-13, 15-23" in done.stdout.splitlines()
    assert "day      12:00     42    20m    20m    1h30  3h00    (1h30-5h00; 3h00)" in done.stdout.splitlines()
