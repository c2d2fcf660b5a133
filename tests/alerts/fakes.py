"""Stand-ins for the outside world that speak the real protocols: Home Assistant here, ntfy in simulators/."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from simulators.http_server import HttpServer, Request, Response, json_response
from simulators.ntfy_server import NtfyServer

__all__ = ["HomeAssistantServer", "NtfyServer"]


@dataclass
class HomeAssistantServer:
    """The few Home Assistant REST endpoints homeassistant-api calls to notify a phone."""

    token: str = "test-token"
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    http: HttpServer | None = None
    # Pass the notification on at once but answer only when this is set (or the server stops):
    # a slow Home Assistant, whose phone already has the notification.
    answer_late: asyncio.Event | None = None

    @property
    def api_url(self) -> str:
        assert self.http is not None
        return f"{self.http.url}/api"

    async def __aenter__(self) -> HomeAssistantServer:
        self.http = await HttpServer(self.handle).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.answer_late is not None:
            self.answer_late.set()
        assert self.http is not None
        await self.http.stop()

    async def handle(self, req: Request) -> Response:
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return json_response(401, {"message": "401: Unauthorized"})
        path = req.path.split("?", 1)[0].rstrip("/")
        if req.method == "GET" and path == "/api":
            return json_response(200, {"message": "API running."})
        if req.method == "POST" and path.startswith("/api/services/notify/"):
            service = path.rsplit("/", 1)[1]
            if not service.startswith("mobile_app_"):
                return json_response(400, {"message": f"Service notify.{service} not found."})
            self.calls.append((service, json.loads(req.body or b"{}")))
            if self.answer_late is not None:
                await self.answer_late.wait()
            return json_response(200, [])
        return json_response(404, {"message": "Not found"})
