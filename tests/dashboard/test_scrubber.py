"""The visitor scrubber (issue 9, item 6): e-mail addresses, dotted and spaced phone numbers, and
caregiver names of any length never reach a visitor; ordinary text survives."""

from __future__ import annotations

from controller.config import HomeConfig
from dashboard.narrate import Scrubber


def test_e_mail_addresses_and_numbers_in_any_notation_are_blanked(demo_config: HomeConfig) -> None:
    s = Scrubber(demo_config)
    assert s.text("Mail piet.jansen+zorg@example.nl of bel 06.12.34.56.78") == "Mail [e-mail] of bel [nummer]"
    assert s.text("Bel 06 12 34 56 78, +31 6 1234 5678 of 0031-6-12345678.") == \
        "Bel [nummer], [nummer] of [nummer]."
    # Dates, times and short numbers are not phone numbers.
    assert s.text("Op 05.01.2026 om 23:10, 3 keer, kamer 12.") == "Op 05.01.2026 om 23:10, 3 keer, kamer 12."


def test_names_of_any_length_are_replaced(demo_config: HomeConfig) -> None:
    cfg = demo_config.model_copy(deep=True)
    cfg.caregivers["jo"] = cfg.caregivers["anna"].model_copy(update={"name": "Jo", "relation": "kleinzoon"})
    cfg.caregivers["b"] = cfg.caregivers["anna"].model_copy(update={"name": "Bo Li", "relation": "buurman"})
    s = Scrubber(cfg)
    assert s.text("Jo gaat erheen, Bo Li belt, Anna weet het.") == \
        "kleinzoon gaat erheen, buurman belt, dochter weet het."
    # A two-letter name is matched with its capital only: "jo" in other words or lower case stays.
    assert s.text("jojo, Jonas en jo") == "jojo, Jonas en jo"


def test_the_stand_ins_are_in_the_readers_language(demo_config: HomeConfig) -> None:
    # The config's relation ("dochter") is Dutch: an English page says "a caregiver" instead.
    s = Scrubber(demo_config)
    assert s.text("Anna is on the way; call 06 12 34 56 78 or anna@example.nl", "en") == \
        "a caregiver is on the way; call [number] or [e-mail]"
    assert s.text("Anna gaat erheen; bel 06 12 34 56 78", "nl") == "dochter gaat erheen; bel [nummer]"
    # A {nl, en} pair inside a message is scrubbed per language.
    assert s.deep({"text": {"nl": "Bel Anna", "en": "Call Anna"}, "n": 3}) == \
        {"text": {"nl": "Bel dochter", "en": "Call a caregiver"}, "n": 3}
