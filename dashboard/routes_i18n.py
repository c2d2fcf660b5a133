"""The pages' texts: the gettext catalogues (controller/locale/) as JSON and as a script.

Every page loads `/i18n/catalogue.js` before `common.js`; it sets `HUIS_CATALOGUE` to both
languages, so switching language needs no second request and `t(key)` stays synchronous. The
body is built once per process and sent with an ETag: a page load asks "still the same?" and
gets 304 until the catalogues change (they are read at start, so: until a restart).
"""

from __future__ import annotations

import hashlib
import json
from functools import cache

from fastapi import APIRouter, HTTPException, Request, Response

from controller import i18n

router = APIRouter()


@cache
def _body(what: str) -> tuple[bytes, str]:
    if what == "catalogue.js":
        data = {lang: i18n.catalogue(lang) for lang in i18n.LANGS}
        text = ("// Generated from controller/locale/*/LC_MESSAGES/huis.po; edit those, not this.\n"
                f"window.HUIS_CATALOGUE = {json.dumps(data, ensure_ascii=False, sort_keys=True)};\n")
    else:
        text = json.dumps(i18n.catalogue(i18n.lang_of(what.removesuffix(".json"))), ensure_ascii=False,
                          sort_keys=True)
    body = text.encode()
    return body, '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


def _send(request: Request, what: str, media_type: str) -> Response:
    body, etag = _body(what)
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


@router.get("/i18n/catalogue.js", include_in_schema=False)
async def catalogue_script(request: Request) -> Response:
    return _send(request, "catalogue.js", "text/javascript; charset=utf-8")


@router.get("/i18n/{lang}.json", tags=["tour"])
async def catalogue_json(lang: str, request: Request) -> Response:
    """Every text of the pages in `lang` ('nl' or 'en'), id -> text (a list of forms for a plural)."""
    if lang not in i18n.LANGS:
        raise HTTPException(404, i18n.text("en", "api.no_language", lang=lang))
    return _send(request, f"{lang}.json", "application/json")
