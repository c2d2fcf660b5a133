"""The embedded MQTT broker `huis demo` starts when the config names no external one.

Closed like the shipped mosquitto: with `credentials` only the home's accounts log in, each
held to its ACL (controller/broker_plugins.py). It keeps a persistent session's QoS 1 messages
while that client is away (amqtt does so for logged-in clients); it lives in the demo's own
process, so it has nothing to keep across a restart of the demo.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterator

from controller.broker_auth import Credentials
from controller.errors import HuisError

log = logging.getLogger(__name__)


class _Snapshots(dict[str, list[tuple[object, int]]]):
    """amqtt 0.12 walks its subscriptions across awaits (broadcasting a message, sending retained
    ones to a client that connects) while other clients subscribe; the walk then dies with
    "dictionary changed size during iteration", the message is lost and an unretrieved task
    error ends up in the log (tests/integration/test_demo.py under load). Walk a snapshot."""

    def __iter__(self) -> Iterator[str]:
        return iter(list(super().__iter__()))

    def items(self) -> list[tuple[str, list[tuple[object, int]]]]:  # type: ignore[override]
        return list(super().items())


@contextlib.asynccontextmanager
async def embedded_broker(host: str = "127.0.0.1", port: int = 1884, *,
                          credentials: Credentials | None = None) -> AsyncIterator[tuple[str, int]]:
    """Run an in-process amqtt broker for the duration of the context: closed to all but the
    accounts in `credentials`; without them open to anyone (tests on loopback only)."""
    from amqtt.broker import Broker

    plugins: dict[str, dict[str, object]]
    if credentials is None:
        plugins = {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}}
    else:
        # The ACL check is one more await inside amqtt's subscription walk: see _Snapshots.
        plugins = {
            "controller.broker_plugins.AccountLogin": {"passwords": dict(credentials.passwords)},
            "controller.broker_plugins.AccountAcl": {"accounts": {a.username: a for a in credentials.accounts}},
        }
    config = {"listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}}, "plugins": plugins}
    broker = Broker(config)
    broker._subscriptions = _Snapshots()  # see _Snapshots
    # amqtt logs a failed start with a traceback of its own; we say it once, in plain words.
    amqtt_log = logging.getLogger("amqtt.broker")
    level = amqtt_log.level
    amqtt_log.setLevel(logging.CRITICAL)
    try:
        await broker.start()
    except Exception as exc:  # amqtt reports a taken port as its own BrokerError
        raise HuisError(f"The embedded MQTT broker cannot listen on {host}:{port} ({exc}). Stop the "
                        "program that uses it (another `huis demo`?), or set embedded_broker.port "
                        "in the configuration.") from exc
    finally:
        amqtt_log.setLevel(level)
    log.info("embedded MQTT broker listening on %s:%d", host, port)
    try:
        yield host, port
    finally:
        await broker.shutdown()
