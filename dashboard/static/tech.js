// The technician console: device health, scenarios (check, reload, traces), event log, audit logs.
"use strict";

Huis.addStrings({
  nl: {
    skip_main: "Naar de inhoud", tech_title: "Technicus", sections: "Onderdelen", t_devices: "Apparaten",
    t_scenarios: "Scenario's", t_events: "Gebeurtenissen", t_audit: "Auditlog", t_users: "Gebruikers",
    c_device: "Apparaat", c_room: "Ruimte", c_status: "Status", c_seen: "Laatst gezien", c_battery: "Batterij",
    c_lqi: "Linkkwaliteit", c_errors: "Payloadfouten", c_scenario: "Scenario", c_description: "Omschrijving",
    c_file: "Bestand", c_type: "Soort", c_text: "Tekst", c_time: "Tijd", c_data: "Gegevens", c_cause: "Oorzaak",
    ev_delivered: "afgeleverd (telefoon)", ev_shown: "getoond (alleen pagina of systeem)",
    ev_delivery_unknown: "onzeker (geen antwoord, niet opnieuw verstuurd)", ev_delivery_failed: "niet bereikt",
    c_event: "Gebeurtenis", c_alert: "Melding", c_user: "Wie", c_channel: "Kanaal", c_detail: "Details",
    c_action: "Actie", c_resident: "Bewoner", c_role: "Rol", c_name: "Naam", c_residents: "Bewoners",
    c_caregiver: "Zorgverlener (uit de configuratie)", username: "Gebruikersnaam", password: "Wachtwoord (min. 10 tekens)",
    add_user: "Gebruiker toevoegen", alert_audit: "Meldingen", dash_audit: "Dashboard (inloggen, inzage zorggegevens)",
    check: "Valideer bestanden", reload: "Herladen", live_updates: "Live bijwerken", traces: "Waarom?",
    online: "online", offline: "offline", unknown: "onbekend", never: "nooit", all: "alle",
    engine_on: "{n} scenario's actief. Bestanden: {paths}", engine_on_one: "1 scenario actief. Bestanden: {paths}", engine_off: "De scenario-engine draait niet in deze hub.",
    ok_valid: "Alle bestanden zijn geldig.", reloaded: "Herladen: de nieuwe scenario's draaien.",
    refused: "Niet herladen: {n} problemen. De scenario's die al draaiden, blijven draaien.",
    refused_one: "Niet herladen: 1 probleem. De scenario's die al draaiden, blijven draaien.",
    check_found: "{n} problemen in de bestanden.", check_found_one: "1 probleem in de bestanden.",
    failed: "Dat lukte niet: {msg}", added: "Toegevoegd: {name}", none: "—", live: "Live",
    offline_status: "Geen verbinding; opnieuw verbinden…", no_alert_service: "Geen meldingendienst in deze hub.",
    c_source: "Bron", src_recent: "recent (live)", src_history: "geschiedenis (30 dagen)",
    busy: "bezig / timer loopt", idle: "wacht", c_state: "Toestand", notice: "Melding voor de technicus",
    fix_note: "Wat is er gedaan?", fixed: "Opgelost", resolve_notice: "Afhandelen",
    c_account: "Account", c_sessions: "Sessies", c_actions: "Acties", active: "actief", disabled: "uitgeschakeld",
    disable: "Uitschakelen", enable: "Inschakelen", delete_user: "Verwijderen", new_password: "Nieuw wachtwoord",
    revoke: "Sessies beëindigen", confirm_delete: "Account {name} verwijderen? Dit kan niet ongedaan worden.",
    ask_password: "Nieuw wachtwoord voor {name} (minstens 10 tekens, geen veelgebruikt wachtwoord):",
    done_disabled: "{name} is uitgeschakeld; de sessies zijn beëindigd.", done_enabled: "{name} is weer ingeschakeld.",
    done_deleted: "{name} is verwijderd.", done_password: "Het wachtwoord van {name} is gewijzigd; de sessies zijn beëindigd.",
    done_revoked: "{n} sessie(s) van {name} beëindigd.", no_access: "Geen toegang: dit onderdeel is alleen voor beheerders.",
    session_ended: "Uw sessie is beëindigd. Log opnieuw in.",
    presence_line: "Aanwezigheid: {value} — {reason}", p_inferred: "afgeleid door de hub",
    p_manual: "niet afgeleid (geen presence-sectie in home.yaml)", p_override: "met de hand ingesteld tot {time}",
  },
  en: {
    skip_main: "Skip to content", tech_title: "Technician", sections: "Sections", t_devices: "Devices",
    t_scenarios: "Scenarios", t_events: "Events", t_audit: "Audit log", t_users: "Users",
    c_device: "Device", c_room: "Room", c_status: "Status", c_seen: "Last seen", c_battery: "Battery",
    c_lqi: "Link quality", c_errors: "Payload errors", c_scenario: "Scenario", c_description: "Description",
    c_file: "File", c_type: "Type", c_text: "Text", c_time: "Time", c_data: "Data", c_cause: "Cause",
    ev_delivered: "delivered (phone)", ev_shown: "shown (page or system only)",
    ev_delivery_unknown: "uncertain (no answer, not re-sent)", ev_delivery_failed: "not reached",
    c_event: "Event", c_alert: "Alert", c_user: "Who", c_channel: "Channel", c_detail: "Details",
    c_action: "Action", c_resident: "Resident", c_role: "Role", c_name: "Name", c_residents: "Residents",
    c_caregiver: "Caregiver (from the configuration)", username: "User name", password: "Password (min. 10 characters)",
    add_user: "Add user", alert_audit: "Alerts", dash_audit: "Dashboard (logins, care data reads)",
    check: "Validate files", reload: "Reload", live_updates: "Live updates", traces: "Why?",
    online: "online", offline: "offline", unknown: "unknown", never: "never", all: "all",
    engine_on: "{n} scenarios running. Files: {paths}", engine_on_one: "1 scenario running. Files: {paths}", engine_off: "The scenario engine is not running in this hub.",
    ok_valid: "All files are valid.", reloaded: "Reloaded: the new scenarios are running.",
    refused: "Not reloaded: {n} problems. The scenarios that were running keep running.",
    refused_one: "Not reloaded: 1 problem. The scenarios that were running keep running.",
    check_found: "{n} problems in the files.", check_found_one: "1 problem in the files.",
    failed: "That did not work: {msg}", added: "Added: {name}", none: "—", live: "Live",
    offline_status: "No connection; reconnecting…", no_alert_service: "No alert service in this hub.",
    c_source: "Source", src_recent: "recent (live)", src_history: "history (30 days)",
    busy: "running / timer pending", idle: "waiting", c_state: "State", notice: "Notice for the technician",
    fix_note: "What was done?", fixed: "Fixed", resolve_notice: "Resolve",
    c_account: "Account", c_sessions: "Sessions", c_actions: "Actions", active: "active", disabled: "disabled",
    disable: "Disable", enable: "Enable", delete_user: "Delete", new_password: "New password",
    revoke: "End sessions", confirm_delete: "Delete the account {name}? This cannot be undone.",
    ask_password: "New password for {name} (at least 10 characters, not a common one):",
    done_disabled: "{name} is disabled; their sessions have ended.", done_enabled: "{name} is enabled again.",
    done_deleted: "{name} is deleted.", done_password: "{name}'s password is changed; their sessions have ended.",
    done_revoked: "Ended {n} session(s) of {name}.", no_access: "No access: this section is for administrators only.",
    session_ended: "Your session has ended. Please log in again.",
    presence_line: "Presence: {value} — {reason}", p_inferred: "inferred by the hub",
    p_manual: "not inferred (no presence section in home.yaml)", p_override: "set by hand until {time}",
  },
});

