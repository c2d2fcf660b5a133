"""What people read about an alert, in Dutch and English: caregivers' phones, link pages, the tour.

One place for every sentence, so the notification a caregiver gets, the confirm page its link
opens and the tour's narration say the same thing in the same words.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from controller.alerts.model import KIND_ACKNOWLEDGED, KIND_EXPIRED, KIND_RESOLVED, Alert
from controller.events import AlertAction

Lang = Literal["nl", "en"]
LANGS: tuple[Lang, ...] = ("nl", "en")

# Notification titles, by severity (the alert itself) or by follow-up kind.
TITLES: dict[Lang, dict[str, str]] = {
    "nl": {"urgent": "Dringend", "warning": "Let op", "info": "Bericht",
           KIND_ACKNOWLEDGED: "Iemand gaat erheen", KIND_RESOLVED: "Afgehandeld",
           KIND_EXPIRED: "Verlopen"},
    "en": {"urgent": "Urgent", "warning": "Attention", "info": "Notice",
           KIND_ACKNOWLEDGED: "Someone is on the way", KIND_RESOLVED: "Resolved",
           KIND_EXPIRED: "Expired"},
}

# The button on the phone and on the link's confirm page.
ACK_LABEL: dict[Lang, str] = {"nl": "Ik ga erheen", "en": "I'm on my way"}
VIEW_LABEL: dict[Lang, str] = {"nl": "Bekijk", "en": "View"}

# An alert's state as the link pages name it.
STATE_NAMES: dict[Lang, dict[str, str]] = {
    "nl": {"raised": "nieuw", "delivering": "wordt verstuurd", "shown": "alleen op de pagina getoond",
           "delivered": "op een telefoon afgeleverd",
           "acknowledged": "iemand gaat erheen", "resolved": "afgehandeld", "cancelled": "ingetrokken"},
    "en": {"raised": "new", "delivering": "being sent", "shown": "shown on the page only",
           "delivered": "delivered to a phone",
           "acknowledged": "someone is on the way", "resolved": "resolved", "cancelled": "withdrawn"},
}

# A later occurrence of a key that was still active ("opnieuw"), before its message.
AGAIN: dict[Lang, str] = {"nl": "Opnieuw", "en": "Again"}

# What the tour tells visitors about an alert's change: never who was paged or who answered.
ACTION_SENTENCES: dict[AlertAction, tuple[str, str]] = {
    AlertAction.RAISED: ("Melding aan de zorgverleners", "Alert to the caregivers"),
    # Each escalation step pages the next people on the list (the first step too).
    AlertAction.ESCALATED: ("Zorgverleners worden gewaarschuwd", "Caregivers are being alerted"),
    AlertAction.ACKNOWLEDGED: ("Een zorgverlener is onderweg", "A caregiver is on the way"),
    AlertAction.RESOLVED: ("De melding is afgehandeld", "The alert is resolved"),
    AlertAction.CANCELLED: ("De melding is ingetrokken", "The alert was withdrawn"),
    # A repeat of an open alert's key, counted or told again (docs/alerts.md, "Occurrences").
    AlertAction.REPEATED: ("Het gebeurde opnieuw", "It happened again"),
}

AUTO_RESOLVE_NOTE = "automatisch afgesloten"


def lang_of(language: str | None) -> Lang:
    """A supported language: English when asked for, Dutch otherwise."""
    return "en" if language == "en" else "nl"


def title(lang: Lang, what: str, resident: str) -> str:
    """A notification's title: the severity (or follow-up kind) and whom it is about."""
    return f"{TITLES[lang][what]}: {resident}"


def alert_message(alert: Alert, lang: Lang) -> str:
    """The alert's message in `lang` (scenarios may give an English one as `message_en`).

    A later occurrence of a key whose earlier alert is still active reads "Opnieuw: ...".
    """
    message = alert.message
    if lang == "en" and alert.data.get("message_en"):
        message = str(alert.data["message_en"])
    return f"{AGAIN[lang]}: {message}" if alert.previous_id else message


def repeated(lang: Lang, alert: Alert, times: int) -> str:
    """Told again to those paged when an acknowledged alert's key is raised once more."""
    message = alert_message(alert, lang)
    if lang == "en":
        return f"Again ({times} times in all): {message}"
    return f"Opnieuw ({times} keer in totaal): {message}"


def expired(lang: Lang, after: timedelta) -> str:
    """Told to those paged when an alert nobody resolved closes by the expiry rule."""
    hours = after.total_seconds() / 3600
    span = f"{hours:g} uur" if lang == "nl" else f"{hours:g} hours"
    if lang == "en":
        return f"Closed automatically: nothing happened for {span} and nobody resolved it."
    return f"Automatisch gesloten: {span} niets meer gebeurd en niet afgehandeld."


def expired_note(after: timedelta) -> str:
    """The note an expired alert keeps (the audit log's wording)."""
    return f"verlopen: {after.total_seconds() / 3600:g} uur geen activiteit en niet afgehandeld"


def with_link(lang: Lang, message: str, url: str) -> str:
    """A message with its acknowledgement link spelled out, for channels without buttons."""
    if lang == "en":
        return f"{message}\n\nOn your way? Confirm here: {url}"
    return f"{message}\n\nGaat u erheen? Bevestig hier: {url}"


def going(lang: Lang, name: str, resident: str) -> str:
    """Told to the others paged when `name` acknowledges."""
    return f"{name} is on the way to {resident}." if lang == "en" else f"{name} gaat erheen."


def resolved(lang: Lang, name: str, note: str) -> str:
    """Told to those paged when a caregiver closes the alert with a note."""
    return f"Resolved by {name}: {note}" if lang == "en" else f"Afgehandeld door {name}: {note}"


def cancelled(lang: Lang, reason: str) -> str:
    """Told to those paged when the alert is withdrawn."""
    return f"Alert withdrawn: {reason}" if lang == "en" else f"Melding ingetrokken: {reason}"


def auto_resolved(lang: Lang) -> str:
    """Told to those paged when the policy closes the alert by itself."""
    if lang == "en":
        return "Closed automatically: nothing more is needed."
    return "Automatisch afgesloten: er is niets meer nodig."


def phone_check_messages(name: str) -> dict[Lang, str]:
    """The message of a test alert to caregiver `name`."""
    return {
        "nl": f"Testmelding voor {name}: druk op 'Ik ga erheen' om te controleren dat alles werkt.",
        "en": f"Test alert for {name}: press 'I'm on my way' to check that everything works.",
    }


def narration(action: str, message: str) -> dict[str, str] | None:
    """The tour's sentence for an alert change, or None for changes a visitor is not told."""
    try:
        nl, en = ACTION_SENTENCES[AlertAction(action)]
    except (ValueError, KeyError):
        return None
    # Only the raise carries the message; later steps would repeat it.
    if action == AlertAction.RAISED:
        msg = f": {message}" if message else ""
        return {"nl": f"{nl}{msg}", "en": f"{en}{msg}"}
    return {"nl": f"{nl}.", "en": f"{en}."}
