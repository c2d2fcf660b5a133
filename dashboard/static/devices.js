// The plain device list: every device, what its state means and when it was last heard, live.
// Visitors read names and meanings only; a technician (logged in) sees the raw attributes too.
"use strict";

// Texts from the catalogue (controller/locale/*/LC_MESSAGES/huis.po), ids "devices.*", then common.*.
const tDevices = Huis.scope("devices");

let devices = [];
function render() {
  const en = Huis.lang === "en";
  const staff = devices.some(d => d.attributes);
  document.getElementById("col-detail").hidden = !staff;
  document.getElementById("devices").replaceChildren(...devices.map(d => {
    const avail = d.available === null ? "unknown" : (d.available ? "online" : "offline");
    const raw = en ? d.name_en : d.name;
    const name = raw.charAt(0).toUpperCase() + raw.slice(1);
    const kind = en ? d.kind_name_en : d.kind_name;
    const room = (en ? d.room_name_en : d.room_name) || "—";
    const cells = [
      Huis.el("td", {}, Huis.el("strong", { text: name }),
        name.toLowerCase().includes(kind.toLowerCase()) ? null : Huis.el("div", { class: "muted", text: kind }),
        Huis.el("div", { class: "muted room-inline", text: room })),
      Huis.el("td", { class: "room", text: room }),
      Huis.el("td", { class: avail, text: tDevices(avail) }),
      Huis.el("td", { class: "state", text: Huis.pick(d.state) }),
      Huis.el("td", { text: Huis.fmtDateTime(d.last_seen) }),
    ];
    if (staff) {
      const attrs = Object.entries(d.attributes || {}).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(", ");
      cells.push(Huis.el("td", { class: "attrs" }, Huis.el("code", { text: attrs || "—" })));
    }
    return Huis.el("tr", { dataset: { device: d.device } }, ...cells);
  }));
}
async function refresh() {
  try {
    devices = await Huis.api("GET", "/api/devices");
    render();
    document.getElementById("status").textContent = tDevices("live");
    document.getElementById("status").dataset.live = "true";
  } catch (e) {
    document.getElementById("status").textContent = tDevices("offline");
  }
}
// The live feed says when something changed; the list itself comes from the API.
Huis.live(msg => { if (msg.type === "snapshot" || msg.type === "device") refresh(); },
          s => { if (s === "offline") document.getElementById("status").textContent = tDevices("offline"); });
Huis.onLang(() => {
  render();
  const status = document.getElementById("status");
  status.textContent = tDevices(status.dataset.live ? "live" : "loading");
});
