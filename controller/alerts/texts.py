"""What people read about an alert, in Dutch and English: caregivers' phones, link pages, the tour.

The sentences are in the catalogues (ids `alert.*`, controller/i18n.py): one place, so the
notification a caregiver gets, the confirm page its link opens and the tour's narration say the
same thing in the same words.
"""

from __future__ import annotations

from datetime import timedelta

from controller import i18n
from controller.alerts.model import KIND_ACKNOWLEDGED, KIND_EXPIRED, KIND_RESOLVED, Alert
from controller.events import AlertAction

Lang = i18n.Lang
LANGS: tuple[Lang, ...] = i18n.LANGS

# The tour's sentence per alert change (ids alert.action.*): never who was paged or who answered.
_ACTIONS = {AlertAction.RAISED: "raised", AlertAction.ESCALATED: "escalated",
            AlertAction.ACKNOWLEDGED: "acknowledged", AlertAction.RESOLVED: "resolved",
            AlertAction.CANCELLED: "cancelled", AlertAction.REPEATED: "repeated"}
_TITLES = {"urgent": "urgent", "warning": "warning", "info": "info", KIND_ACKNOWLEDGED: "acknowledged",
           KIND_RESOLVED: "resolved", KIND_EXPIRED: "expired"}

# The note an alert the policy closed keeps (the audit log's wording, Dutch like the log).
AUTO_RESOLVE_NOTE = "automatisch afgesloten"


def lang_of(language: str | None) -> Lang:
    """A supported language: English when asked for, Dutch otherwise."""
    return i18n.lang_of(language)


def title(lang: Lang, what: str, resident: str) -> str:
    """A notification's title: the severity (or follow-up kind) and whom it is about."""
    return i18n.text(lang, f"alert.title.{_TITLES.get(what, 'info')}", resident=resident)


def ack_label(lang: Lang) -> str:
    """The button on the phone and on the link's confirm page."""
    return i18n.text(lang, "alert.button.ack")


def view_label(lang: Lang) -> str:
    """The phone's second button, opening the alert."""
    return i18n.text(lang, "alert.button.view")


def state_name(lang: Lang, state: str) -> str:
    """An alert's state as the link pages name it."""
    return i18n.text(lang, f"alert.state.{state}")


def alert_message(alert: Alert, lang: Lang) -> str:
    """The alert's message in `lang` (scenarios may give an English one as `message_en`).

    A later occurrence of a key whose earlier alert is still active reads "Opnieuw: ...".
    """
    message = alert.message
    if lang == "en" and alert.data.get("message_en"):
        message = str(alert.data["message_en"])
    return again(lang, message) if alert.previous_id else message


def again(lang: Lang, message: str) -> str:
    """`message` told as a later occurrence of an alert still open."""
    return i18n.text(lang, "alert.again", message=message)


def repeated(lang: Lang, alert: Alert, times: int) -> str:
    """Told again to those paged when an acknowledged alert's key is raised once more."""
    return i18n.ntext(lang, "alert.repeated", times, message=alert_message(alert, lang))


def expired(lang: Lang, after: timedelta) -> str:
    """Told to those paged when an alert nobody resolved closes by the expiry rule."""
    hours = after.total_seconds() / 3600
    return i18n.text(lang, "alert.expired", hours=f"{hours:g}")


def expired_note(after: timedelta) -> str:
    """The note an expired alert keeps (the audit log's wording)."""
    return f"verlopen: {after.total_seconds() / 3600:g} uur geen activiteit en niet afgehandeld"


def with_link(lang: Lang, message: str, url: str) -> str:
    """A message with its acknowledgement link spelled out, for channels without buttons."""
    return i18n.text(lang, "alert.with_link", message=message, url=url)


def going(lang: Lang, name: str, resident: str) -> str:
    """Told to the others paged when `name` acknowledges."""
    return i18n.text(lang, "alert.going", name=name, resident=resident)


def resolved(lang: Lang, name: str, note: str) -> str:
    """Told to those paged when a caregiver closes the alert with a note."""
    return i18n.text(lang, "alert.resolved", name=name, note=note)


def cancelled(lang: Lang, reason: str) -> str:
    """Told to those paged when the alert is withdrawn."""
    return i18n.text(lang, "alert.cancelled", reason=reason)


def auto_resolved(lang: Lang) -> str:
    """Told to those paged when the policy closes the alert by itself."""
    return i18n.text(lang, "alert.auto_resolved")


def phone_check_messages(name: str) -> dict[Lang, str]:
    """The message of a test alert to caregiver `name`."""
    return {lang: i18n.text(lang, "alert.phone_check", name=name) for lang in LANGS}


def narration(action: str, message: str, message_en: str = "") -> dict[str, str] | None:
    """The tour's sentence for an alert change, or None for changes a visitor is not told."""
    try:
        what = _ACTIONS[AlertAction(action)]
    except (ValueError, KeyError):
        return None
    # Only the raise carries the message; later steps would repeat it.
    if action == AlertAction.RAISED and message:
        return {"nl": i18n.text("nl", "alert.action.raised_with", message=message),
                "en": i18n.text("en", "alert.action.raised_with", message=message_en or message)}
    return i18n.both(f"alert.action.{what}")
