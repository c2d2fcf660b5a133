"""Durations as technicians write them: '10m', '1h30m', '90s', '2d' or a number of seconds."""

from __future__ import annotations

import math
import re
from datetime import timedelta

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|d|h|m|s)")
_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
# Longer than anything a home waits for, and short enough that `now + duration` can never leave
# the calendar (datetime stops at the year 9999): '99999999999999d' is a typo, not a wait.
MAX_DURATION = timedelta(days=3650)


def parse_duration(value: object) -> timedelta:
    """Parse a duration of at most MAX_DURATION; raises ValueError with a hint on anything else."""
    if isinstance(value, bool):
        raise ValueError(f"{_show(value)} is not a duration (try '10m')")
    if isinstance(value, timedelta):
        return _bounded(value.total_seconds(), value)
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"{_show(value)} is negative; durations cannot be")
        # An int too large for a float is too long anyway.
        return _bounded(float(min(value, MAX_DURATION.total_seconds() + 1)), value)
    if isinstance(value, str):
        seconds = _seconds(value.strip().replace(" ", ""))
        if seconds is not None:
            return _bounded(seconds, value)
    raise ValueError(f"{_show(value)} is not a duration (try '10m')")


def _seconds(text: str) -> float | None:
    """'1h30m' -> 5400.0, '00:10' -> 600.0; None when `text` is not a duration."""
    pos, total = 0, 0.0
    for m in _PART.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if text and pos == len(text):
        return total
    if re.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?", text):
        parts = [int(p) for p in text.split(":")]
        h, m_, s = (parts + [0])[:3]
        return float(h * 3600 + m_ * 60 + s)
    return None


def _bounded(seconds: float, written: object) -> timedelta:
    # NaN fails every comparison, so it is tested for on its own.
    if math.isnan(seconds) or seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"{_show(written)} is not a usable duration: at most "
                         f"{MAX_DURATION.days} days")
    return timedelta(seconds=seconds)


def _show(value: object, limit: int = 40) -> str:
    # A duration written wrong is echoed back, but a 1 MB string should not be.
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


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
