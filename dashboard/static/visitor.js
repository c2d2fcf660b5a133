// The visitor's phone: the demo caregiver page of the story on the tour screen.
"use strict";

Huis.addStrings({
  nl: {
    v_title: "U bent de mantelzorger", v_demo: "Een demonstratie: geen echte bewoner, geen account, geen gegevens van u.",
    v_wait: "Wacht op een melding uit het verhaal…", v_story: "Verhaal: {title}",
    v_ended: "Dit verhaal is afgelopen. Scan de code op het scherm bij een volgend verhaal.",
    v_go: "Ik ga erheen", v_going: "U bent onderweg: de andere zorgverleners worden niet meer gewaarschuwd.",
    v_closed: "Deze melding is afgehandeld.", v_failed: "Dat lukte niet: {why}",
    v_alert: "Er is een melding. Tik op \u201cIk ga erheen\u201d als u gaat kijken.",
    urgent: "Urgent", warning: "Waarschuwing", info: "Informatie",
  },
  en: {
    v_title: "You are the caregiver", v_demo: "A demonstration: no real resident, no account, no data of yours.",
    v_wait: "Waiting for an alert from the story…", v_story: "Story: {title}",
    v_ended: "This story has ended. Scan the code on the screen during the next story.",
    v_go: "I'm going", v_going: "You are on the way: the other caregivers are no longer alerted.",
    v_closed: "This alert has been dealt with.", v_failed: "That did not work: {why}",
    v_alert: "There is an alert. Tap \u201cI'm going\u201d when you go and look.",
    urgent: "Urgent", warning: "Warning", info: "Information",
  },
});

const token = decodeURIComponent(location.pathname.split("/").pop() || "");
const view = { story: null, alerts: [], ended: false, error: "" };

function draw() {
  document.getElementById("story-name").textContent = view.story ? Huis.t("v_story", { title: Huis.pick(view.story) }) : "";
  const status = document.getElementById("v-status");
  const open = view.alerts.filter(a => !a.acknowledged && a.state !== "resolved" && a.state !== "cancelled");
  status.textContent = view.ended ? Huis.t("v_ended") : view.error ? Huis.t("v_failed", { why: view.error })
    : open.length ? Huis.t("v_alert") : view.alerts.length ? "" : Huis.t("v_wait");
  const box = document.getElementById("v-alerts");
  box.replaceChildren(...(view.ended ? [] : view.alerts.map(a => {
    const closed = a.state === "resolved" || a.state === "cancelled";
    return Huis.el("div", { class: `card alert-card sev-${a.severity}${a.acknowledged ? " acknowledged" : ""}`,
                            dataset: { alert: a.id, state: a.state } },
      Huis.el("span", { class: `badge ${a.severity}`, text: Huis.t(a.severity) }),
      Huis.el("h3", { text: a.message }),
      a.acknowledged ? Huis.el("p", { class: "ack", text: Huis.t("v_going") })
        : closed ? Huis.el("p", { class: "muted", text: Huis.t("v_closed") })
        : Huis.el("button", { type: "button", class: "big", onclick: () => go(a.id), text: Huis.t("v_go") }));
  })));
}

async function go(id) {
  view.error = "";
  try {
    await Huis.api("POST", `/api/visitor/${encodeURIComponent(token)}/alerts/${encodeURIComponent(id)}/ack`);
  } catch (e) {
    if (e.status === 410) view.ended = true; else view.error = e.message;
  }
  draw();
}

let socket = null;
function onMessage(msg) {
  if (msg.type === "snapshot") { view.story = msg.story; view.alerts = msg.alerts; }
  else if (msg.type === "alerts") view.alerts = msg.alerts;
  else if (msg.type === "ended") { view.ended = true; if (socket) socket.close(); }
  draw();
}

Huis.onLang(draw);
Huis.api("GET", `/api/visitor/${encodeURIComponent(token)}`).then(snap => {
  onMessage(snap);
  socket = Huis.live(onMessage, null, `/ws/visitor/${encodeURIComponent(token)}`);
}).catch(() => { view.ended = true; draw(); });
draw();
