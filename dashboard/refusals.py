"""API refusals in the reader's language: `raise Refusal(409, "api.alert_not_active")`.

The pages send their language as Accept-Language; an API client that sends none (or another
language) reads English, the API's language. The detail is written when the answer is sent
(`refusal_handler`, registered by dashboard.app), so a route needs no `request` to refuse.
"""

from __future__ import annotations

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse

from controller import i18n


def lang_of(request: Request) -> i18n.Lang:
    """The page's language, which its scripts send as Accept-Language ("nl" or "en"); an API
    client that sends none gets English, the API's language."""
    return "nl" if request.headers.get("accept-language", "").lower().startswith("nl") else "en"


class Refusal(HTTPException):
    """An HTTP error whose detail is the catalogue text `msgid` (ids api.*), filled with `values`
    (a value given as {lang: text} is filled in per language)."""

    def __init__(self, status: int, msgid: str, /, **values: object) -> None:
        self.msgid = msgid
        self.values = values
        super().__init__(status, self.text("en"))

    def text(self, lang: str) -> str:
        return i18n.text(lang, self.msgid, **{k: v[lang] if isinstance(v, dict) else v
                                              for k, v in self.values.items()})


async def refusal_handler(request: Request, exc: Exception) -> JSONResponse:
    """Answer a Refusal in the request's language."""
    assert isinstance(exc, Refusal)
    return JSONResponse({"detail": exc.text(lang_of(request))}, status_code=exc.status_code,
                        headers=exc.headers)
