"""The embedded MQTT broker `huis demo` starts when the config names no external one."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterator

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
async def embedded_broker(host: str = "127.0.0.1", port: int = 1884) -> AsyncIterator[tuple[str, int]]:
    """Run an in-process amqtt broker on loopback for the duration of the context."""
    from amqtt.broker import Broker

    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {
            # Loopback only, so anonymous access reaches nothing beyond this machine.
            "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
            # No topic-filtering plugin: amqtt's example taboo list protects nothing of ours, and
            # each check is one more await inside its subscription walk (see _Snapshots).
        },
    }
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
