// The visitor's phone: the demo caregiver page of the story on the tour screen.
"use strict";

// Texts from the catalogue (controller/locale/*/LC_MESSAGES/huis.po), ids "visitor.*", then common.*.
const tVisitor = Huis.scope("visitor");

const token = decodeURIComponent(location.pathname.split("/").pop() || "");
const view = { story: null, alerts: [], ended: false, error: "" };

function draw() {
  document.getElementById("story-name").textContent = view.story ? tVisitor("v_story", { title: Huis.pick(view.story) }) : "";
  const status = document.getElementById("v-status");
  const open = view.alerts.filter(a => !a.acknowledged && a.state !== "resolved" && a.state !== "cancelled");
  status.textContent = view.ended ? tVisitor("v_ended") : view.error ? tVisitor("v_failed", { why: view.error })
    : open.length ? tVisitor("v_alert") : view.alerts.length ? "" : tVisitor("v_wait");
  const box = document.getElementById("v-alerts");
  box.replaceChildren(...(view.ended ? [] : view.alerts.map(a => {
    const closed = a.state === "resolved" || a.state === "cancelled";
    return Huis.el("div", { class: `card alert-card sev-${a.severity}${a.acknowledged ? " acknowledged" : ""}`,
                            dataset: { alert: a.id, state: a.state } },
      Huis.el("span", { class: `badge ${a.severity}`, text: tVisitor(a.severity) }),
      Huis.el("h3", { text: Huis.pick(a.message) }),
      a.acknowledged ? Huis.el("p", { class: "ack", text: tVisitor("v_going") })
        : closed ? Huis.el("p", { class: "muted", text: tVisitor("v_closed") })
        : Huis.el("button", { type: "button", class: "big", onclick: () => go(a.id), text: tVisitor("v_go") }));
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
