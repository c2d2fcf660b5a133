// The technician console: device health, scenarios (check, reload, traces), event log, audit logs.
"use strict";

// Texts from the catalogue (controller/locale/*/LC_MESSAGES/huis.po), ids "tech.*", then why.*, routine.*, common.*.
const tTech = Huis.scope("tech", "why", "routine");

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
function eventLabel(event) { const key = `ev_${event}`, label = tTech(key); return label === key ? event : `${event}: ${label}`; }
// The audit logs' records as the hub wrote them (action codes, request lines, details): data, not prose.
function code(value) { return value ? E("code", { text: value }) : null; }
function cells(...values) { return values.map(v => v instanceof Node ? E("td", {}, v) : E("td", { text: v ?? tTech("none") })); }

// -- presence: the engine's value, since when and why --
async function loadPresence() {
  const el = document.getElementById("presence");
  let p;
  try { p = await Huis.api("GET", "/api/tech/presence"); } catch (e) { p = { presence: null }; }
  el.hidden = !p.presence;
  if (!p.presence) return;
  el.dataset.presence = p.presence;
  const how = p.override_until ? tTech("p_override", { time: p.override_until === "forever" ? "∞" : Huis.fmtDateTime(p.override_until) })
                               : tTech(p.inferred ? "p_inferred" : "p_manual");
  const reason = (Huis.lang === "en" ? p.presence_reason_en : p.presence_reason) || tTech("none");
  el.textContent = `${tTech("presence_line", { value: TechWhy.label("pr", p.presence), reason })} (${how})`;
}

