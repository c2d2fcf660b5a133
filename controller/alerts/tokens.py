"""Signed, expiring acknowledgement links a caregiver can use from a phone without logging in.

A token is `base64url(claims) "." base64url(HMAC-SHA256(key, "huis-ack-v1." + claims))`.
The claims name the alert, the caregiver, the channel and a random nonce; single use is
enforced by the store, which records each nonce the first time it acknowledges.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from controller.errors import HuisError
from controller.keyfile import load_key

log = logging.getLogger(__name__)

_DOMAIN = b"huis-ack-v1."
KEY_BYTES = 32


class TokenError(HuisError):
    """An acknowledgement link was refused; `reason` is 'forged' or 'expired'."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True, slots=True, kw_only=True)
class AckClaims:
    """What a valid link says: who may acknowledge which alert, via which channel, until when."""

    alert_id: str
    recipient: str
    channel: str
    expires: datetime
    nonce: str


def load_or_create_key(path: str | Path) -> bytes:
    """The signing key in `path`, created (mode 0600) on first start."""
    return load_key(path, what="acknowledgement-link key")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class AckSigner:
    """Issues and checks acknowledgement tokens with one key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the signing key must be at least 16 bytes")
        self._key = key

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, _DOMAIN + body.encode("ascii"), hashlib.sha256).digest())

    def issue(self, *, alert_id: str, recipient: str, channel: str, now: datetime,
              ttl: timedelta) -> str:
        """A fresh token valid for `ttl` from `now`."""
        claims = {"a": alert_id, "r": recipient, "c": channel,
                  "e": int((now + ttl).timestamp()), "n": secrets.token_urlsafe(12)}
        body = _b64(json.dumps(claims, separators=(",", ":")).encode("utf-8"))
        return f"{body}.{self._sign(body)}"

    def verify(self, token: str, *, now: datetime) -> AckClaims:
        """The claims of a genuine, unexpired token; raises TokenError otherwise."""
        body, dot, sig = token.partition(".")
        if not dot or not body or not sig:
            raise TokenError("forged", "the link is incomplete")
        try:
            good = hmac.compare_digest(self._sign(body), sig)
        except (UnicodeEncodeError, TypeError):
            good = False
        if not good:
            raise TokenError("forged", "the link's signature does not match")
        try:
            raw = json.loads(_unb64(body))
            claims = AckClaims(alert_id=str(raw["a"]), recipient=str(raw["r"]), channel=str(raw["c"]),
                               expires=datetime.fromtimestamp(int(raw["e"]), UTC), nonce=str(raw["n"]))
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            # Signed by us but unreadable: only a bug gets here; refuse all the same.
            raise TokenError("forged", "the link's contents are unreadable") from exc
        if now >= claims.expires:
            raise TokenError("expired", "the link has expired")
        return claims
