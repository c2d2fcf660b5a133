"""The `routine:` section of config/home.yaml: defaults when left out, every mistake reported."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from controller.config import parse_home
from controller.errors import ConfigError
from controller.yamlfile import load_text
from huis.compose import KINDS

HOME = """
rooms:
  bedroom: {name: Slaapkamer, area: [0, 0, 100, 100]}
devices:
  bed_sensor: {kind: bed, room: bedroom}
resident: {pseudonym: Mevrouw Jansen}
"""


def test_left_out_it_has_the_documented_defaults() -> None:
    r = parse_home(load_text(HOME, "home.yaml"), KINDS).routine
    assert (r.learn_days, r.percentile, r.margin, r.recompute_at) == (7, 99, 1.25, time(3, 30))
    assert [r.quiet.of(p).default for p in ("morning", "day", "evening", "night")] == [
        timedelta(hours=2), timedelta(hours=3), timedelta(hours=3), timedelta(hours=1)]
    assert (r.wake.default, r.wake.margin) == (time(10), timedelta(hours=1, minutes=30))


def test_every_mistake_is_reported_with_its_line() -> None:
    text = HOME + """routine:
  percentile: 101
  margn: 1.25
  recompute_at: "25:00"
  quiet:
    morning: {default: 2h, min: 1h, max: 4h}
    day: {default: 3h, min: 4h, max: 5h}
"""
    with pytest.raises(ConfigError) as info:
        parse_home(load_text(text, "home.yaml"), KINDS)
    lines = [str(p) for p in info.value.problems]
    assert "home.yaml:8: routine.percentile: 101: input should be less than or equal to 100" in lines
    assert any(line.startswith("home.yaml:9: routine.margn: 'margn' is not a valid option") for line in lines)
    assert any(line.startswith("home.yaml:10: routine.recompute_at:") and "'25:00' is not a time of day" in line
               for line in lines)
    assert "home.yaml:13: routine.quiet.day: need min <= default <= max" in lines


def test_bounds_for_one_part_leave_the_others_at_their_defaults() -> None:
    text = HOME + "routine:\n  quiet:\n    day: {default: 2h, min: 1h, max: 3h}\n"
    r = parse_home(load_text(text, "home.yaml"), KINDS).routine
    assert (r.quiet.day.max, r.quiet.evening.max) == (timedelta(hours=3), timedelta(hours=5))