// -- devices --
async function loadDevices() {
  loadPresence();
  tech.devices = await Huis.api("GET", "/api/tech/devices");
  const sel = document.getElementById("f-device");
  if (sel.options.length === 0) {
    sel.append(E("option", { value: "", text: tTech("all") }), ...tech.devices.map(d => E("option", { value: d.id, lang: "nl", text: d.name })));
  }
  document.getElementById("health").replaceChildren(...tech.devices.map(d => {
    const avail = d.available === null ? "unknown" : (d.available ? "online" : "offline");
    return E("tr", { dataset: { device: d.id, available: avail } }, ...cells(
      E("span", {}, Huis.named(d.name), ` (${TechWhy.label("k", d.kind)})`), Huis.named(d.room_name), E("span", { class: avail, text: tTech(avail) }),
      d.last_seen ? Huis.fmtDateTime(d.last_seen) : tTech("never"),
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
    const note = E("input", { id, placeholder: tTech("fix_note") });
    return E("div", { class: `card sev-${a.severity}`, dataset: { alert: a.id } },
      E("span", { class: `badge ${a.severity}`, text: tTech("notice") }), " ",
      E("strong", { text: a.message }), " ",
      E("span", { class: "muted", text: Huis.fmtDateTime(a.raised_at) }),
      E("div", { class: "filters" },
        E("div", {}, E("label", { for: id, text: tTech("fix_note") }), note),
        E("button", { type: "button", onclick: async () => {
          try {
            await Huis.api("POST", `/api/tech/alerts/${encodeURIComponent(a.id)}/resolve`, { note: note.value.trim() || tTech("fixed") });
            loadNotices();
          } catch (e) { document.getElementById("status").textContent = tTech("failed", { msg: e.message }); }
        } }, tTech("resolve_notice"))));
  }));
}

// -- scenarios --
function problemList(problems) {
  return E("ul", { class: "problems" }, ...problems.map(p => E("li", { text: p.text })));
}

async function loadScenarios() {
  const s = await Huis.api("GET", "/api/tech/scenarios");
  document.getElementById("engine-state").textContent = s.engine
    ? tTech.n("engine_on", s.scenarios.length, { paths: s.paths.join(", ") }) : tTech("engine_off");
  document.getElementById("reload").disabled = !s.engine;
  document.getElementById("scenarios").replaceChildren(...s.scenarios.map(sc => E("tr", { dataset: { scenario: sc.id } },
    ...cells(E("code", { text: sc.id }), Huis.named(sc.description),
             sc.file ? E("code", { title: `${sc.file}:${sc.line ?? ""}`, text: `${sc.file.split("/").pop()}:${sc.line ?? ""}` }) : null,
             (sc.running || 0) + (sc.timers ? sc.timers.length : 0) > 0 ? tTech("busy") : tTech("idle")),
    E("td", {}, E("button", { type: "button", class: "secondary", onclick: () => showTraces(sc.id) }, tTech("traces"))))));
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
    if (r.ok) box.replaceChildren(E("p", { class: "online", text: tTech(okKey) }));
    else box.replaceChildren(E("p", { class: "error", text: tTech.n(url.endsWith("/check") ? "check_found" : "refused", r.problems.length) }), problemList(r.problems));
  } catch (e) {
    if (e.status === 422 && e.body && e.body.problems) {
      box.replaceChildren(E("p", { class: "error", text: tTech.n("refused", e.body.problems.length) }), problemList(e.body.problems));
    } else {
      box.replaceChildren(E("p", { class: "error", text: tTech("failed", { msg: e.message }) }));
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
    n > 1 ? E("div", { class: "count muted", text: tTech("repeated", { n, time: Huis.fmtTime(ev.first) }) }) : null);
  const row = E("tr", { dataset: { seq: ev.seq, type: ev.type, count: n } }, ...cells(time, TechWhy.label("ev", ev.type),
    ev.device ? E("code", { text: ev.device }) : null, E("code", { text: JSON.stringify(ev.data) }),
    ev.cause ? E("code", { text: ev.cause }) : null));
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
  const alertRows = a.alerts === null ? [E("tr", {}, E("td", { colspan: 6, text: tTech("no_alert_service") }))]
    : a.alerts.map(r => E("tr", {}, ...cells(Huis.fmtDateTime(r.time), eventLabel(r.event), code(r.alert_id), r.user, r.channel, code(r.detail))));
  document.getElementById("alert-audit").replaceChildren(...alertRows);
  document.getElementById("dash-audit").replaceChildren(...a.dashboard.map(r =>
    E("tr", {}, ...cells(Huis.fmtDateTime(r.time), r.username, code(r.action), r.resident, code(r.detail)))));
}

// -- users (admin) --
async function loadUsers() {
  const [users, opts] = await Promise.all([Huis.api("GET", "/api/admin/users"), Huis.api("GET", "/api/admin/options")]);
  document.getElementById("users").replaceChildren(...users.map(u => E("tr", { dataset: { user: u.username, disabled: u.disabled ? "1" : "0" } },
    ...cells(u.username, tTech(`role_${u.role}`), u.name, u.residents.join(", "), tTech(u.disabled ? "disabled" : "active"), String(u.sessions ?? 0)),
    E("td", { class: "actions" },
      userButton(u, u.disabled ? "enable" : "disable", () => Huis.api("POST", `/api/admin/users/${encodeURIComponent(u.username)}/disabled`, { disabled: !u.disabled }),
                 u.disabled ? "done_enabled" : "done_disabled"),
      userButton(u, "revoke", async () => ({ n: (await Huis.api("POST", `/api/admin/users/${encodeURIComponent(u.username)}/revoke`)).ended }), "done_revoked"),
      userButton(u, "new_password", async () => {
        const pw = prompt(tTech("ask_password", { name: u.username }));
        if (!pw) return null;
        await Huis.api("POST", `/api/admin/users/${encodeURIComponent(u.username)}/password`, { password: pw });
        return {};
      }, "done_password"),
      userButton(u, "delete_user", async () => {
        if (!confirm(tTech("confirm_delete", { name: u.username }))) return null;
        await Huis.api("DELETE", `/api/admin/users/${encodeURIComponent(u.username)}`);
        return {};
      }, "done_deleted", "danger")))));
  const sel = document.getElementById("u-caregiver");
  if (sel.options.length === 0) {
    sel.append(E("option", { value: "", text: tTech("none") }), ...opts.caregivers.map(c => E("option", { value: c.id, text: `${c.name} (${c.relation || c.id})` })));
  }
  tech.residents = opts.residents;
}
function userButton(u, label, action, doneKey, cls = "secondary") {
  return E("button", { type: "button", class: cls, dataset: { action: label }, onclick: async () => {
    const out = document.getElementById("users-result");
    try {
      const r = await action();
      if (r === null) return;  // cancelled
      const vars = { name: u.username, ...(r || {}) };
      out.className = "online"; out.textContent = "n" in vars ? tTech.n(doneKey, vars.n, vars) : tTech(doneKey, vars);
    } catch (e) {
      out.className = "error"; out.textContent = tTech("failed", { msg: e.message });
    }
    loadUsers().catch(() => {});
  } }, tTech(label));
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
    out.className = "online"; out.textContent = tTech("added", { name: u.username });
    ev.target.reset();
    loadUsers();
  } catch (e) {
    out.className = "error"; out.textContent = tTech("failed", { msg: e.message });
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
      document.getElementById("status").textContent = tTech("no_access"); return;
    }
    if (e.status === 403) { location.href = "/login?next=/technicus"; return; }
    document.getElementById("status").textContent = tTech("failed", { msg: e.message });
  }
}

// Live: staff sockets get every event; the event log grows in place, device health refreshes.
let devicePending = null;
Huis.live(msg => {
  if (msg.type === "session_ended") { document.getElementById("status").textContent = tTech("session_ended"); location.href = "/login?next=/technicus"; return; }
  if (msg.type === "event" && msg.event.type === "alert" && tech.tab === "devices") loadNotices();
  if (msg.type === "presence" && tech.tab === "devices") loadPresence();
  if (msg.type === "event") {
    if (tech.tab === "events" && document.getElementById("f-live").checked && matches(msg.event, eventFilters())) {
      addLiveEvent(msg.event);
    }
    if (tech.tab === "devices" && !devicePending) devicePending = setTimeout(() => { devicePending = null; loadDevices(); }, 300);
  }
}, s => { document.getElementById("status").textContent = tTech(s === "offline" ? "offline_status" : "live"); });

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
// Tabs listen from here on (browser tests wait for this: a click before it is lost).
document.body.dataset.ready = "true";
