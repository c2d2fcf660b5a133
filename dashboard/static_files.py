"""The dashboard's own files (dashboard/static): pages, scripts and styles, served without a CDN."""

from __future__ import annotations

from importlib import resources

from fastapi.responses import HTMLResponse


def static_text(name: str) -> str:
    """A file from dashboard/static."""
    return resources.files("dashboard").joinpath("static", name).read_text(encoding="utf-8")


def static_bytes(name: str) -> bytes:
    """A binary file from dashboard/static."""
    return resources.files("dashboard").joinpath("static", name).read_bytes()


def page(name: str) -> HTMLResponse:
    """A page from dashboard/static as an HTML response."""
    return HTMLResponse(static_text(name))
