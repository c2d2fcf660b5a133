"""The wire format both sides import (controller/uplink_wire.py): building, parsing, signing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from controller.alerts.model import Alert
from controller.errors import PayloadError
from controller.uplink_wire import (
    AlertMessage,
    CommandRefused,
    check_command,
    command_topic,
    encode,
    envelope,
    make_command,
    parse_up,
    sign,
    up_subject,
    wire_alert,
)

KEY = bytes(range(32))
NOW = datetime(2026, 12, 3, 2, 14, 7, tzinfo=UTC)


def _alert(**kw: object) -> Alert:
    base: dict[str, object] = dict(id="a-1", key="night_exit", scenario="night_exit", severity="urgent",
                                   message="Oma Jans is 's nachts naar buiten gegaan", resident="Oma Jans",
                                   policy="urgent", state="acknowledged", cause="door", raised_at=NOW,
                                   updated_at=NOW + timedelta(minutes=1), acknowledged_by="anna",
                                   acknowledged_via="page", acknowledged_at=NOW + timedelta(minutes=1))
    base.update(kw)
    return Alert(**base)  # type: ignore[arg-type]


def test_an_alert_leaves_the_home_without_the_residents_words() -> None:
    doc = {**envelope(home="zwolle-0042", kind="alert", at=NOW, pseudonym="bewoner-7"), "action": "acknowledged",
           "alert": wire_alert(_alert(), title="Nachtelijk verlaten van de woning")}
    raw = encode(doc)
    assert b"Oma Jans" not in raw and b"message" not in raw
    msg = parse_up(up_subject("zwolle-0042", "alert"), raw)
    assert isinstance(msg, AlertMessage)
    assert msg.alert.acknowledged_by == "anna" and msg.alert.title == "Nachtelijk verlaten van de woning"
    assert msg.pseudonym == "bewoner-7"
    shared = wire_alert(_alert(), title="t", share_details=True)
    assert shared["message"] == "Oma Jans is 's nachts naar buiten gegaan"


def test_a_message_for_another_home_or_kind_than_its_subject_is_refused() -> None:
    raw = encode({**envelope(home="a", kind="heartbeat", at=NOW), "seq": 1})
    with pytest.raises(PayloadError, match="says home 'a'"):
        parse_up("homes.b.up.heartbeat", raw)
    with pytest.raises(PayloadError, match="kind 'heartbeat'"):
        parse_up("homes.a.up.alert", raw)
    with pytest.raises(ValueError, match="not a home id"):
        envelope(home="a.b", kind="heartbeat", at=NOW)


def test_a_signed_command_checks_and_tampering_or_age_is_refused() -> None:
    cmd = make_command(KEY, action="acknowledge", alert="a-1", by="marieke", at=NOW)
    assert cmd["by"] == "centre:marieke"
    assert check_command(KEY, json.dumps(cmd).encode(), now=NOW).alert == "a-1"
    forged = {**cmd, "alert": "a-2"}
    with pytest.raises(CommandRefused) as refused:
        check_command(KEY, json.dumps(forged).encode(), now=NOW)
    assert refused.value.reason == "bad_signature"
    with pytest.raises(CommandRefused) as refused:
        check_command(bytes(32), json.dumps(cmd).encode(), now=NOW)
    assert refused.value.reason == "bad_signature"
    with pytest.raises(CommandRefused) as refused:
        check_command(KEY, json.dumps(cmd).encode(), now=NOW + timedelta(hours=1, seconds=1))
    assert refused.value.reason == "too_old"
    with pytest.raises(CommandRefused) as refused:
        check_command(KEY, json.dumps(cmd).encode(), now=NOW - timedelta(hours=1))
    assert refused.value.reason == "from_future"


def test_the_signature_covers_the_canonical_json_of_the_document_as_sent() -> None:
    cmd = make_command(KEY, action="resolve", alert="a-1", by="centre:m", at=NOW, note="Gebeld, alles goed")
    body = {k: v for k, v in cmd.items() if k != "sig"}
    import hashlib
    import hmac
    expected = hmac.new(KEY, json.dumps(body, sort_keys=True, separators=(",", ":")).encode(),
                        hashlib.sha256).hexdigest()
    assert cmd["sig"] == expected == sign(KEY, cmd)
    # A field the centre adds later is signed too, and checked.
    extra = {**body, "team": "noord"}
    extra["sig"] = sign(KEY, extra)
    assert check_command(KEY, json.dumps(extra).encode(), now=NOW).alert == "a-1"


def test_a_resolve_without_note_or_not_from_the_centre_is_malformed() -> None:
    for doc in (make_command(KEY, action="resolve", alert="a-1", by="m", at=NOW),
                {**make_command(KEY, action="acknowledge", alert="a-1", by="m", at=NOW), "by": "anna"}):
        doc["sig"] = sign(KEY, doc)
        with pytest.raises(CommandRefused) as refused:
            check_command(KEY, json.dumps(doc).encode(), now=NOW)
        assert refused.value.reason == "malformed"
    assert command_topic("zwolle-0042") == "homes/zwolle-0042/down/command"
