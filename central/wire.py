"""The upward wire format (docs/central.md, "The wire format (version 1)") as the centre parses it.

One place: `parse(subject, payload)` turns what a home published into a typed message or raises
PayloadError saying why. The home side (branch `uplink`) writes the same format; once its models
are in `controller/uplink_wire.py` this module should use them instead of its own.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from controller.alerts.model import (
    ACKNOWLEDGED,
    ACTIVE_STATES,
    CANCELLED,
    DELIVERED,
    DELIVERING,
    RAISED,
    RESOLVED,
    SEVERITIES,
    SHOWN,
)
from controller.errors import PayloadError
from controller.events import Severity

VERSION = 1
STATES = (RAISED, DELIVERING, SHOWN, DELIVERED, ACKNOWLEDGED, RESOLVED, CANCELLED)
HOME_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_PAYLOAD = 256 * 1024  # a snapshot of a home's active alerts is a few kilobytes
MQTT_PREFIX = "$MQTT.msgs."
INT4, INT8 = 2**31 - 1, 2**63 - 1  # PostgreSQL's integer and bigint

assert set(ACTIVE_STATES) <= set(STATES)
assert SEVERITIES == ("urgent", "warning", "info")


class _Model(BaseModel):
    # Fields a later minor change adds are kept in the stored body, not refused.
    model_config = ConfigDict(extra="allow", frozen=True)


class WireAlert(_Model):
    """One alert as a home sends it: the kernel's alert without the resident's details."""

    id: str = Field(min_length=1, max_length=200)
    key: str
    scenario: str
    severity: Severity
    state: str
    title: str
    raised_at: AwareDatetime
    updated_at: AwareDatetime
    occurrence: int = Field(default=1, ge=0, le=INT4)
    previous_id: str | None = None
    repeats: int = Field(default=0, ge=0, le=INT4)
    acknowledged_by: str | None = None
    acknowledged_via: str | None = None
    acknowledged_at: AwareDatetime | None = None
    resolved_at: AwareDatetime | None = None
    resolution: str | None = None
    message: str | None = None  # only with the home's central.share_details
    note: str | None = None

    @field_validator("state")
    @classmethod
    def _known_state(cls, v: str) -> str:
        if v not in STATES:
            raise ValueError(f"{v!r} is not an alert state ({', '.join(STATES)})")
        return v

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES


class _Up(_Model):
    v: Literal[1]
    msg_id: UUID
    home: str
    at: AwareDatetime
    pseudonym: str | None = None

    @field_validator("home")
    @classmethod
    def _home_id(cls, v: str) -> str:
        if not HOME_ID.match(v):
            raise ValueError(f"{v!r} is not a home id (letters, digits, '-' and '_')")
        return v


class AlertMessage(_Up):
    kind: Literal["alert"]
    action: str
    alert: WireAlert


class SnapshotMessage(_Up):
    kind: Literal["snapshot"]
    alerts: list[WireAlert]


class HouseMessage(_Up):
    kind: Literal["house"]
    presence: str | None = None
    mode: str | None = None


class DeviceMessage(_Up):
    kind: Literal["device"]
    device: str
    device_kind: str | None = None
    room: str | None = None
    health: str
    detail: str | None = None


class HeartbeatMessage(_Up):
    kind: Literal["heartbeat"]
    seq: int = Field(ge=0, le=INT8)
    active_alerts: int = Field(default=0, ge=0, le=INT4)
    started_at: AwareDatetime | None = None


UpMessage = Annotated[AlertMessage | SnapshotMessage | HouseMessage | DeviceMessage | HeartbeatMessage,
                      Field(discriminator="kind")]
_ADAPTER: TypeAdapter[UpMessage] = TypeAdapter(UpMessage)
KINDS = ("alert", "snapshot", "house", "device", "heartbeat")


def home_of(subject: str) -> str | None:
    """The home id in a subject `homes.<id>.up.<kind>`, or None for any other shape. (The same
    subject as NATS's MQTT layer stores it, `$MQTT.msgs.homes.<id>.up.<kind>`, is read alike.)"""
    parts = subject.removeprefix(MQTT_PREFIX).split(".")
    if len(parts) == 4 and parts[0] == "homes" and parts[2] == "up" and HOME_ID.match(parts[1]):
        return parts[1]
    return None


def parse(subject: str, payload: bytes) -> UpMessage:
    """The message a home published on `subject`; PayloadError says why it cannot be one.

    The subject is what the broker's permissions vouch for (a home may publish only under its
    own id), so a body naming another home or another kind than its subject is refused.
    """
    home = home_of(subject)
    if home is None:
        raise PayloadError(f"subject {subject!r} is not homes.<id>.up.<kind>")
    if len(payload) > MAX_PAYLOAD:
        raise PayloadError(f"{len(payload):,} bytes is more than {MAX_PAYLOAD:,}")
    try:
        doc: Any = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"not JSON: {exc}") from exc
    if "\\u0000" in payload.decode("utf-8", "replace"):
        # PostgreSQL's text and jsonb cannot hold NUL: refused here rather than failing a batch.
        raise PayloadError("contains a NUL character (\\u0000)")
    if not isinstance(doc, dict):
        raise PayloadError(f"a JSON {type(doc).__name__}, not an object")
    if doc.get("v") != VERSION:
        raise PayloadError(f"wire format version {doc.get('v')!r}; this centre reads version {VERSION}")
    try:
        msg = _ADAPTER.validate_python(doc)
    except ValidationError as exc:
        raise PayloadError(_why(exc)) from exc
    kind = subject.rsplit(".", 1)[-1]
    if msg.home != home:
        raise PayloadError(f"the message says home {msg.home!r}, its subject {home!r}")
    if msg.kind != kind:
        raise PayloadError(f"the message is kind {msg.kind!r}, its subject says {kind!r}")
    return msg


def _why(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:5]:
        loc = ".".join(str(p) for p in err["loc"])
        parts.append(f"{loc}: {err['msg']}" if loc else err["msg"])
    return "; ".join(parts)


def body_of(msg: UpMessage) -> dict[str, Any]:
    """The message as JSON for the events table (what the home sent, extra fields kept)."""
    return msg.model_dump(mode="json")


def alert_of(msg: UpMessage) -> str | None:
    return msg.alert.id if isinstance(msg, AlertMessage) else None

