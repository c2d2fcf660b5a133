"""The wire format between a home and the centre (docs/central.md, "The wire format (version 1)").

Both sides import this module: the hub's uplink (huis/uplink.py) writes upward messages and
checks downward commands with it; the centre (central/) parses the upward messages and signs
its commands with it. It depends on the kernel's alert model and pydantic only, never on huis/.

Topics. On the home's own broker the hub publishes under `huis/uplink/<kind>` and listens on
`huis/downlink/command`; the home's mosquitto bridge maps them to `homes/<id>/up/<kind>` and
`homes/<id>/down/command` on the centre's broker (NATS subjects `homes.<id>.up.<kind>`, ...).

Signing. A downward command carries `sig`: HMAC-SHA256 under the home's own key over the
canonical JSON of the command without `sig` (`json.dumps(doc, sort_keys=True,
separators=(",", ":"))`). The hub verifies it over the document exactly as it arrived, so a
field the centre adds later is covered too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Annotated, Literal
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from controller.alerts.model import (
    ACKNOWLEDGED,
    ACTIVE_STATES,
    CANCELLED,
    DELIVERED,
    DELIVERING,
    RAISED,
    RESOLVED,
    SHOWN,
    Alert,
)
from controller.errors import PayloadError
from controller.events import Severity

VERSION = 1
HOME_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
STATES = (RAISED, DELIVERING, SHOWN, DELIVERED, ACKNOWLEDGED, RESOLVED, CANCELLED)
KINDS = ("alert", "snapshot", "house", "device", "heartbeat")
HEALTH = ("online", "offline", "battery_low")
ACTIONS = ("acknowledge", "resolve")
CENTRE_PREFIX = "centre:"  # every downward command's `by`
MAX_PAYLOAD = 256 * 1024  # a snapshot of a home's active alerts is a few kilobytes
COMMAND_MAX_AGE = timedelta(hours=1)
COMMAND_MAX_AHEAD = timedelta(minutes=5)  # clocks differ a little; a command from further ahead is refused
INT4, INT8 = 2**31 - 1, 2**63 - 1  # PostgreSQL's integer and bigint

# -- topics ---------------------------------------------------------------------------------------

LOCAL_UP = "huis/uplink/"  # on the home's broker; the bridge's `topic # out 1 huis/uplink/ homes/<id>/up/`
LOCAL_DOWN = "huis/downlink/"  # `topic # in 1 huis/downlink/ homes/<id>/down/`
LOCAL_COMMAND = LOCAL_DOWN + "command"


def up_qos(kind: str) -> int:
    """The MQTT QoS an upward message of `kind` goes with: a heartbeat is only worth its
    freshness, so it goes at QoS 0 (the bridge forwards it at 0 too and queues none while the
    link is cut); every other kind at QoS 1, kept until the centre has it."""
    return 0 if kind == "heartbeat" else 1


def check_home_id(home_id: str) -> str:
    """`home_id` if it can be a home id (a NATS subject token); ValueError otherwise."""
    if not HOME_ID.match(home_id):
        raise ValueError(f"{home_id!r} is not a home id (letters, digits, '-' and '_', at most 64)")
    return home_id


def local_up(kind: str) -> str:
    """Where the hub publishes an upward message of `kind` on its own broker."""
    return LOCAL_UP + kind


def remote_up_prefix(home_id: str) -> str:
    return f"homes/{check_home_id(home_id)}/up/"


def remote_down_prefix(home_id: str) -> str:
    return f"homes/{check_home_id(home_id)}/down/"


def command_topic(home_id: str) -> str:
    """The MQTT topic the centre publishes a home's commands to (QoS 1)."""
    return remote_down_prefix(home_id) + "command"


def up_subject(home_id: str, kind: str) -> str:
    """The NATS subject an upward message of `kind` arrives on at the centre."""
    return f"homes.{check_home_id(home_id)}.up.{kind}"


