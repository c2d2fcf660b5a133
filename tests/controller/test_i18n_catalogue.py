"""The catalogues (controller/locale/<lang>/LC_MESSAGES/huis.po): the same ids in both languages,
nothing left empty, the same placeholders, and every id the code and the pages name exists."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

from controller import i18n

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "dashboard" / "static"
# A translation may leave out what its language does not say ("{name} gaat erheen." names no resident).
PLACEHOLDERS_MAY_DIFFER = {"alert.going"}


def _read(lang: i18n.Lang) -> dict[str, object]:
    with i18n.po_path(lang).open("rb") as f:
        catalog = read_po(f, locale=lang)
    return {str(m.id[0] if isinstance(m.id, tuple) else m.id): m.string for m in catalog if m.id}


def _holes(text: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", text))


def test_both_catalogues_have_the_same_ids_and_no_empty_translation() -> None:
    nl, en = _read("nl"), _read("en")
    assert sorted(set(nl) ^ set(en)) == []
    empty = [f"{lang}: {k}" for lang, cat in (("nl", nl), ("en", en)) for k, v in cat.items()
             if not v or (isinstance(v, tuple) and not all(v))]
    assert empty == []
    plural_mismatch = [k for k in nl if isinstance(nl[k], tuple) != isinstance(en[k], tuple)]
    assert plural_mismatch == []
    assert len(nl) > 500  # the pages', the tour's, the alerts' and the API's texts


def test_a_text_has_the_same_placeholders_in_both_languages() -> None:
    nl, en = i18n.catalogue("nl"), i18n.catalogue("en")
    differ = []
    for k in nl:
        a, b = nl[k], en[k]
        forms_a = a if isinstance(a, list) else [a]
        forms_b = b if isinstance(b, list) else [b]
        holes_a = set().union(*map(_holes, forms_a)) - {"n"}
        holes_b = set().union(*map(_holes, forms_b)) - {"n"}
        if holes_a != holes_b and k not in PLACEHOLDERS_MAY_DIFFER:
            differ.append(f"{k}: {sorted(holes_a)} / {sorted(holes_b)}")
    assert differ == []


def test_texts_come_from_gettext_with_plural_forms() -> None:
    assert i18n.text("nl", "alert.button.ack") == "Ik ga erheen"
    assert i18n.text("en", "alert.button.ack") == "I'm on my way"
    assert i18n.text("en-GB", "alert.title.urgent", resident="Mevrouw Jansen") == "Urgent: Mevrouw Jansen"
    assert i18n.ntext("nl", "tech.check_found", 1) == "1 probleem in de bestanden."
    assert i18n.ntext("nl", "tech.check_found", 2) == "2 problemen in de bestanden."
    assert i18n.ntext("en", "tech.check_found", 2) == "2 problems in the files."
    assert i18n.ntext("en", "device.doses_left", 1) == "1 dose left"
    # A missing id shows itself (and the tests below keep that from happening).
    assert i18n.text("nl", "no.such.id") == "no.such.id"


def _python_ids() -> set[str]:
    """Ids written out in full in Python (f-strings build the rest from a fixed prefix)."""
    found: set[str] = set()
    for path in [*ROOT.glob("controller/**/*.py"), *ROOT.glob("dashboard/*.py")]:
        src = path.read_text(encoding="utf-8")
        calls = r"""(?:\bi18n\.(?:n?text|n?both)|\b_say|\bRefusal|\bAuthError)\((?:[^()"']*?,\s*)?"([a-z_]+\.[\w.]+)"""
        found |= set(re.findall(calls, src))
    return found


def _page_ids() -> set[str]:
    found: set[str] = set()
    for path in STATIC.glob("*.html"):
        found |= set(re.findall(r'data-i18n(?:-label|-placeholder|-alt)?="([\w.]+)"', path.read_text(encoding="utf-8")))
    return found


def _script_ids() -> set[str]:
    """`tX("key")` in each page script, resolved through the scopes it declares, as the page does."""
    cat = i18n.catalogue("nl")
    missing: set[str] = set()
    for path in STATIC.glob("*.js"):
        src = path.read_text(encoding="utf-8")
        for name, args in re.findall(r'const (t\w+) = Huis\.scope\(([^)]*)\)', src):
            scopes = [*re.findall(r'"(\w+)"', args), "common"]
            for key in re.findall(rf'\b{name}(?:\.n)?\("(\w+)"(?!\s*\+)', src):  # not "l_" + kind
                if not any(f"{s}.{key}" in cat for s in scopes):
                    missing.add(f"{path.name}: {key}")
    return missing


def test_every_id_the_code_and_the_pages_name_exists() -> None:
    cat = i18n.catalogue("nl")
    named = _python_ids() | _page_ids()
    assert len(named) > 100
    assert sorted(k for k in named if k not in cat) == []
    assert sorted(_script_ids()) == []
