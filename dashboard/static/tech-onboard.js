// Zigbee2MQTT onboarding in the technician console: devices Zigbee2MQTT reports that the home
// does not know yet, a checked home.yaml proposal for one, and "permit join" for a while.
// The API is dashboard/routes_onboard.py; nothing here edits a file.
"use strict";

// Texts from the catalogue (controller/locale/*/LC_MESSAGES/huis.po), ids "onboard.*", then why.*, tech.*, common.*.
const tOnboard = Huis.scope("onboard", "why", "tech");

const TechOnboard = (() => {
  const E = Huis.el;
  const T = tOnboard;
  // `draft`: what the technician typed, kept across the re-renders of the countdown.
  const state = { root: null, data: null, open: null, proposal: null, draft: null, timer: null };

  function roomName(r) { return Huis.lang === "en" ? r.name_en : r.name; }

  async function load(full = true) {
    state.data = await Huis.api("GET", "/api/tech/zigbee");
    render(full);
    schedule();
  }

  // While a request waits for its answer or joining is open: count down each second, ask the hub
  // every two (the answer and joined devices come from Zigbee2MQTT).
  function schedule() {
    clearTimeout(state.timer);
    const p = state.data && state.data.permit;
    const busy = p && ((p.transaction && !p.status) || p.open);
    if (!busy || !state.root || state.root.closest("[hidden]")) return;
    state.timer = setTimeout(() => load(false).catch(() => {}), p.open ? 1000 : 500);
  }

  function permitLine(p) {
    if (!p.transaction) return "";
    if (!p.status) return T("z_permit_asked", { seconds: p.seconds });
    if (p.status === "error") return T("z_permit_error", { error: p.error || "?" });
    return p.open ? T("z_permit_open", { left: p.seconds_left }) : T("z_permit_closed");
  }

  function permitCard(d, seconds = "120") {
    const secs = E("input", { id: "z-seconds", type: "number", min: "1", max: String(d.permit_max), value: seconds });
    const line = E("p", { id: "z-permit-state", role: "status", "aria-live": "polite", text: permitLine(d.permit) });
    line.dataset.status = d.permit.status || (d.permit.transaction ? "asked" : "none");
    line.dataset.open = d.permit.open ? "true" : "false";
    return E("section", { class: "card", id: "z-permit-card", "aria-labelledby": "z-permit-title" },
      E("h2", { id: "z-permit-title", text: T("z_permit") }),
      E("p", { class: "filters" },
        E("label", { for: "z-seconds", text: T("z_permit_for") }), secs,
        E("button", { type: "button", id: "z-permit", text: T("z_permit_go"),
                      onclick: () => permit(Math.max(1, Math.min(d.permit_max, parseInt(secs.value, 10) || 120))) }),
        d.permit.open ? E("button", { type: "button", class: "secondary", id: "z-permit-stop", text: T("z_permit_stop"),
                                      onclick: () => permit(0) }) : ""),
      line);
  }

  async function permit(seconds) {
    try { await Huis.api("POST", "/api/tech/zigbee/permit_join", { seconds }); }
    catch (e) { document.getElementById("status").textContent = T("failed", { msg: e.message }); }
    await load(false);
  }

  function kindCell(dev) {
    if (dev.adapter) return E("span", { class: "online", text: TechWhy.label("k", dev.kind) });
    const words = [T("z_no_adapter")];
    if (dev.looks_like) words.push(T("z_looks_like", { kind: TechWhy.label("k", dev.looks_like) }));
    return E("span", { class: "offline", text: words.join("; ") });
  }

  function deviceRow(dev) {
    const notes = [];
    if (!dev.supported) notes.push(T("z_unsupported"));
    if (!dev.interview_completed) notes.push(T("z_interviewing"));
    if (dev.restart) notes.push(T("z_restart"));
    const add = dev.adapter && !dev.restart
      ? E("button", { type: "button", text: T("z_add"), "aria-label": `${T("z_add")}: ${dev.model} ${dev.ieee}`,
                      onclick: () => { state.open = dev.ieee; state.proposal = null; state.draft = null; render(); } })
      : "";
    return E("tr", { dataset: { ieee: dev.ieee, adapter: dev.adapter ? "yes" : "no" } },
      E("td", { text: dev.ieee }), E("td", { text: dev.model || dev.model_id || "?" }),
      E("td", { text: dev.vendor || "" }),
      E("td", { text: [dev.description, ...notes].filter(Boolean).join(" — ") }),
      E("td", { text: dev.exposes.join(", ") }), E("td", {}, kindCell(dev)), E("td", {}, add));
  }

  function proposeForm(dev, d) {
    const room = E("select", { id: "z-room" }, ...d.rooms.map(r => E("option", { value: r.id, text: roomName(r) })));
    const name = E("input", { id: "z-name", value: dev.description || "" });
    const out = E("div", { id: "z-proposal", role: "status", "aria-live": "polite" });
    if (state.proposal) out.append(...proposalView(state.proposal, d));
    const form = E("form", { class: "card", id: "z-form" },
      E("h2", { text: `${T("z_add")}: ${dev.vendor || ""} ${dev.model} (${dev.ieee})` }),
      E("label", { for: "z-room", text: T("z_room") }), room,
      E("label", { for: "z-name", text: T("z_name") }), name,
      E("p", { class: "filters" }, E("button", { type: "submit", id: "z-propose", text: T("z_propose") }),
        E("button", { type: "button", class: "secondary", text: T("z_cancel"),
                      onclick: () => { state.open = null; state.proposal = null; state.draft = null; render(); } })),
      out);
    if (state.draft) { room.value = state.draft.room; name.value = state.draft.name; }
    const keep = () => { state.draft = { room: room.value, name: name.value }; };
    room.addEventListener("change", keep);
    name.addEventListener("input", keep);
    form.addEventListener("submit", async ev => {
      ev.preventDefault();
      try {
        const p = await Huis.api("POST", "/api/tech/zigbee/propose", { ieee: dev.ieee, room: room.value, name: name.value });
        state.proposal = p;
      } catch (e) {
        state.proposal = { error: e.message };
      }
      keep();
      render();
    });
    return form;
  }

  function proposalView(p, d) {
    if (p.error) return [E("p", { class: "error", text: T("failed", { msg: p.error }) })];
    const yaml = `devices:\n  ${p.yaml}`;
    const copy = E("button", { type: "button", class: "secondary", text: T("z_copy"), onclick: async () => {
      try { await navigator.clipboard.writeText(p.yaml); copy.textContent = T("z_copied"); } catch (e) { /* not on http */ }
    } });
    return [
      E("h3", { text: T("z_proposal", { config: d.config }) }),
      E("pre", { id: "z-yaml", class: "yaml", text: yaml }),
      E("p", { id: "z-check", class: p.ok ? "online" : "error", dataset: { ok: p.ok ? "true" : "false" },
               text: p.ok ? T("z_valid") : T.n("z_invalid", p.problems.length) }),
      p.problems.length ? E("ul", { class: "problems" }, ...p.problems.map(x => E("li", { text: x.text }))) : "",
      E("p", { class: "muted", text: T("z_not_written", { config: d.config }) }),
      copy,
    ];
  }

  function eventsCard(d) {
    if (!d.events.length) return "";
    return E("section", { class: "card" }, E("h2", { text: T("z_events") }),
      E("ul", { id: "z-events" }, ...d.events.slice(0, 10).map(e => E("li", {
        text: `${Huis.fmtTime(e.at)} ${T("ev_" + e.type)}${e.status ? " (" + e.status + ")" : ""}: ${e.friendly_name || e.ieee}` }))));
  }

  function listBox(d) {
    const box = E("div", { id: "z-list" });
    if (!d.heard) box.append(E("p", { class: "muted", id: "z-empty", text: T("z_no_bridge") }));
    else if (!d.new.length) box.append(E("p", { class: "muted", id: "z-empty", text: T("z_none") }));
    else {
      box.append(E("div", { class: "scroll" }, E("table", {},
        E("thead", {}, E("tr", {}, ...["z_ieee", "z_model", "z_vendor", "z_description", "z_exposes", "z_kind", ""]
          .map(k => E("th", { text: k ? T(k) : "" })))),
        E("tbody", { id: "z-new" }, ...d.new.map(deviceRow)))));
    }
    if (d.heard) box.append(E("p", { class: "muted", text: T.n("z_known", d.known) }));
    return box;
  }

  // A full render rebuilds the form; the updates of the countdown leave what is being typed alone.
  function render(full = true) {
    const d = state.data;
    if (!state.root || !d) return;
    if (!full && document.getElementById("z-list")) {
      const card = permitCard(d, document.getElementById("z-seconds").value);
      if (!!document.getElementById("z-permit-stop") === !!d.permit.open) {
        document.getElementById("z-permit-state").replaceWith(card.querySelector("#z-permit-state"));
      } else document.getElementById("z-permit-card").replaceWith(card);
      document.getElementById("z-list").replaceWith(listBox(d));
      document.getElementById("z-events-box").replaceChildren(eventsCard(d));
      return;
    }
    const dev = d.new.find(x => x.ieee === state.open);
    state.root.replaceChildren(...[
      E("p", { class: "muted", text: T("z_intro") }),
      E("p", { class: "card notice", id: "z-not-written", text: T("z_not_written", { config: d.config }) }),
      permitCard(d), listBox(d), dev ? proposeForm(dev, d) : "",
      E("div", { id: "z-events-box" }, eventsCard(d))].filter(Boolean));
  }

  async function mount(root) {
    state.root = root;
    await load();
  }

  Huis.onLang(() => render());
  return { mount, load };
})();