const E = Huis.el;
const tech = { session: null, devices: [], events: [], tab: "devices" };

// -- tabs (arrow keys move between them, as the ARIA tab pattern expects) --
const tabs = [...document.querySelectorAll('[role="tab"]')];
function selectTab(tab) {
  for (const t of tabs) {
    const on = t === tab;
    t.setAttribute("aria-selected", on ? "true" : "false");
    t.tabIndex = on ? 0 : -1;
    document.getElementById(t.getAttribute("aria-controls")).hidden = !on;
  }
  tech.tab = tab.id.replace("tab-", "");
  refreshTab();
}
for (const t of tabs) {
  t.addEventListener("click", () => selectTab(t));
  t.addEventListener("keydown", ev => {
    const visible = tabs.filter(x => !x.hidden);
    const i = visible.indexOf(t);
    if (ev.key === "ArrowRight" || ev.key === "ArrowLeft") {
      const next = visible[(i + (ev.key === "ArrowRight" ? 1 : visible.length - 1)) % visible.length];
      next.focus(); selectTab(next); ev.preventDefault();
    }
  });
}

// Delivery events in words: "delivered" is a phone, "shown" the page or another system only.
function eventLabel(event) { const key = `ev_${event}`, label = Huis.t(key); return label === key ? event : `${event}: ${label}`; }
function cells(...values) { return values.map(v => v instanceof Node ? E("td", {}, v) : E("td", { text: v ?? Huis.t("none") })); }

