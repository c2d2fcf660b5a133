from __future__ import annotations

from datetime import timedelta

import pytest

from controller.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10m", timedelta(minutes=10)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("90s", timedelta(seconds=90)),
        ("2d", timedelta(days=2)),
        ("1h 5m", timedelta(hours=1, minutes=5)),
        ("500ms", timedelta(milliseconds=500)),
        (45, timedelta(seconds=45)),
        ("00:10:00", timedelta(minutes=10)),
    ],
)
def test_parse_duration(text: object, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("bad", ["10 minuten", "m10", "", "ten", True, -5, "10m garbage"])
def test_parse_duration_rejects_with_hint(bad: object) -> None:
    with pytest.raises(ValueError, match="duration|negative"):
        parse_duration(bad)


def test_format_duration_round_trips() -> None:
    for text in ("1h30m", "10m", "2d3h", "45s"):
        assert format_duration(parse_duration(text)) == text
