"""The embedded MQTT broker `huis demo` starts when the config names no external one."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from controller.errors import HuisError

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
            # No topic-filtering plugin: with one, amqtt 0.12 awaits it while iterating its
            # subscriptions, and a client leaving meanwhile ends that broadcast with "dictionary
            # changed size during iteration" (seen when the demo stops). Its example taboo
            # list protected nothing of ours.
        },
    }
    broker = Broker(config)
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
