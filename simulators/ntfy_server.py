"""A local ntfy server speaking ntfy's real publish API: the push service, simulated.

Tests page caregivers through it, benchmarks measure delivery against it, and `huis demo` runs
one so the demo's "phone" channel never leaves the machine (`python -m simulators.ntfy_server
PORT [--answer-after SECONDS]` runs one in its own process).

Like real ntfy (2.16 and later) it keeps every publish, also a second one with the same
`sequence_id`: the server does not deduplicate. Its apps do something else: a message with a
sequence id they already show *replaces* that notification. `phone()` is that view.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from simulators.http_server import HttpServer, Request, Response, json_response

log = logging.getLogger(__name__)
_ids = itertools.count(1)
_HEADERS = ("title", "priority", "tags", "click", "actions", "sequence-id")


@dataclass
class NtfyServer:
    """ntfy's publish API: JSON to the root, or a body to /<topic>[/<sequence_id>] with X-* headers.

    `fail_next` answers that many publishes with 500 (nothing published); `hold` makes publishes
    wait before anything happens (a hung push service: nothing published until released);
    `answer_after` publishes at once and answers that many seconds later (a slow server: the
    phone has it, the hub does not know).
    """

    host: str = "127.0.0.1"
    port: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)
    fail_next: int = 0
    hold: asyncio.Event | None = None
    answer_after: float | None = None
    received: asyncio.Event = field(default_factory=asyncio.Event)
    http: HttpServer | None = None
    _closing: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        assert self.http is not None
        return self.http.url

    async def __aenter__(self) -> NtfyServer:
        self.http = await HttpServer(self.handle, host=self.host, port=self.port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing.set()  # late answers go out now: no handler outlives the server
        if self.hold is not None:
            self.hold.set()
        assert self.http is not None
        await self.http.stop()

    def to(self, topic: str) -> list[dict[str, Any]]:
        """Every publish the server accepted for `topic`, in order."""
        return [m for m in self.messages if m["topic"] == topic]

    def phone(self, topic: str) -> list[dict[str, Any]]:
        """The notifications a phone subscribed to `topic` shows: one per sequence id, the latest."""
        shown: dict[str, dict[str, Any]] = {}
        for m in self.to(topic):
            shown.pop(m["sequence_id"], None)  # an update moves to the top, as on the phone
            shown[m["sequence_id"]] = m
        return list(shown.values())

    async def handle(self, req: Request) -> Response:
        if req.method not in ("POST", "PUT"):
            return json_response(405, {"code": 40501, "http": 405, "error": "method not allowed"})
        msg = self._parse(req)
        if isinstance(msg, tuple):
            return msg
        msg["authorization"] = req.headers.get("authorization")
        if self.hold is not None:
            self.received.set()
            await self.hold.wait()
        if self.fail_next > 0:
            self.fail_next -= 1
            return json_response(500, {"code": 50001, "http": 500, "error": "internal server error"})
        mid = f"m{next(_ids)}"
        msg["id"] = mid
        msg.setdefault("sequence_id", mid)  # ntfy: a message without one starts its own sequence
        self.messages.append(msg)
        self.received.set()
        if self.answer_after is not None:  # published; the answer is what is late
            try:
                async with asyncio.timeout(self.answer_after):
                    await self._closing.wait()
            except TimeoutError:
                pass
        return json_response(200, {"id": mid, "time": 1767610800, "expires": 1767654000,
                                   "event": "message", "topic": msg["topic"],
                                   "sequence_id": msg["sequence_id"],
                                   "message": msg.get("message", "triggered")})

    @staticmethod
    def _parse(req: Request) -> dict[str, Any] | Response:
        if req.path == "/":
            try:
                msg = req.json()
            except ValueError:
                return json_response(400, {"code": 40024, "http": 400, "error": "invalid request: body must be JSON"})
            if not isinstance(msg, dict) or not msg.get("topic"):
                return json_response(400, {"code": 40009, "http": 400, "error": "invalid request: topic invalid"})
            return msg
        h = req.headers
        topic, _, sequence = unquote(req.path.strip("/")).partition("/")
        out: dict[str, Any] = {"topic": topic, "message": req.body.decode("utf-8")}
        for name in _HEADERS:
            value = h.get(f"x-{name}") or h.get(name)
            if value is not None:
                out[name.replace("-", "_")] = value
        if sequence:
            out["sequence_id"] = sequence
        if "priority" in out:
            out["priority"] = int(out["priority"])
        if "tags" in out:
            out["tags"] = out["tags"].split(",")
        return out


def loopback_port(server: object) -> int | None:
    """The port of an http://127.0.0.1:PORT (or localhost) server address; None for anything else.

    `huis demo` runs a stand-in only where the configured ntfy server is on this machine.
    """
    parts = urlsplit(str(server or ""))
    if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        return None
    return parts.port or 80


async def serve(port: int, *, host: str = "127.0.0.1", answer_after: float | None = None) -> None:
    """Run a server on host:port until cancelled (`huis demo` runs one for its phone channel).

    A port already taken (a second demo on this machine) is a warning, not the end of the demo:
    its ntfy deliveries then fail and fall through to the page.
    """
    try:
        server = await NtfyServer(host=host, port=port, answer_after=answer_after).__aenter__()
    except OSError as exc:
        log.warning("the demo's ntfy stand-in cannot listen on %s:%d (%s); phones are not simulated",
                    host, port, exc)
        return
    try:
        await asyncio.Event().wait()
    finally:
        await server.__aexit__(None, None, None)


async def _serve_forever(port: int, answer_after: float | None) -> None:
    async with NtfyServer(port=port, answer_after=answer_after):
        print("ready", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    # A stand-alone ntfy stand-in (benchmarks run it in its own process, off the hub's loop).
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--answer-after", type=float, default=None,
                        help="publish at once, answer this many seconds later (a slow server)")
    args = parser.parse_args()
    asyncio.run(_serve_forever(args.port, args.answer_after))
