"""Escalation timing as pure functions: when a step is due and who it pages.

Deadlines derive from the alert's `raised_at`, so a restarted hub computes the same ones;
the service still persists `next_at` so a restart never has to guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from controller.alerts.model import Alert
from controller.alerts.policy import AlertsConfig, EscalationPolicy, PolicyStep


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


def due(config: AlertsConfig, tz: ZoneInfo, policy: EscalationPolicy, severity: str,
        raised_at: datetime, step: int) -> datetime | None:
    """When step `step` is due, held back to the end of quiet hours where the severity says so."""
    at = step_due(policy, raised_at, step)
    if at is not None and config.severities[severity].quiet_hours and severity != "urgent":
        at = hold_for_quiet(at, config.quiet_hours, tz)
    return at


def routed(policy: EscalationPolicy, data: Mapping[str, object]) -> EscalationPolicy:
    """The policy for one alert: a scenario's explicit `recipients` replace the first step.

    Later steps still apply, so an alert sent to one person still reaches the care team if
    nobody acknowledges it.
    """
    asked = data.get("recipients")
    to = tuple(r for r in asked if isinstance(r, str)) if isinstance(asked, list | tuple) else ()
    if not to:
        return policy
    if data.get("test"):
        # A test reaches only the people asked for, once; it closes itself after an hour.
        return replace(policy, steps=(PolicyStep(after=timedelta(0), notify=to),), repeat_every=None,
                       auto_resolve_after=timedelta(hours=1))
    return replace(policy, steps=(PolicyStep(after=timedelta(0), notify=to), *policy.steps[1:]))


def policy_of(config: AlertsConfig, alert: Alert) -> EscalationPolicy:
    """The policy an alert follows now, routed to its explicit recipients."""
    # A policy renamed or removed since the alert was raised: fall back to today's rule.
    base = config.policies.get(alert.policy) or config.policy_for(alert.scenario, alert.severity)
    return routed(base, alert.data)
