"""amqtt plugins that close the embedded broker: log-in against the home's accounts, and each
account's ACL on every publish, subscribe and delivery (the same rules mosquitto gets as its
acl_file, see controller/broker_auth.py). Loaded by amqtt from its dotted path."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session

from controller.broker_auth import Account, allows


class AccountLogin(BaseAuthPlugin):  # type: ignore[misc]
    """Only the home's accounts, with their passwords, may connect."""

    @dataclass
    class Config:
        passwords: dict[str, str] = field(default_factory=dict)

    async def authenticate(self, *, session: Session) -> bool:
        passwords: dict[str, str] = self.config.passwords
        username, password = session.username, session.password
        expected = passwords.get(username) if isinstance(username, str) else None
        if expected is None or not isinstance(password, str):
            return False
        return hmac.compare_digest(expected.encode(), password.encode())


class AccountAcl(BaseTopicPlugin):  # type: ignore[misc]
    """Each account reads and writes its own topics only."""

    @dataclass
    class Config:
        accounts: dict[str, object] = field(default_factory=dict)

    async def topic_filtering(self, *, session: Session | None = None, topic: str | None = None,
                              action: Action | None = None) -> bool:
        accounts: dict[str, object] = self.config.accounts
        account = accounts.get(session.username) if session is not None and session.username else None
        if not isinstance(account, Account) or topic is None:
            return False
        if action == Action.PUBLISH:
            return allows(account, "write", topic)
        if action == Action.SUBSCRIBE:
            return allows(account, "subscribe", topic)
        return allows(account, "read", topic)
