"""What a raise does while an alert with the same key is active, and when a left-over alert expires.

The rules (docs/alerts.md, "Occurrences"), as pure functions like `lifecycle`:

- No active alert with the key: a new alert.
- An *urgent* raise always pages again: a new alert with its own escalation, linked to the
  latest active one of its key (`previous_id`, `occurrence` + 1), acknowledged or not. An
  acknowledged evening door page must never hide a night exit.
- Any other raise is a repeat of the latest active alert. When that alert was acknowledged
  (or its people last re-notified) at least `renotify_after` ago, everyone it paged is told
  again; otherwise the repeat is counted on it. Either way it gets an audit entry.
- An alert that nothing schedules any more (acknowledged, or its steps are over) expires
  `expire_after` after its last activity, unless its policy closes it itself
  (`auto_resolve_after`). An urgent alert nobody acknowledged never expires: it escalates.
  (That rule is `lifecycle.expires_at`: the supervisor's clock needs it.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from controller.alerts.lifecycle import Transition, entry
from controller.alerts.model import ACKNOWLEDGED, KIND_REPEAT, Alert
from controller.alerts.policy import EscalationPolicy
from controller.alerts.store import NewDelivery
from controller.events import Severity


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """What one raise does: a new alert (linked to `previous` if any), or a repeat of `repeat_of`."""

    previous: Alert | None = None  # a new alert follows this active one
    repeat_of: Alert | None = None  # counted on (or re-notified about) this active one
    renotify: bool = False


def decide(severity: Severity, active: Sequence[Alert], policy: EscalationPolicy,
           now: datetime) -> Decision:
    """What a raise of `severity` does, given the active alerts of its key (oldest first)."""
    if not active:
        return Decision()
    latest = active[-1]
    if severity == "urgent":
        return Decision(previous=latest)
    return Decision(repeat_of=latest, renotify=renotify_due(latest, policy, now))


def renotify_due(alert: Alert, policy: EscalationPolicy, now: datetime) -> bool:
    """Whether a repeat of `alert` tells its people again (acknowledged long enough ago)."""
    if alert.state != ACKNOWLEDGED or alert.acknowledged_at is None:
        return False  # still escalating: its own steps reach people
    told = max(t for t in (alert.acknowledged_at, alert.renotified_at) if t is not None)
    return now - told >= policy.renotify_after


def repeated(alert: Alert, *, now: datetime, renotify: bool, paged: Sequence[str],
             text: dict[str, str]) -> Transition:
    """The alert after one more raise of its key: counted, or also told to `paged` again.

    `text` maps each caregiver in `paged` to what they read. A delivery's step is the repeat's
    number, so one repeat is never delivered twice to the same person, also across restarts.
    """
    n = alert.repeats + 1
    updated = replace(alert, repeats=n, last_repeat_at=now, updated_at=now,
                      renotified_at=now if renotify and paged else alert.renotified_at)
    if renotify and paged:
        audit = entry(updated, "renotified", detail=f"raised again ({n + 1} times): {', '.join(paged)}")
        deliveries = tuple(NewDelivery(alert_id=alert.id, kind=KIND_REPEAT, step=n, recipient=r,
                                       text=text[r]) for r in paged)
        return Transition(alert=updated, audit=(audit,), deliveries=deliveries)
    why = ("still escalating" if alert.state != ACKNOWLEDGED
           else "nobody was paged" if renotify else "acknowledged recently")
    audit = entry(updated, "repeated", detail=f"raised again ({n + 1} times), counted: {why}")
    return Transition(alert=updated, audit=(audit,))