// -- presence: the engine's value, since when and why --
async function loadPresence() {
  const el = document.getElementById("presence");
  let p;
  try { p = await Huis.api("GET", "/api/tech/presence"); } catch (e) { p = { presence: null }; }
  el.hidden = !p.presence;
  if (!p.presence) return;
  el.dataset.presence = p.presence;
  const how = p.override_until ? Huis.t("p_override", { time: p.override_until === "forever" ? "∞" : Huis.fmtDateTime(p.override_until) })
                               : Huis.t(p.inferred ? "p_inferred" : "p_manual");
  const reason = (Huis.lang === "en" ? p.presence_reason_en : p.presence_reason) || Huis.t("none");
  el.textContent = `${Huis.t("presence_line", { value: TechWhy.label("pr", p.presence), reason })} (${how})`;
}

// -- devices --
async function loadDevices() {
  loadPresence();
  tech.devices = await Huis.api("GET", "/api/tech/devices");
  const sel = document.getElementById("f-device");
  if (sel.options.length === 0) {
    sel.append(E("option", { value: "", text: Huis.t("all") }), ...tech.devices.map(d => E("option", { value: d.id, text: d.name })));
  }
  document.getElementById("health").replaceChildren(...tech.devices.map(d => {
    const avail = d.available === null ? "unknown" : (d.available ? "online" : "offline");
    return E("tr", { dataset: { device: d.id, available: avail } }, ...cells(
      `${d.name} (${TechWhy.label("k", d.kind)})`, d.room_name, E("span", { class: avail, text: Huis.t(avail) }),
      d.last_seen ? Huis.fmtDateTime(d.last_seen) : Huis.t("never"),
      d.battery != null ? `${d.battery}%` : null, d.linkquality != null ? String(d.linkquality) : null,
      d.payload_errors ? `${d.payload_errors}: ${d.last_error || ""}` : "0"));
  }));
}

// -- technician notices (device offline, battery low): nobody is paged, they wait here --
async function loadNotices() {
  const notices = await Huis.api("GET", "/api/tech/alerts");
  const box = document.getElementById("notices");
  box.replaceChildren(...notices.map(a => {
    const id = `fix-${a.id}`;
    const note = E("input", { id, placeholder: Huis.t("fix_note") });
    return E("div", { class: `card sev-${a.severity}`, dataset: { alert: a.id } },
      E("span", { class: `badge ${a.severity}`, text: Huis.t("notice") }), " ",
      E("strong", { text: a.message }), " ",
      E("span", { class: "muted", text: Huis.fmtDateTime(a.raised_at) }),
      E("div", { class: "filters" },
        E("div", {}, E("label", { for: id, text: Huis.t("fix_note") }), note),
        E("button", { type: "button", onclick: async () => {
          try {
            await Huis.api("POST", `/api/tech/alerts/${encodeURIComponent(a.id)}/resolve`, { note: note.value.trim() || Huis.t("fixed") });
            loadNotices();
          } catch (e) { document.getElementById("status").textContent = Huis.t("failed", { msg: e.message }); }
        } }, Huis.t("resolve_notice"))));
  }));
}

