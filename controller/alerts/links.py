"""Signed single-use acknowledgement links: issuing them, checking them, auditing refusals.

A link is the credential of a caregiver who is not logged in (a phone's notification button),
so every refusal (forged, expired, reused) is written to the audit log with whom it claimed
to be.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from controller.alerts.model import AckOutcome, Alert, Recipient
from controller.alerts.store import AlertStore, AuditEntry
from controller.alerts.tokens import AckClaims, AckSigner, TokenError, load_or_create_key
from controller.clock import Clock


class AckLinks:
    """Issues and checks the links of one home; `open()` loads (or creates) their key."""

    def __init__(self, *, key_file: Path, store: AlertStore, clock: Clock, resident: str,
                 base_url: str, ttl: timedelta) -> None:
        self.key_file = key_file
        self.store = store
        self.clock = clock
        self.resident = resident
        self.base_url = base_url
        self.ttl = ttl
        self.signer: AckSigner | None = None

    def open(self) -> None:
        """Load the signing key."""
        self.signer = AckSigner(load_or_create_key(self.key_file))

    def _signer(self) -> AckSigner:
        if self.signer is None:
            raise RuntimeError("the acknowledgement links are used before open()")
        return self.signer

    def issue(self, alert: Alert, who: Recipient, channel: str) -> str:
        """A fresh link for `who` to acknowledge `alert`, sent on `channel`."""
        token = self._signer().issue(alert_id=alert.id, recipient=who.id, channel=channel,
                                     now=self.clock.now(), ttl=self.ttl)
        return f"{self.base_url}/alerts/ack/{token}"

    async def check(self, token: str) -> AckClaims | AckOutcome:
        """The claims of a genuine, unexpired link, or the refusal (which is audited)."""
        try:
            return self._signer().verify(token, now=self.clock.now())
        except TokenError as exc:
            return await self.refused(exc.reason, None, None, detail=str(exc))

    async def refused(self, reason: str, claims: AckClaims | None, alert: Alert | None,
                      detail: str = "") -> AckOutcome:
        """Audit a refused link and say why it was refused."""
        await self.store.record_audit([AuditEntry(
            time=self.clock.now(), alert_id=claims.alert_id if claims else None,
            event="ack_link_refused", resident=self.resident,
            user=claims.recipient if claims else None, channel=claims.channel if claims else None,
            detail=f"{reason}: {detail}" if detail else reason)])
        return AckOutcome(ok=False, reason=reason, alert=alert,
                          by=alert.acknowledged_by if alert else None)
