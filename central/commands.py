"""Acknowledge and resolve from the centre: checked, signed with the home's key, sent, audited.

docs/central.md "Downward commands": a command is JSON signed with HMAC-SHA256 over its
canonical form without `sig` (controller/uplink_wire.py `make_command`, which the hub checks
with `check_command`), with the home's own key (the bytes the hex in its key file stands
for, read with controller/keyfile.py as the hub does). It goes out as an MQTT QoS 1 publish on
`homes/<id>/down/command`; every command, sent, refused or failed, is written to the
`commands` table first and its outcome after.
"""

from __future__ import annotations

import hmac
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from central.mqtt import Publisher
from central.store import CommandRow, Store
from controller.clock import Clock
from controller.errors import DeliveryError, HuisError
from controller.uplink_wire import command_topic, make_command, sign

log = logging.getLogger(__name__)

Action = Literal["acknowledge", "resolve"]
ACTIONS: tuple[Action, ...] = ("acknowledge", "resolve")
MAX_NOTE = 2000


class CommandRefused(HuisError):
    """The centre will not send this command; the message says why (shown to the user)."""


def verify(doc: dict[str, Any], key: bytes) -> bool:
    """True when `doc['sig']` is the signature of `doc` with `key`."""
    sig = doc.get("sig")
    return isinstance(sig, str) and hmac.compare_digest(sig, sign(key, doc))


def topic_of(home: str) -> str:
    """The MQTT topic of a home's commands (`homes/<id>/down/command`)."""
    return command_topic(home)


@dataclass(frozen=True, slots=True, kw_only=True)
class Sent:
    """What happened to a command: its audit row and the document sent."""

    row: CommandRow
    doc: dict[str, Any]


class Commands:
    """The centre's two actions on a home's alert."""

    def __init__(self, store: Store, publisher: Publisher, keys: Callable[[str], bytes], clock: Clock) -> None:
        """`keys(home)` is the home's command key; it raises HuisError for a home without one."""
        self.store = store
        self.publisher = publisher
        self.keys = keys
        self.clock = clock

    async def acknowledge(self, home: str, alert_id: str, *, user: str) -> Sent:
        return await self.give(home, alert_id, "acknowledge", user=user)

    async def resolve(self, home: str, alert_id: str, *, user: str, note: str) -> Sent:
        return await self.give(home, alert_id, "resolve", user=user, note=note)

    async def give(self, home: str, alert_id: str, action: Action, *, user: str, note: str | None = None) -> Sent:
        """Check, sign, audit and publish one command; CommandRefused or DeliveryError say why not.

        `user` is the centre user's name (it goes out as `centre:<user>`). Whether the user may act
        on this home is the dashboard's check (its roles); this one checks the command itself.
        """
        now = self.clock.now()
        row = CommandRow(msg_id=str(uuid.uuid4()), home=home, alert_id=alert_id, action=action,
                         by_user=f"centre:{user}", note=note, at=now, outcome="refused", detail=None)
        try:
            key = await self._check(home, alert_id, action, user, note)
        except CommandRefused as exc:
            await self.store.record_command(_with(row, "refused", str(exc)))
            raise
        doc = make_command(key, action=action, alert=alert_id, by=row.by_user, at=now, note=note, msg_id=row.msg_id)
        await self.store.record_command(_with(row, "sending", None))
        try:
            await self.publisher.publish(topic_of(home), json.dumps(doc).encode())
        except DeliveryError as exc:
            await self.store.record_command(_with(row, "failed", str(exc)))
            raise
        sent = _with(row, "sent", None)
        await self.store.record_command(sent)
        log.info("%s %s of %s by %s: sent", action, alert_id, home, doc["by"])
        return Sent(row=sent, doc=doc)

    async def _check(self, home: str, alert_id: str, action: str, user: str, note: str | None) -> bytes:
        if action not in ACTIONS:
            raise CommandRefused(f"{action!r} is not a command (acknowledge or resolve).")
        if not user or ":" in user:
            raise CommandRefused("A command needs the centre user's name (without ':').")
        if action == "resolve" and not (note or "").strip():
            raise CommandRefused("Resolving needs a note, as on the caregiver page.")
        if note is not None and len(note) > MAX_NOTE:
            raise CommandRefused(f"The note is longer than {MAX_NOTE} characters.")
        alert = await self.store.alert(home, alert_id)
        if alert is None:
            raise CommandRefused(f"The centre has no alert {alert_id} of home {home}.")
        if not alert.active:
            raise CommandRefused(f"Alert {alert_id} of home {home} is {alert.state} already.")
        if action == "acknowledge" and alert.acknowledged_at is not None:
            raise CommandRefused(f"Alert {alert_id} was acknowledged already by {alert.acknowledged_by}.")
        try:
            return self.keys(home)
        except HuisError as exc:
            raise CommandRefused(f"Home {home} has no command key at the centre: {exc}") from exc


def _with(row: CommandRow, outcome: str, detail: str | None) -> CommandRow:
    return CommandRow(msg_id=row.msg_id, home=row.home, alert_id=row.alert_id, action=row.action,
                      by_user=row.by_user, note=row.note, at=row.at, outcome=outcome, detail=detail)
