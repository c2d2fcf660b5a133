"""Caregiver alerts that are never lost.

An alert is written to SQLite before anyone is paged, escalates along a policy from
`config/alerts.yaml` with persisted deadlines, reaches phones through pluggable channels, and
is acknowledged through signed single-use links. See docs/alerts.md.
"""

from __future__ import annotations

from controller.alerts.model import Alert, AlertSink, Notification, Recipient, Severity
from controller.alerts.service import AlertService

__all__ = ["Alert", "AlertService", "AlertSink", "Notification", "Recipient", "Severity"]
