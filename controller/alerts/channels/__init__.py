"""Delivery channels, one module each, all behind `Channel` (see base.py)."""

from __future__ import annotations

from controller.alerts.channels.base import Channel, plain_text

__all__ = ["Channel", "plain_text"]
