"""The API says how far an alert got per caregiver: a phone ("delivered") or only the page ("shown")."""

from __future__ import annotations

from tests.alerts.test_api import Api, api  # noqa: F401 - the fixture


async def test_the_api_tells_a_phone_from_the_page_and_an_unreached_server(api: Api) -> None:  # noqa: F811
    api.ntfy.fail_next = 3  # Piet's ntfy server fails all three tries: only his page has it
    alert_id = await api.raise_sos()
    await api.h.advance(seconds=10)
    one = (await api.http.get(f"/api/alerts/{alert_id}", headers=api.as_user("piet"))).json()
    assert (one["state"], one["reached"]) == ("shown", {"piet": "page"})
    await api.h.advance(minutes=3)  # step 2: Anna and the neighbour, whose ntfy works
    timeline = (await api.http.get(f"/api/alerts/{alert_id}/timeline", headers=api.as_user("piet"))).json()
    assert timeline["alert"]["state"] == "delivered"
    assert timeline["reached"] == {"piet": "page", "anna": "device", "buur": "device"}
    events = [(t["event"], t["user"], t["channel"]) for t in timeline["timeline"] if t["type"] == "transition"]
    assert ("shown", "piet", "page") in events and ("delivered", "anna", "ntfy") in events
