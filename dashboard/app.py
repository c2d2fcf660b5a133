"""The dashboard app. For now: the device page and its JSON API."""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from controller.hub import Hub


def create_app(hub: Hub) -> FastAPI:
    """A FastAPI app showing `hub`'s live state."""
    app = FastAPI(title="huis", version="0.1.0", summary="Huis van de toekomst hub API")
    page = resources.files("dashboard").joinpath("static/devices.html").read_text(encoding="utf-8")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def devices_page() -> str:
        return page

    @app.get("/api/devices")
    async def devices() -> list[dict[str, Any]]:
        """Every configured device with its latest state."""
        out = []
        for st in hub.state.all():
            item = st.as_dict()
            dev = hub.config.devices[st.device]
            item["name"] = dev.name or st.device
            item["room_name"] = hub.config.rooms[st.room].name if st.room else None
            out.append(item)
        return out

    @app.get("/api/health")
    async def health() -> dict[str, Any]:
        """The hub's own health: link, message and error counters."""
        link_connected = getattr(hub.link, "connected", None)
        return {
            "mqtt_connected": link_connected.is_set() if link_connected is not None else None,
            "messages": hub.messages,
            "payload_errors": hub.payload_errors,
            "time": hub.clock.now().isoformat(),
        }

    return app
