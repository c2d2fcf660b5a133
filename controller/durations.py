"""Durations as technicians write them: '10m', '1h30m', '90s', '2d' or a number of seconds."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|d|h|m|s)")
_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(value: object) -> timedelta:
    """Parse a duration; raises ValueError with a hint on anything else."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration (try '10m')")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"{value!r} is negative; durations cannot be")
        return timedelta(seconds=float(value))
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str):
        text = value.strip().replace(" ", "")
        pos, total = 0, 0.0
        for m in _PART.finditer(text):
            if m.start() != pos:
                break
            total += float(m.group(1)) * _UNITS[m.group(2)]
            pos = m.end()
        if text and pos == len(text):
            return timedelta(seconds=total)
        if re.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?", text):
            parts = [int(p) for p in text.split(":")]
            h, m_, s = (parts + [0])[:3]
            return timedelta(hours=h, minutes=m_, seconds=s)
    raise ValueError(f"{value!r} is not a duration (try '10m')")


def format_duration(td: timedelta) -> str:
    """timedelta -> '1h30m' (the inverse of parse_duration for whole seconds)."""
    secs = int(td.total_seconds())
    if secs == 0:
        return "0s"
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if secs >= size:
            out += f"{secs // size}{unit}"
            secs %= size
    return out
