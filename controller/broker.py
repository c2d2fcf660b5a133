"""The embedded MQTT broker `huis demo` starts when the config names no external one."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def embedded_broker(host: str = "127.0.0.1", port: int = 1884) -> AsyncIterator[tuple[str, int]]:
    """Run an in-process amqtt broker on loopback for the duration of the context."""
    from amqtt.broker import Broker

    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {
            # Loopback only, so anonymous access reaches nothing beyond this machine.
            "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
            "amqtt.plugins.topic_checking.TopicTabooPlugin": {},
        },
    }
    broker = Broker(config)
    await broker.start()
    log.info("embedded MQTT broker listening on %s:%d", host, port)
    try:
        yield host, port
    finally:
        await broker.shutdown()
