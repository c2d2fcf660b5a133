"""An alert's transitions as pure functions (no clock, database or network), and the texts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from controller.alerts import lifecycle, occurrences, texts
from controller.alerts.escalation import step_due
from controller.alerts.model import Alert
from controller.alerts.policy import EscalationPolicy, PolicyStep
from controller.events import AlertAction
from tests.alerts.conftest import Harness, ctx

T0 = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
POLICY = EscalationPolicy(name="p", steps=(PolicyStep(after=timedelta(0), notify=("piet", "ghost")),
                                           PolicyStep(after=timedelta(minutes=3), notify=("anna",))),
                          repeat_every=timedelta(minutes=10))
CAREGIVERS = {"piet", "anna"}


def deadline(step: int) -> datetime | None:
    return step_due(POLICY, T0, step)  # no quiet hours here


def raised(data: dict[str, object] | None = None) -> lifecycle.Transition:
    return lifecycle.raised(alert_id="al-1", key="night.bed", scenario="night", severity="urgent",
                            message="Uit bed.", resident="Mevrouw Jansen", context=ctx(), data=data or {},
                            policy=POLICY, now=T0, caregivers=CAREGIVERS, deadline=deadline)


def test_a_first_step_due_at_once_is_run_in_the_raise() -> None:
    t = raised()
    assert (t.alert.state, t.alert.step, t.alert.next_at) == ("delivering", 1, T0 + timedelta(minutes=3))
    assert [e.event for e in t.audit] == ["raised", "delivering", "escalated"]
    assert t.audit[0].user == "rule:night_out_of_bed"
    assert [d.recipient for d in t.deliveries] == ["piet"]  # not a caregiver of this home: skipped


def test_a_technician_notice_is_held_and_never_escalates() -> None:
    t = raised({"audience": "technician"})
    assert (t.alert.state, t.alert.next_at, t.deliveries) == ("raised", None, ())
    assert [e.event for e in t.audit] == ["raised", "held"]
    assert lifecycle.next_wake(t.alert, POLICY) is None


def test_overdue_repeats_collapse_into_one_step() -> None:
    alert = raised().alert
    second = lifecycle.stepped(alert, POLICY, T0 + timedelta(minutes=3), caregivers=CAREGIVERS,
                               deadline=deadline).alert
    late = lifecycle.stepped(second, POLICY, T0 + timedelta(hours=1), caregivers=CAREGIVERS,
                             deadline=deadline)
    assert late.alert.step == 7  # repeats 3..6 were missed while down; one message, not four
    assert late.audit[-1].detail == "repeat: anna"


def test_delivered_acknowledged_and_closed() -> None:
    alert = raised().alert
    now = T0 + timedelta(seconds=5)
    delivered = lifecycle.delivered(alert, now)
    assert delivered is not None and delivered.state == "delivered"
    assert lifecycle.delivered(delivered, now) is None
    going = lifecycle.acknowledged(delivered, by="anna", channel="ntfy", now=now).alert
    assert (going.state, going.next_at, going.escalating, going.active) == ("acknowledged", None, False, True)
    done = lifecycle.closed(going, state="resolved", resolution="caregiver", by="anna", channel="dashboard",
                            note="Ze lag weer in bed.", now=now, anyone_paged=True)
    assert (done.alert.state, done.alert.active, done.audit[0].detail) == ("resolved", False, "Ze lag weer in bed.")


def test_resolved_by_a_rule_before_anyone_was_paged_is_a_cancel() -> None:
    alert: Alert = raised({"audience": "technician"}).alert
    done = lifecycle.closed(alert, state="resolved", resolution="rule", by="rule:x", channel=None,
                            note="weer goed", now=T0, anyone_paged=False)
    assert (done.alert.state, done.alert.resolution) == ("cancelled", "cancelled")


def test_the_tour_is_told_every_change_but_delivery_and_never_who() -> None:
    assert texts.narration(AlertAction.RAISED, "Uit bed.") == {
        "nl": "Melding aan de zorgverleners: Uit bed.", "en": "Alert to the caregivers: Uit bed."}
    assert texts.narration("cancelled", "Uit bed.") == {
        "nl": "De melding is ingetrokken.", "en": "The alert was withdrawn."}
    assert texts.narration(AlertAction.DELIVERED, "x") is None
    assert texts.narration("something else", "x") is None


async def test_is_active_follows_a_cancel(alerts: Harness) -> None:
    await alerts.svc.raise_alert(key="door", scenario="door_open", severity="warning",
                                 message="De voordeur staat open.", context=ctx(), data={})
    assert alerts.svc.is_active("door") and await alerts.svc.active_keys() == ["door"]
    alert_id = alerts.svc.active()[0].id
    assert await alerts.svc.cancel(alert_id, by="tech", reason="vals alarm") is not None
    assert not alerts.svc.is_active("door") and await alerts.svc.active_keys() == []
    assert [e.data["action"] for e in alerts.events][-1] == AlertAction.CANCELLED


def test_what_a_raise_of_an_active_key_does() -> None:
    alert = raised().alert
    assert occurrences.decide("urgent", [], POLICY, T0) == occurrences.Decision()
    assert occurrences.decide("urgent", [alert], POLICY, T0) == occurrences.Decision(previous=alert)
    escalating = occurrences.decide("warning", [alert], POLICY, T0 + timedelta(hours=2))
    assert (escalating.repeat_of, escalating.renotify) == (alert, False)  # its own steps page
    acked = lifecycle.acknowledged(alert, by="anna", channel="ntfy", now=T0).alert
    soon, later = (occurrences.decide("info", [acked], POLICY, T0 + timedelta(minutes=m)) for m in (29, 30))
    assert (soon.repeat_of, soon.renotify, later.renotify) == (acked, False, True)
    told = occurrences.repeated(acked, now=T0 + timedelta(minutes=30), renotify=True, paged=["piet", "anna"],
                                text={"piet": "Opnieuw", "anna": "Opnieuw"})
    assert [(d.kind, d.step, d.recipient) for d in told.deliveries] == [("repeat", 1, "piet"), ("repeat", 1, "anna")]
    assert not occurrences.renotify_due(told.alert, POLICY, T0 + timedelta(minutes=59))
    assert occurrences.renotify_due(told.alert, POLICY, T0 + timedelta(minutes=60))


def test_which_alerts_expire_and_when() -> None:
    urgent = raised().alert
    assert lifecycle.expires_at(urgent, POLICY) is None  # nobody going: it keeps escalating
    acked = lifecycle.acknowledged(urgent, by="anna", channel="ntfy", now=T0 + timedelta(minutes=5)).alert
    assert lifecycle.expires_at(acked, POLICY) == T0 + timedelta(minutes=5, hours=8)
    assert lifecycle.closes_by_itself(acked, POLICY, T0 + timedelta(minutes=5, hours=8)) == "expired"
    assert lifecycle.next_wake(acked, POLICY) == T0 + timedelta(minutes=5, hours=8)
    once = EscalationPolicy(name="once", steps=(PolicyStep(after=timedelta(0), notify=("piet",)),))
    done = lifecycle.stepped(replace(urgent, severity="warning", step=0, state="raised"), once, T0,
                             caregivers=CAREGIVERS, deadline=lambda n: step_due(once, T0, n)).alert
    assert done.next_at is None and lifecycle.expires_at(done, once) == T0 + timedelta(hours=8)
    assert lifecycle.expires_at(replace(done, data={"audience": "technician"}), once) is None
    closes_itself = replace(once, auto_resolve_after=timedelta(hours=12))
    assert lifecycle.expires_at(acked, closes_itself) is None
