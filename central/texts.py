"""Every text the central dashboard shows, one table per language (Dutch first, the default).

One place, so the texts can move to the gettext catalogues the home dashboard is moving to
without hunting through pages and scripts: the pages take `{{key}}` from here (app.py renders
them) and their script gets the same table as JSON. A page is in one language only: a key
missing from a table is a test failure (tests/central/test_view.py), not a fallback to the other.
"""

from __future__ import annotations

from typing import Final

LANGUAGES: Final = ("nl", "en")
DEFAULT: Final = "nl"

NL: Final[dict[str, str]] = {
    "lang_code": "nl", "lang_name": "Nederlands", "lang_other": "English", "lang_other_code": "en",
    "app_title": "Zorgcentrale", "app_subtitle": "Alle woningen van uw team",
    "skip_alerts": "Naar de open meldingen", "logout": "Uitloggen",
    "login_title": "Inloggen bij de zorgcentrale",
    "login_intro": "Voor medewerkers van de zorgcentrale. Uw account maakt de beheerder aan.",
    "username": "Gebruikersnaam", "password": "Wachtwoord", "login": "Inloggen",
    "login_wrong": "Verkeerde gebruikersnaam of wachtwoord.",
    "login_blocked": "Te veel mislukte pogingen: wacht een paar minuten en probeer het dan opnieuw.",
    "forbidden_title": "Geen toegang", "forbidden_text": "Log in met uw account van de zorgcentrale.",
    "to_login": "Naar inloggen",
    # The live state of the page.
    "status_live": "Live · bijgewerkt {time}", "status_connecting": "Verbinden…",
    "status_offline": "Geen verbinding met de centrale sinds {time}; opnieuw proberen…",
    "status_logged_out": "Uw sessie is verlopen. Log opnieuw in.",
    # Who is looking.
    "role_caregiver": "zorgverlener", "role_coordinator": "coördinator", "role_admin": "beheerder",
    "teams_all": "alle teams", "teams_of": "team {teams}", "who": "{name} · {role} · {teams}",
    # The summary strip.
    "sum_open": "open meldingen", "sum_waiting": "nog niemand onderweg", "sum_silent": "hubs stil",
    "sum_trouble": "woningen met apparaatproblemen", "sum_homes": "woningen",
    # Open alerts.
    "alerts_title": "Open meldingen", "alerts_order": "Eerst wie nog niemand heeft, dan de ernst, dan het langst open.",
    "no_alerts": "Geen open meldingen. Alles is rustig.",
    "sev_urgent": "Urgent", "sev_warning": "Waarschuwing", "sev_info": "Informatie",
    "age_s": "{n} s", "age_m": "{n} min", "age_h": "{h} u {m} min", "age_d": "{d} d {h} u",
    "open_for": "open", "raised_at": "gemeld om {time}",
    "nobody_going": "Nog niemand gaat erheen",
    "going": "{who} gaat erheen", "going_at": "sinds {time}",
    "who_centre": "{name} (centrale)", "who_home": "{name} (thuis)",
    "pending_ack": "Ik ga erheen verstuurd door {who} om {time}; wacht op bevestiging van de hub",
    "pending_resolve": "Afhandelen verstuurd door {who} om {time}; wacht op bevestiging van de hub",
    "hub_silent_alert": "De hub van deze woning is stil: een opdracht komt pas aan als de verbinding terug is. "
                        "Bel of ga zo nodig zonder bevestiging.",
    "unknown_at_home": "Ontbreekt in het laatste overzicht van de hub: controleer of de melding nog loopt.",
    "repeats": "{n}× opnieuw gemeld", "occurrence": "{n}e keer",
    "go": "Ik ga erheen", "resolve": "Afhandelen", "timeline": "Tijdlijn",
    "resolve_note": "Wat is er gebeurd? (notitie, gaat naar de hub)",
    "resolve_confirm": "Afhandelen met deze notitie", "cancel": "Annuleren",
    "note_needed": "Schrijf een korte notitie.",
    "sent_ack": "Verstuurd naar de hub. Zodra die bevestigt, staat u hier als wie erheen gaat.",
    "sent_resolve": "Verstuurd naar de hub. Zodra die bevestigt, verdwijnt de melding.",
    "failed": "Dat lukte niet: {msg}",
    # Homes.
    "homes_title": "Woningen", "homes_order": "Eerst stille hubs en woningen met meldingen of problemen.",
    "home_ok": "In orde", "home_silent": "Hub stil sinds {age}", "home_never": "Hub nog nooit gehoord",
    "home_alerts": "{n} open", "home_trouble": "{n} apparaat met problemen",
    "home_trouble_n": "{n} apparaten met problemen",
    "last_heard": "laatst gehoord {time}", "team": "team {team}",
    "presence_home": "thuis", "presence_away": "weg", "presence_unknown": "aanwezigheid onbekend",
    "mode_day": "dag", "mode_night": "nacht", "mode_evening": "avond", "mode_morning": "ochtend",
    "health_offline": "niet bereikbaar", "health_battery_low": "batterij bijna leeg",
    "health_online": "weer bereikbaar",
    "no_homes": "Er zijn (nog) geen woningen voor uw team.",
    # A home's timeline.
    "timeline_title": "Tijdlijn van {home}", "timeline_span": "Laatste 24 uur, nieuwste boven.",
    "timeline_empty": "Niets gebeurd in de laatste 24 uur.", "close": "Sluiten",
    "ev_raised": "Melding: {title}", "ev_delivering": "Wordt verstuurd: {title}",
    "ev_shown": "Getoond op de pagina: {title}", "ev_delivered": "Afgeleverd op een telefoon: {title}",
    "ev_escalated": "Opgeschaald: {title}", "ev_repeat": "Opnieuw gemeld: {title}",
    "ev_acknowledged": "{who} gaat erheen: {title}", "ev_resolved": "Afgehandeld: {title}",
    "ev_cancelled": "Ingetrokken: {title}", "ev_alert": "{title}: {action}",
    "ev_house": "Aanwezigheid {presence}, modus {mode}", "ev_device": "{device}: {health}",
    "ev_snapshot": "Overzicht van de hub: {n} actieve meldingen",
    "ev_command_acknowledge": "{who}: Ik ga erheen verstuurd", "ev_command_resolve": "{who}: afhandelen verstuurd",
    "ev_command_failed": "{who}: opdracht niet verstuurd ({outcome})",
    # Errors the API says (in the page's language).
    "err_csrf": "De pagina is verlopen: vernieuw de pagina en probeer het opnieuw.",
    "err_login": "Log in met uw account van de zorgcentrale.",
    "err_role": "Dit mag uw account niet.",
    "err_no_alert": "Deze melding bestaat niet of is niet van uw team.",
    "err_no_home": "Deze woning bestaat niet of is niet van uw team.",
    "err_closed": "Deze melding is al afgehandeld.",
    "err_command": "Geen knooppunt van de centrale nam de opdracht aan; probeer het zo opnieuw.",
    "err_refused": "De centrale weigerde deze opdracht; de beheerder ziet in het auditlog waarom.",
    "err_already": "{who} gaat al; de hub heeft het bevestigd.",
    "err_no_path": "Opdrachten naar de woningen zijn (nog) niet ingesteld bij deze centrale.",
    # Neutral alert titles by scenario (the home's own title is Dutch; these are used on English
    # pages, and on Dutch ones when a home sent none).
    "title_night_exit": "Nachtelijk uit bed", "title_inactivity": "Langere tijd geen activiteit",
    "title_sos": "Noodknop ingedrukt", "title_wander": "Van huis zonder begeleiding",
    "title_medication": "Medicatie niet ingenomen", "title_day_structure": "Dagstructuur verstoord",
    "title_device_health": "Apparaat vraagt aandacht", "title_other": "Melding ({scenario})",
}

