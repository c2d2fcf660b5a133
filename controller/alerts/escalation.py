"""Escalation timing as pure functions: when a step is due and who it pages.

Deadlines derive from the alert's `raised_at`, so a restarted hub computes the same ones;
the service still persists `next_at` so a restart never has to guess.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from controller.alerts.policy import EscalationPolicy


def step_due(policy: EscalationPolicy, raised_at: datetime, step: int) -> datetime | None:
    """When step `step` (0-based; beyond the last step: repeats) is due, or None if never."""
    n = len(policy.steps)
    if step < n:
        return raised_at + policy.steps[step].after
    if policy.repeat_every is None:
        return None
    return raised_at + policy.steps[-1].after + (step - n + 1) * policy.repeat_every


def step_recipients(policy: EscalationPolicy, step: int) -> tuple[str, ...]:
    """Who step `step` pages; repeats page the last step's caregivers again."""
    return policy.steps[min(step, len(policy.steps) - 1)].notify


def quiet_until(now: datetime, quiet: tuple[time, time] | None, tz: ZoneInfo) -> datetime | None:
    """The end of the quiet hours `now` falls in (aware, in `now`'s zone), or None if not quiet."""
    if quiet is None:
        return None
    start, end = quiet
    local = now.astimezone(tz)
    t = local.time().replace(tzinfo=None)
    if start == end:
        return None
    if start < end:
        inside = start <= t < end
        end_day = local.date()
    else:  # wraps midnight, e.g. 22:00-07:00
        inside = t >= start or t < end
        end_day = local.date() + timedelta(days=1) if t >= start else local.date()
    if not inside:
        return None
    return datetime.combine(end_day, end, tzinfo=tz).astimezone(now.tzinfo)


def hold_for_quiet(due: datetime, quiet: tuple[time, time] | None, tz: ZoneInfo) -> datetime:
    """`due`, moved to the end of the quiet hours when it falls inside them."""
    end = quiet_until(due, quiet, tz)
    return end if end is not None else due
