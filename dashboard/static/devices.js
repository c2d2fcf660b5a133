// The plain device list: every device, its state and when it was last heard, live.
"use strict";

Huis.addStrings({
  nl: { devices_title: "Apparaten in het huis", col_device: "Apparaat", col_room: "Ruimte", col_status: "Status",
        col_state: "Toestand", col_seen: "Laatst gezien", online: "online", offline: "offline", unknown: "onbekend" },
  en: { devices_title: "Devices in the house", col_device: "Device", col_room: "Room", col_status: "Status",
        col_state: "State", col_seen: "Last seen", online: "online", offline: "offline", unknown: "unknown" },
});

let devices = [];
function render() {
  document.getElementById("devices").replaceChildren(...devices.map(d => {
    const avail = d.available === null ? "unknown" : (d.available ? "online" : "offline");
    const attrs = Object.entries(d.attributes).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(", ");
    return Huis.el("tr", { dataset: { device: d.device } },
      Huis.el("td", { text: d.name }), Huis.el("td", { text: d.room_name || "—" }),
      Huis.el("td", { class: avail, text: Huis.t(avail) }), Huis.el("td", { class: "attrs", text: attrs || "—" }),
      Huis.el("td", { text: Huis.fmtDateTime(d.last_seen) }));
  }));
}
async function refresh() {
  try {
    devices = await Huis.api("GET", "/api/devices");
    render();
    document.getElementById("status").textContent = Huis.t("live");
  } catch (e) {
    document.getElementById("status").textContent = Huis.t("offline");
  }
}
// The live feed says when something changed; the list itself comes from the API.
Huis.live(msg => { if (msg.type === "snapshot" || msg.type === "device") refresh(); },
          s => { if (s === "offline") document.getElementById("status").textContent = Huis.t("offline"); });
Huis.onLang(render);