// -- scenarios --
function problemList(problems) {
  return E("ul", { class: "problems" }, ...problems.map(p => E("li", { text: p.text })));
}

async function loadScenarios() {
  const s = await Huis.api("GET", "/api/tech/scenarios");
  document.getElementById("engine-state").textContent = s.engine
    ? TechWhy.plural(s.scenarios.length, "engine_on_one", "engine_on", { paths: s.paths.join(", ") }) : Huis.t("engine_off");
  document.getElementById("reload").disabled = !s.engine;
  document.getElementById("scenarios").replaceChildren(...s.scenarios.map(sc => E("tr", { dataset: { scenario: sc.id } },
    ...cells(sc.id, sc.description, sc.file ? E("span", { title: `${sc.file}:${sc.line ?? ""}`, text: `${sc.file.split("/").pop()}:${sc.line ?? ""}` }) : null,
             (sc.running || 0) + (sc.timers ? sc.timers.length : 0) > 0 ? Huis.t("busy") : Huis.t("idle")),
    E("td", {}, E("button", { type: "button", class: "secondary", onclick: () => showTraces(sc.id) }, Huis.t("traces"))))));
}

// Why it did (not) fire, and its runs: beside the table on a wide screen, above it on a narrow
// one, and focused either way (tech-why.js).
function showTraces(id) {
  for (const tr of document.querySelectorAll("tr[data-scenario]")) tr.classList.toggle("selected", tr.dataset.scenario === id);
  return TechWhy.show(document.getElementById("traces-card"), id);
}
document.getElementById("traces-close").addEventListener("click", () => TechWhy.hide(document.getElementById("traces-card")));

async function scenarioAction(url, okKey) {
  const box = document.getElementById("reload-result");
  box.replaceChildren();
  try {
    const r = await Huis.api("POST", url);
    if (r.ok) box.replaceChildren(E("p", { class: "online", text: Huis.t(okKey) }));
    else box.replaceChildren(E("p", { class: "error", text: TechWhy.plural(r.problems.length, url.endsWith("/check") ? "check_found_one" : "refused_one", url.endsWith("/check") ? "check_found" : "refused") }), problemList(r.problems));
  } catch (e) {
    if (e.status === 422 && e.body && e.body.problems) {
      box.replaceChildren(E("p", { class: "error", text: TechWhy.plural(e.body.problems.length, "refused_one", "refused") }), problemList(e.body.problems));
    } else {
      box.replaceChildren(E("p", { class: "error", text: Huis.t("failed", { msg: e.message }) }));
    }
  }
  loadScenarios().catch(() => {});
}
document.getElementById("check").addEventListener("click", () => scenarioAction("/api/tech/scenarios/check", "ok_valid"));
document.getElementById("reload").addEventListener("click", () => scenarioAction("/api/tech/scenarios/reload", "reloaded"));