def home_of(subject: str) -> str | None:
    """The home id in a subject `homes.<id>.up.<kind>`, or None for any other shape."""
    parts = subject.split(".")
    if len(parts) == 4 and parts[0] == "homes" and parts[2] == "up" and HOME_ID.match(parts[1]):
        return parts[1]
    return None


# -- upward messages ------------------------------------------------------------------------------


class _Model(BaseModel):
    # Fields a later minor change adds are kept, not refused.
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
    note: str | None = None  # likewise

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
        return check_home_id(v)


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
_UP: TypeAdapter[UpMessage] = TypeAdapter(UpMessage)


def parse_up(subject: str, payload: bytes) -> UpMessage:
    """The message a home published on `subject` (`homes.<id>.up.<kind>`); PayloadError says why
    it cannot be one. The subject is what the broker's permissions vouch for (a home publishes
    only under its own id), so a body naming another home or kind than its subject is refused."""
    home = home_of(subject)
    if home is None:
        raise PayloadError(f"subject {subject!r} is not homes.<id>.up.<kind>")
    doc = _json_object(payload)
    if doc.get("v") != VERSION:
        raise PayloadError(f"wire format version {doc.get('v')!r}; this reads version {VERSION}")
    try:
        msg = _UP.validate_python(doc)
    except ValidationError as exc:
        raise PayloadError(why(exc)) from exc
    kind = subject.rsplit(".", 1)[1]
    if msg.home != home:
        raise PayloadError(f"the message says home {msg.home!r}, its subject {home!r}")
    if msg.kind != kind:
        raise PayloadError(f"the message is kind {msg.kind!r}, its subject says {kind!r}")
    return msg


def _json_object(payload: bytes) -> dict[str, object]:
    if len(payload) > MAX_PAYLOAD:
        raise PayloadError(f"{len(payload):,} bytes is more than {MAX_PAYLOAD:,}")
    try:
        doc: object = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise PayloadError(f"a JSON {type(doc).__name__}, not an object")
    return doc


def why(exc: ValidationError) -> str:
    """A pydantic error as one line: the first few problems with their field paths."""
    parts = []
    for err in exc.errors(include_url=False)[:5]:
        loc = ".".join(str(p) for p in err["loc"])
        parts.append(f"{loc}: {err['msg']}" if loc else err["msg"])
    return "; ".join(parts)


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def envelope(*, home: str, kind: str, at: datetime, msg_id: str | None = None,
             pseudonym: str | None = None) -> dict[str, object]:
    """The fields every upward message starts with (a fresh `msg_id` unless given)."""
    doc: dict[str, object] = {"v": VERSION, "msg_id": msg_id or str(uuid.uuid4()),
                              "home": check_home_id(home), "kind": kind, "at": _iso(at)}
    if pseudonym is not None:
        doc["pseudonym"] = pseudonym
    return doc


def wire_alert(alert: Alert, *, title: str, share_details: bool = False) -> dict[str, object]:
    """An alert as it leaves the home: a neutral `title` instead of its message (which names the
    resident), the caregiver's id, never their name; the message and note only when shared."""
    doc: dict[str, object] = {
        "id": alert.id, "key": alert.key, "scenario": alert.scenario, "severity": alert.severity,
        "state": alert.state, "title": title, "raised_at": _iso(alert.raised_at),
        "updated_at": _iso(alert.updated_at), "occurrence": alert.occurrence,
        "previous_id": alert.previous_id, "repeats": alert.repeats,
        "acknowledged_by": alert.acknowledged_by, "acknowledged_via": alert.acknowledged_via,
        "acknowledged_at": _iso(alert.acknowledged_at), "resolved_at": _iso(alert.resolved_at),
        "resolution": alert.resolution,
    }
    if share_details:
        doc["message"] = alert.message
        doc["note"] = alert.note
    return doc


