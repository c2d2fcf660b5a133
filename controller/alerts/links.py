"""Signed single-use acknowledgement links: issuing them, checking them, auditing refusals.

A link is the credential of a caregiver who is not logged in (a phone's notification button),
so refusals (forged, expired, reused) are written to the audit log with whom they claimed to
be. Anyone can send bad links, though, and the audit log is append-only: per sending address and
reason, the 1st, 10th, 100th, ... refusal within REFUSAL_WINDOW is written, each row saying how
many there were so far; the ones between are counted, not written.

`clock` is the clock of link expiry: real time in a running hub (a demo's moving clock must not
expire or revive links).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from controller.alerts.model import AckOutcome, Alert, Recipient
from controller.alerts.store import AlertStore, AuditEntry
from controller.alerts.tokens import AckClaims, AckSigner, TokenError, load_or_create_key
from controller.clock import Clock

REFUSAL_WINDOW = timedelta(minutes=10)
_MAX_SENDERS = 10_000  # addresses remembered; past that the counts start over


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
        # (address, reason) -> (start of its window, refusals in it)
        self._refusals: dict[tuple[str, str], tuple[datetime, int]] = {}

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

    async def check(self, token: str, *, address: str | None = None) -> AckClaims | AckOutcome:
        """The claims of a genuine, unexpired link, or the refusal (which is audited)."""
        try:
            return self._signer().verify(token, now=self.clock.now())
        except TokenError as exc:
            return await self.refused(exc.reason, None, None, detail=str(exc), address=address)

    def _count(self, address: str, reason: str) -> int | None:
        """This refusal's number within its sender's window, if it is one to write (1, 10, 100...)."""
        now = self.clock.now()
        start, n = self._refusals.get((address, reason), (now, 0))
        if now - start >= REFUSAL_WINDOW:
            start, n = now, 0
        if len(self._refusals) >= _MAX_SENDERS and (address, reason) not in self._refusals:
            self._refusals.clear()
        self._refusals[(address, reason)] = (start, n + 1)
        n += 1
        return n if str(n).strip("0") == "1" else None

    async def refused(self, reason: str, claims: AckClaims | None, alert: Alert | None,
                      detail: str = "", address: str | None = None) -> AckOutcome:
        """Audit a refused link (counted per sender, see the module docstring); say why."""
        # A genuine link that is refused (reused) is counted per caregiver it names.
        n = self._count(address or (f"link of {claims.recipient}" if claims else "unknown"), reason)
        if n is not None:
            why = f"{reason}: {detail}" if detail else reason
            sender = f" from {address}" if address else ""
            count = f"; {n} refused{sender} within {int(REFUSAL_WINDOW.total_seconds() // 60)} minutes" \
                if n > 1 else ""
            await self.store.record_audit([AuditEntry(
                time=self.clock.now(), alert_id=claims.alert_id if claims else None,
                event="ack_link_refused", resident=self.resident,
                user=claims.recipient if claims else None, channel=claims.channel if claims else None,
                detail=f"{why}{sender}{count}")])
        return AckOutcome(ok=False, reason=reason, alert=alert,
                          by=alert.acknowledged_by if alert else None)
