"""Caregiver alerts that are never lost.

An alert is written to SQLite before anyone is paged, escalates along a policy from
`config/alerts.yaml` with persisted deadlines, reaches phones through pluggable channels, and
is acknowledged through signed single-use links. See docs/alerts.md.

Where things are: `service` (the facade, `AlertService`, and its concurrency), `lifecycle` (an
alert's transitions and its expiry, pure), `occurrences` (what a raise of an active key does,
pure), `raising` (applies that under the key's lock), `escalation` (when steps fall due, whom they page), `delivery`
(channels in order, retries, fall-through), `links` (signed acknowledgement links), `texts`
(every sentence people read), `active` (active alerts in memory), `store` (SQLite and the
audit chain), `policy` (config/alerts.yaml), `channels/` (one module per channel; `standard`
builds the shipped set).
"""

from __future__ import annotations

from controller.alerts.model import Alert, Notification, Recipient
from controller.alerts.service import AlertService

# The seam with the rule engine belongs to its consumer, the engine; the AlertService implements it.
from controller.engine.alert_sink import AlertSink
from controller.events import Severity

__all__ = ["Alert", "AlertService", "AlertSink", "Notification", "Recipient", "Severity"]