def encode(doc: Mapping[str, object]) -> bytes:
    """An upward message's bytes (compact JSON, UTF-8)."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


# -- downward commands ----------------------------------------------------------------------------


class Command(_Model):
    """A caregiver at the centre acknowledges or resolves one alert of one home."""

    v: Literal[1]
    msg_id: str = Field(min_length=1, max_length=100)
    at: AwareDatetime
    action: Literal["acknowledge", "resolve"]
    alert: str = Field(min_length=1, max_length=200)
    by: str = Field(min_length=len(CENTRE_PREFIX) + 1, max_length=200)
    note: str | None = None
    sig: str

    @field_validator("by")
    @classmethod
    def _from_centre(cls, v: str) -> str:
        if not v.startswith(CENTRE_PREFIX):
            raise ValueError(f"should be '{CENTRE_PREFIX}<user>'")
        return v

    @model_validator(mode="after")
    def _note_to_resolve(self) -> Command:
        if self.action == "resolve" and not (self.note or "").strip():
            raise ValueError("a resolve needs a note, as on the caregiver page")
        return self


class CommandRefused(Exception):  # noqa: N818 - a refusal, not a fault
    """A downward command the hub does not carry out; `reason` is one of REASONS, `detail` says more."""

    def __init__(self, reason: str, detail: str, *, msg_id: str | None = None) -> None:
        self.reason = reason
        self.detail = detail
        self.msg_id = msg_id
        super().__init__(f"{reason}: {detail}")


# Why a command is refused: the technician sees a count per reason.
REASONS = ("malformed", "bad_signature", "too_old", "from_future", "replayed", "unknown_alert", "not_active")


def canonical(doc: Mapping[str, object]) -> bytes:
    """The bytes a command's signature covers: its JSON without `sig`, keys sorted, compact."""
    body = {k: v for k, v in doc.items() if k != "sig"}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def sign(key: bytes, doc: Mapping[str, object]) -> str:
    """The hex HMAC-SHA256 of `doc` (without `sig`) under the home's key."""
    return hmac.new(key, canonical(doc), hashlib.sha256).hexdigest()


def make_command(key: bytes, *, action: Literal["acknowledge", "resolve"], alert: str, by: str,
                 at: datetime, note: str | None = None, msg_id: str | None = None) -> dict[str, object]:
    """A signed downward command, as the centre publishes it to `command_topic(home)`.

    `by` is the centre's user (`centre:` is prefixed when missing)."""
    doc: dict[str, object] = {
        "v": VERSION, "msg_id": msg_id or str(uuid.uuid4()), "at": _iso(at), "action": action,
        "alert": alert, "by": by if by.startswith(CENTRE_PREFIX) else CENTRE_PREFIX + by, "note": note,
    }
    doc["sig"] = sign(key, doc)
    return doc


def check_command(key: bytes, payload: bytes, *, now: datetime) -> Command:
    """A genuine, fresh command, or CommandRefused saying why (malformed, bad_signature,
    too_old, from_future). Whether the alert exists and whether the command was carried out
    before are the hub's to check: they need its state."""
    try:
        doc = _json_object(payload)
    except PayloadError as exc:
        raise CommandRefused("malformed", str(exc)) from exc
    msg_id = str(doc.get("msg_id")) if doc.get("msg_id") is not None else None
    sig = doc.get("sig")
    # The signature first: an unsigned stranger learns nothing from our other checks.
    if not isinstance(sig, str) or not hmac.compare_digest(sig.lower(), sign(key, doc)):
        raise CommandRefused("bad_signature", "the signature does not match this home's key", msg_id=msg_id)
    try:
        cmd = Command.model_validate(doc)
    except ValidationError as exc:
        raise CommandRefused("malformed", why(exc), msg_id=msg_id) from exc
    age = now - cmd.at
    if age > COMMAND_MAX_AGE:
        raise CommandRefused("too_old", f"made {age} ago (at most {COMMAND_MAX_AGE})", msg_id=cmd.msg_id)
    if -age > COMMAND_MAX_AHEAD:
        raise CommandRefused("from_future", f"dated {-age} ahead of the hub's clock", msg_id=cmd.msg_id)
    return cmd