// -- events --
function eventFilters() {
  return { device: document.getElementById("f-device").value, type: document.getElementById("f-type").value,
           text: document.getElementById("f-text").value.trim(), source: document.getElementById("f-source").value,
           repeats: document.getElementById("f-merge").checked ? "" : "true" };
}
function matches(ev, f) {
  if (f.source !== "recent") return false;
  if (f.device && ev.device !== f.device) return false;
  if (f.type && ev.type !== f.type) return false;
  if (f.text && !`${ev.device} ${JSON.stringify(ev.data)} ${ev.cause}`.toLowerCase().includes(f.text.toLowerCase())) return false;
  return true;
}
// A run of repeated sightings is one row: the newest, with how many and since when.
function eventRow(ev) {
  const n = ev.count || 1;
  const time = E("span", {}, Huis.fmtDateTime(ev.time),
    n > 1 ? E("div", { class: "count muted", text: Huis.t("repeated", { n, time: Huis.fmtTime(ev.first) }) }) : null);
  const row = E("tr", { dataset: { seq: ev.seq, type: ev.type, count: n } }, ...cells(time, TechWhy.label("ev", ev.type), ev.device,
    E("code", { text: JSON.stringify(ev.data) }), ev.cause));
  row.record = ev;
  return row;
}
function addLiveEvent(ev) {
  const body = document.getElementById("events");
  const top = body.firstElementChild;
  if (document.getElementById("f-merge").checked && top && top.record && TechWhy.repeats(top.record, ev)) {
    const merged = { ...ev, count: (top.record.count || 1) + 1, first: top.record.first || top.record.time };
    top.replaceWith(eventRow(merged));
    return;
  }
  body.prepend(eventRow({ ...ev, count: 1, first: ev.time }));
}
// Only the newest request's answer is shown: opening the tab and then choosing a device sends two,
// and the slower first answer (every device) must not overwrite the filtered one.
let eventsAsked = 0;
async function loadEvents() {
  const f = eventFilters();
  const q = new URLSearchParams({ limit: "300" });
  for (const [k, v] of Object.entries(f)) if (v) q.set(k, v);
  const asked = ++eventsAsked;
  const answer = await Huis.api("GET", "/api/tech/events?" + q);
  if (asked !== eventsAsked) return;
  tech.events = answer;
  document.getElementById("events").replaceChildren(...tech.events.map(eventRow));
}
for (const id of ["f-device", "f-type", "f-source", "f-merge"]) document.getElementById(id).addEventListener("change", () => loadEvents());
document.getElementById("f-text").addEventListener("input", () => loadEvents());
document.getElementById("event-filters").addEventListener("submit", ev => { ev.preventDefault(); loadEvents(); });

// -- audit --
async function loadAudit() {
  const a = await Huis.api("GET", "/api/tech/audit");
  const alertRows = a.alerts === null ? [E("tr", {}, E("td", { colspan: 6, text: Huis.t("no_alert_service") }))]
    : a.alerts.map(r => E("tr", {}, ...cells(Huis.fmtDateTime(r.time), eventLabel(r.event), r.alert_id, r.user, r.channel, r.detail)));
  document.getElementById("alert-audit").replaceChildren(...alertRows);
  document.getElementById("dash-audit").replaceChildren(...a.dashboard.map(r =>
    E("tr", {}, ...cells(Huis.fmtDateTime(r.time), r.username, r.action, r.resident, r.detail))));
}

