"""Every text a person reads, from one gettext catalogue per language (controller/locale/).

The catalogues are PO files, read with Babel when first asked for and turned into gettext
translations in memory, so there is no compile step to forget: an edited `huis.po` is what the
next start shows. Message ids are stable, readable keys (`alert.title.urgent`,
`tour.waiting`), not source sentences: Dutch is the default and English is complete, neither is
the "source". Placeholders are `{name}`, filled with `str.format` from keyword arguments.

Both the kernel (alert texts sent to caregivers) and the dashboard (pages, the tour) use this
module; the pages' JavaScript gets the same catalogues as JSON (`catalogue()`).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # Babel is imported with the first catalogue read (a hub may never need one)
    from babel.support import Translations

Lang = Literal["nl", "en"]
LANGS: tuple[Lang, ...] = ("nl", "en")
DEFAULT: Lang = "nl"
DOMAIN = "huis"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"


class _Missing(dict[str, object]):
    """Leaves an unknown placeholder as it is ("{n}") instead of raising KeyError."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def lang_of(language: str | None) -> Lang:
    """A supported language: English when asked for ('en', 'en-GB'), Dutch otherwise."""
    return "en" if language is not None and language.lower().startswith("en") else "nl"


def po_path(lang: Lang) -> Path:
    """Where the catalogue of `lang` lives."""
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def _translations(lang: Lang) -> Translations:
    # read_po + write_mo in memory: the gettext machinery (and its plural rules) without a
    # compiled file on disk that could be stale.
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

    with po_path(lang).open("rb") as f:
        catalog = read_po(f, locale=lang, domain=DOMAIN)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf, domain=DOMAIN)


def _fill(template: str, values: Mapping[str, object]) -> str:
    return template.format_map(_Missing(values)) if values else template


def text(lang: str, msgid: str, /, **values: object) -> str:
    """The text `msgid` in `lang`, placeholders filled; the id itself when it is missing (a
    test keeps both catalogues complete, so a visible id is a bug that shows)."""
    return _fill(_translations(lang_of(lang)).gettext(msgid), values)


def ntext(lang: str, msgid: str, n: int, /, **values: object) -> str:
    """The singular or plural form of `msgid` for the count `n` (also given as `{n}`)."""
    return _fill(_translations(lang_of(lang)).ngettext(msgid, msgid, n), {"n": n, **values})


def both(msgid: str, /, **values: object) -> dict[str, str]:
    """The text in every language, for what is sent once and shown in the reader's language."""
    return {lang: text(lang, msgid, **values) for lang in LANGS}


def nboth(msgid: str, n: int, /, **values: object) -> dict[str, str]:
    """`both` for a counted text."""
    return {lang: ntext(lang, msgid, n, **values) for lang in LANGS}


@cache
def catalogue(lang: Lang) -> dict[str, str | list[str]]:
    """Every message of `lang` as id -> text (a list of forms for a plural), for the pages."""
    from babel.messages.pofile import read_po

    with po_path(lang).open("rb") as f:
        catalog = read_po(f, locale=lang, domain=DOMAIN)
    out: dict[str, str | list[str]] = {}
    for message in catalog:
        if not message.id:
            continue  # the header
        key = message.id[0] if isinstance(message.id, tuple) else message.id
        string = message.string
        out[str(key)] = list(string) if isinstance(string, tuple) else str(string)
    return out
