"""The central dashboard's texts are the catalogues' `central.*` ids: every `{{key}}` in its pages,
every `t("key")` in its scripts and every key its Python says exists, in both languages (the
catalogue test keeps the two languages' ids equal)."""

from __future__ import annotations

import re
from pathlib import Path

from controller import i18n

ROOT = Path(__file__).resolve().parents[2]
CENTRAL = ROOT / "central"
FILLED_BY_THE_SERVER = {"data", "lang_code", "lang_other_code", "why"}


def _missing(keys: set[str]) -> list[str]:
    cat = i18n.catalogue("nl")
    return sorted(k for k in keys if f"central.{k}" not in cat and f"common.{k}" not in cat)


def test_every_key_of_the_pages_is_in_the_catalogue() -> None:
    keys = {k for p in (CENTRAL / "pages").glob("*.html")
            for k in re.findall(r"\{\{(\w+)\}\}", p.read_text(encoding="utf-8"))}
    assert len(keys) > 60
    assert _missing(keys - FILLED_BY_THE_SERVER) == []


def test_every_key_of_the_scripts_is_in_the_catalogue() -> None:
    keys: set[str] = set()
    for path in (CENTRAL / "static").glob("*.js"):
        src = path.read_text(encoding="utf-8")
        assert 'Huis.scope("central")' in src, path.name
        keys |= set(re.findall(r'\bt(?:\.n)?\("(\w+)"(?!\s*\+)', src))  # not "role_" + role
        # Keys picked by a condition: t(x ? "a" : "b").
        keys |= {k for pair in re.findall(r'\bt\([^()"]*\? "(\w+)" : "(\w+)"', src) for k in pair}
    assert len(keys) > 60
    assert _missing(keys) == []


def test_every_key_the_server_says_is_in_the_catalogue() -> None:
    keys: set[str] = set()
    for path in CENTRAL.glob("*.py"):
        src = path.read_text(encoding="utf-8")
        keys |= set(re.findall(r'\b(?:refuse\(request, \d+|say\((?:lang|lang_of\(request\))),\s*"(\w+)"(?!\s*\+)', src))
        keys |= {k.removeprefix("central.") for k in re.findall(r'AccountError\("(central\.\w+)"', src)}
    assert {"err_login", "err_role", "err_no_home", "err_team"} <= keys
    assert _missing(keys) == []
    named = {k for p in CENTRAL.glob("*.py") for k in re.findall(r'AccountError\("(auth\.\w+)"', p.read_text())}
    assert named and all(k in i18n.catalogue("en") for k in named)


def test_the_old_table_is_gone() -> None:
    assert not (CENTRAL / "texts.py").exists()