EN: Final[dict[str, str]] = {
    "lang_code": "en", "lang_name": "English", "lang_other": "Nederlands", "lang_other_code": "nl",
    "app_title": "Care centre", "app_subtitle": "Every home of your team",
    "skip_alerts": "Skip to open alerts", "logout": "Log out",
    "login_title": "Log in to the care centre",
    "login_intro": "For the care centre's staff. Your account is made by the administrator.",
    "username": "User name", "password": "Password", "login": "Log in",
    "login_wrong": "Wrong user name or password.",
    "login_blocked": "Too many failed attempts: wait a few minutes, then try again.",
    "forbidden_title": "No access", "forbidden_text": "Log in with your care centre account.",
    "to_login": "Go to log in",
    "status_live": "Live · updated {time}", "status_connecting": "Connecting…",
    "status_offline": "No connection to the centre since {time}; retrying…",
    "status_logged_out": "Your session has ended. Please log in again.",
    "role_caregiver": "caregiver", "role_coordinator": "coordinator", "role_admin": "administrator",
    "teams_all": "all teams", "teams_of": "team {teams}", "who": "{name} · {role} · {teams}",
    "sum_open": "open alerts", "sum_waiting": "nobody on the way yet", "sum_silent": "hubs silent",
    "sum_trouble": "homes with device trouble", "sum_homes": "homes",
    "alerts_title": "Open alerts", "alerts_order": "Those nobody has taken first, then severity, then longest open.",
    "no_alerts": "No open alerts. All is quiet.",
    "sev_urgent": "Urgent", "sev_warning": "Warning", "sev_info": "Information",
    "age_s": "{n} s", "age_m": "{n} min", "age_h": "{h} h {m} min", "age_d": "{d} d {h} h",
    "open_for": "open", "raised_at": "raised at {time}",
    "nobody_going": "Nobody is on the way yet",
    "going": "{who} is on the way", "going_at": "since {time}",
    "who_centre": "{name} (centre)", "who_home": "{name} (home)",
    "pending_ack": "\u201cI'm on my way\u201d sent by {who} at {time}; waiting for the hub to confirm",
    "pending_resolve": "Resolve sent by {who} at {time}; waiting for the hub to confirm",
    "hub_silent_alert": "This home's hub is silent: a command arrives only once the link is back. "
                        "Call or go without waiting for a confirmation if needed.",
    "unknown_at_home": "Missing from the hub's latest snapshot: check whether the alert is still on.",
    "repeats": "raised again {n}×", "occurrence": "occurrence {n}",
    "go": "I'm on my way", "resolve": "Resolve", "timeline": "Timeline",
    "resolve_note": "What happened? (note, sent to the hub)",
    "resolve_confirm": "Resolve with this note", "cancel": "Cancel",
    "note_needed": "Write a short note.",
    "sent_ack": "Sent to the hub. Once it confirms, you are shown here as the one on the way.",
    "sent_resolve": "Sent to the hub. Once it confirms, the alert goes away.",
    "failed": "That did not work: {msg}",
    "homes_title": "Homes", "homes_order": "Silent hubs first, then homes with alerts or trouble.",
    "home_ok": "All well", "home_silent": "Hub silent for {age}", "home_never": "Hub never heard",
    "home_alerts": "{n} open", "home_trouble": "{n} device in trouble", "home_trouble_n": "{n} devices in trouble",
    "last_heard": "last heard {time}", "team": "team {team}",
    "presence_home": "home", "presence_away": "away", "presence_unknown": "presence unknown",
    "mode_day": "day", "mode_night": "night", "mode_evening": "evening", "mode_morning": "morning",
    "health_offline": "unreachable", "health_battery_low": "battery low", "health_online": "reachable again",
    "no_homes": "There are no homes for your team (yet).",
    "timeline_title": "Timeline of {home}", "timeline_span": "Last 24 hours, newest first.",
    "timeline_empty": "Nothing happened in the last 24 hours.", "close": "Close",
    "ev_raised": "Alert: {title}", "ev_delivering": "Being sent: {title}",
    "ev_shown": "Shown on the page: {title}", "ev_delivered": "Delivered to a phone: {title}",
    "ev_escalated": "Escalated: {title}", "ev_repeat": "Raised again: {title}",
    "ev_acknowledged": "{who} is on the way: {title}", "ev_resolved": "Resolved: {title}",
    "ev_cancelled": "Withdrawn: {title}", "ev_alert": "{title}: {action}",
    "ev_house": "Presence {presence}, mode {mode}", "ev_device": "{device}: {health}",
    "ev_snapshot": "The hub's snapshot: {n} active alerts",
    "ev_command_acknowledge": "{who}: \u201cI'm on my way\u201d sent", "ev_command_resolve": "{who}: resolve sent",
    "ev_command_failed": "{who}: command not sent ({outcome})",
    "err_csrf": "The page has expired: reload it and try again.",
    "err_login": "Log in with your care centre account.",
    "err_role": "Your account may not do this.",
    "err_no_alert": "This alert does not exist or is not your team's.",
    "err_no_home": "This home does not exist or is not your team's.",
    "err_closed": "This alert is already closed.",
    "err_command": "No node of the centre took the command; try again in a moment.",
    "err_refused": "The centre refused this command; the administrator sees why in the audit log.",
    "err_already": "{who} is already going; the hub has confirmed it.",
    "err_no_path": "Commands to the homes are not set up at this centre (yet).",
    "title_night_exit": "Out of bed at night", "title_inactivity": "No activity for a long time",
    "title_sos": "Emergency button pressed", "title_wander": "Left home unaccompanied",
    "title_medication": "Medication not taken", "title_day_structure": "Day structure disturbed",
    "title_device_health": "A device needs attention", "title_other": "Alert ({scenario})",
}

TABLES: Final[dict[str, dict[str, str]]] = {"nl": NL, "en": EN}


def table(lang: str) -> dict[str, str]:
    """The texts of `lang` (Dutch for anything else)."""
    return TABLES.get(lang, NL)


def text(lang: str, key: str, **values: object) -> str:
    """One text in `lang` with `{name}` filled in."""
    s = table(lang)[key]
    for name, value in values.items():
        s = s.replace("{" + name + "}", str(value))
    return s


def alert_title(lang: str, scenario: str, home_title: str | None) -> str:
    """The neutral title to show: the home's own (Dutch) on a Dutch page, the table's otherwise."""
    if lang == "nl" and home_title:
        return home_title
    key = f"title_{scenario}"
    return text(lang, key) if key in table(lang) else text(lang, "title_other", scenario=scenario)
