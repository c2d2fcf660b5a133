"""A local ntfy server speaking ntfy's real publish API: the push service, simulated.

Tests page caregivers through it and benchmarks measure delivery against it
(`python -m simulators.ntfy_server PORT` runs one in its own process).
"""

from __future__ import annotations

import asyncio
import itertools
import sys
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from simulators.http_server import HttpServer, Request, Response, json_response

_ids = itertools.count(1)


@dataclass
class NtfyServer:
    """ntfy's publish API: JSON to the root, or a body to /<topic> with X-* headers.

    `fail_next` answers that many publishes with 500; `hold` makes publishes wait (the server
    received the request but has not answered: a hung push service).
    """

    messages: list[dict[str, Any]] = field(default_factory=list)
    fail_next: int = 0
    hold: asyncio.Event | None = None
    received: asyncio.Event = field(default_factory=asyncio.Event)
    http: HttpServer | None = None

    @property
    def url(self) -> str:
        assert self.http is not None
        return self.http.url

    async def __aenter__(self) -> NtfyServer:
        self.http = await HttpServer(self.handle).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.hold is not None:
            self.hold.set()
        assert self.http is not None
        await self.http.stop()

    def to(self, topic: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["topic"] == topic]

    async def handle(self, req: Request) -> Response:
        if req.method not in ("POST", "PUT"):
            return json_response(405, {"code": 40501, "http": 405, "error": "method not allowed"})
        if req.path == "/":
            try:
                msg = req.json()
            except ValueError:
                return json_response(400, {"code": 40024, "http": 400, "error": "invalid request: body must be JSON"})
            if not isinstance(msg, dict) or not msg.get("topic"):
                return json_response(400, {"code": 40009, "http": 400, "error": "invalid request: topic invalid"})
        else:
            h = req.headers
            msg = {"topic": unquote(req.path.strip("/")), "message": req.body.decode("utf-8")}
            for name in ("title", "priority", "tags", "click", "actions"):
                value = h.get(f"x-{name}") or h.get(name)
                if value is not None:
                    msg[name] = value
            if "priority" in msg:
                msg["priority"] = int(msg["priority"])
            if "tags" in msg:
                msg["tags"] = msg["tags"].split(",")
        msg["authorization"] = req.headers.get("authorization")
        if self.hold is not None:
            self.received.set()
            await self.hold.wait()
        if self.fail_next > 0:
            self.fail_next -= 1
            return json_response(500, {"code": 50001, "http": 500, "error": "internal server error"})
        mid = f"m{next(_ids)}"
        self.messages.append(msg)
        self.received.set()
        return json_response(200, {"id": mid, "time": 1767610800, "expires": 1767654000,
                                   "event": "message", "topic": msg["topic"],
                                   "message": msg.get("message", "triggered")})


async def _serve_forever(port: int) -> None:
    server = NtfyServer()
    server.http = await HttpServer(server.handle, port=port).start()
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    # A stand-alone ntfy stand-in (benchmarks run it in its own process, off the hub's loop).
    asyncio.run(_serve_forever(int(sys.argv[1])))