// -- users (admin) --
async function loadUsers() {
  const [users, opts] = await Promise.all([Huis.api("GET", "/api/admin/users"), Huis.api("GET", "/api/admin/options")]);
  document.getElementById("users").replaceChildren(...users.map(u => E("tr", { dataset: { user: u.username, disabled: u.disabled ? "1" : "0" } },
    ...cells(u.username, u.role, u.name, u.residents.join(", "), Huis.t(u.disabled ? "disabled" : "active"), String(u.sessions ?? 0)),
    E("td", { class: "actions" },
      userButton(u, u.disabled ? "enable" : "disable", () => Huis.api("POST", `/api/admin/users/${encodeURIComponent(u.username)}/disabled`, { disabled: !u.disabled }),
                 u.disabled ? "done_enabled" : "done_disabled"),
      userButton(u, "revoke", async () => ({ n: (await Huis.api("POST", `/api/admin/users/${encodeURIComponent(u.username)}/revoke`)).ended }), "done_revoked"),
      userButton(u, "new_password", async () => {
        const pw = prompt(Huis.t("ask_password", { name: u.username }));
        if (!pw) return null;
        await Huis.api("POST", `/api/admin/users/${encodeURIComponent(u.username)}/password`, { password: pw });
        return {};
      }, "done_password"),
      userButton(u, "delete_user", async () => {
        if (!confirm(Huis.t("confirm_delete", { name: u.username }))) return null;
        await Huis.api("DELETE", `/api/admin/users/${encodeURIComponent(u.username)}`);
        return {};
      }, "done_deleted", "danger")))));
  const sel = document.getElementById("u-caregiver");
  if (sel.options.length === 0) {
    sel.append(E("option", { value: "", text: Huis.t("none") }), ...opts.caregivers.map(c => E("option", { value: c.id, text: `${c.name} (${c.relation || c.id})` })));
  }
  tech.residents = opts.residents;
}
function userButton(u, label, action, doneKey, cls = "secondary") {
  return E("button", { type: "button", class: cls, dataset: { action: label }, onclick: async () => {
    const out = document.getElementById("users-result");
    try {
      const r = await action();
      if (r === null) return;  // cancelled
      out.className = "online"; out.textContent = Huis.t(doneKey, { name: u.username, ...(r || {}) });
    } catch (e) {
      out.className = "error"; out.textContent = Huis.t("failed", { msg: e.message });
    }
    loadUsers().catch(() => {});
  } }, Huis.t(label));
}
document.getElementById("user-form").addEventListener("submit", async ev => {
  ev.preventDefault();
  const out = document.getElementById("user-result");
  const role = document.getElementById("u-role").value;
  try {
    const u = await Huis.api("POST", "/api/admin/users", {
      username: document.getElementById("u-name").value.trim(), password: document.getElementById("u-pass").value,
      role, caregiver: document.getElementById("u-caregiver").value || null,
      display_name: document.getElementById("u-display").value.trim() || null,
      residents: role === "caregiver" ? (tech.residents || []) : [] });
    out.className = "online"; out.textContent = Huis.t("added", { name: u.username });
    ev.target.reset();
    loadUsers();
  } catch (e) {
    out.className = "error"; out.textContent = Huis.t("failed", { msg: e.message });
  }
});

async function refreshTab() {
  try {
    if (tech.tab === "devices") { await loadDevices(); await loadNotices(); }
    else if (tech.tab === "scenarios") await loadScenarios();
    else if (tech.tab === "events") await loadEvents();
    else if (tech.tab === "routine") await HuisRoutine.mount(document.getElementById("routine"));
    else if (tech.tab === "zigbee") await TechOnboard.mount(document.getElementById("zigbee"));
    else if (tech.tab === "audit") await loadAudit();
    else if (tech.tab === "users") await loadUsers();
  } catch (e) {
    // 403 with a session: this account may not see this part (not: "log in again").
    if (e.status === 403 && tech.session && tech.session.user) {
      document.getElementById("status").textContent = Huis.t("no_access"); return;
    }
    if (e.status === 403) { location.href = "/login?next=/technicus"; return; }
    document.getElementById("status").textContent = Huis.t("failed", { msg: e.message });
  }
}

// Live: staff sockets get every event; the event log grows in place, device health refreshes.
let devicePending = null;
Huis.live(msg => {
  if (msg.type === "session_ended") { document.getElementById("status").textContent = Huis.t("session_ended"); location.href = "/login?next=/technicus"; return; }
  if (msg.type === "event" && msg.event.type === "alert" && tech.tab === "devices") loadNotices();
  if (msg.type === "presence" && tech.tab === "devices") loadPresence();
  if (msg.type === "event") {
    if (tech.tab === "events" && document.getElementById("f-live").checked && matches(msg.event, eventFilters())) {
      addLiveEvent(msg.event);
    }
    if (tech.tab === "devices" && !devicePending) devicePending = setTimeout(() => { devicePending = null; loadDevices(); }, 300);
  }
}, s => { document.getElementById("status").textContent = Huis.t(s === "offline" ? "offline_status" : "live"); });

Huis.api("GET", "/api/session").then(s => {
  tech.session = s;
  if (s.user && s.user.role === "admin") document.getElementById("tab-users").hidden = false;
}).catch(() => {});
Huis.onLang(() => {
  refreshTab();
  const why = document.getElementById("traces-card");
  if (!why.hidden && why.dataset.scenario) showTraces(why.dataset.scenario);
});
selectTab(tabs[0]);
