// The technician console's scenario explanation ("why did it (not) fire") and event-log helpers:
// repeated sightings shown as one row with a count. Every text in the page's language.
"use strict";

Huis.addStrings({
  nl: {
    why_title: "Scenario {id}", close: "Sluiten", h_triggers: "Triggers", h_conditions: "Voorwaarden",
    h_eval: "Laatste beoordeling ({time})", h_runs: "Laatste runs", no_runs: "Nog geen runs vastgelegd voor dit scenario.",
    loaded_from: "Geladen uit {file}:{line}.", disabled: "Uitgeschakeld (enabled: false): draait pas als het weer aan staat.",
    not_loaded: "Staat in {file}:{line}, maar is NIET geladen.", files_ok: "De bestanden zijn nu geldig: ‘Herladen’ laadt ze.",
    unknown: "Er is geen scenario ‘{id}’.", near: "Bedoelt u: {names}?",
    v_not_loaded: "Het draait niet: de hub heeft het niet geladen.", v_disabled: "Het draait niet: het is uitgeschakeld.",
    v_waiting: "Een timer loopt: het start als die afloopt, tenzij de waarde eerder terugspringt.",
    v_refused: "De trigger kwam, maar het scenario startte niet (zie de laatste beoordeling).",
    v_not_triggered: "Geen van de triggers is gekomen sinds de traces begonnen.", v_ran: "Het draaide het laatst om {time}.",
    t_next: "Volgende keer: {time}.", t_live: "Niet in de geschiedenis: de engine ziet dit alleen live.",
    t_nohist: "Deze hub houdt geen geschiedenis bij om in te kijken.",
    t_never: "{what}: nooit gemeld in de geschiedenis (30 dagen).",
    t_seen: "{what}: laatst gemeld {time} (waarde {value}); zoals deze trigger het wil: {match}.",
    t_fired: "Startte dit scenario: {time}.", never: "nooit", timer: "Timer loopt tot {time}.",
    ok: "klopt", false: "ONWAAR", note: "notitie",
    s_completed: "voltooid", s_running: "loopt", s_waiting: "wacht", s_not_fired: "niet gestart",
    s_skipped: "overgeslagen", s_cancelled: "geannuleerd", s_stopped: "gestopt", s_error: "fout",
    r_trigger: "trigger", r_cause: "oorzaak", r_done: "gedaan", r_failed: "MISLUKT",
    repeated: "{n}× sinds {time}", merge_repeats: "Herhaalde waarnemingen samenvoegen",
    ev_state_changed: "toestand", ev_device_event: "apparaatgebeurtenis", ev_availability: "bereikbaarheid",
    ev_payload_error: "payloadfout", ev_command_sent: "opdracht verstuurd", ev_alert: "melding",
    ev_hub_status: "hubstatus", ev_house_changed: "huis",
    pr_home: "thuis", pr_away: "weg", pr_unknown: "onbekend",
    k_bed: "bedsensor", k_contact: "deurcontact", k_motion: "bewegingsmelder", k_light: "lamp", k_curtain: "gordijn",
    k_sos: "alarmknop", k_tag: "label", k_dispenser: "medicijndispenser", k_speaker: "speaker",
  },
  en: {
    why_title: "Scenario {id}", close: "Close", h_triggers: "Triggers", h_conditions: "Conditions",
    h_eval: "Last evaluation ({time})", h_runs: "Last runs", no_runs: "No runs recorded for this scenario yet.",
    loaded_from: "Loaded from {file}:{line}.", disabled: "Disabled (enabled: false): it runs only once enabled again.",
    not_loaded: "Written in {file}:{line}, but NOT loaded.", files_ok: "The files are valid now: ‘Reload’ loads them.",
    unknown: "There is no scenario ‘{id}’.", near: "Did you mean: {names}?",
    v_not_loaded: "It does not run: the hub has not loaded it.", v_disabled: "It does not run: it is disabled.",
    v_waiting: "A timer is running: it starts when that ends, unless the value changes back first.",
    v_refused: "Its trigger came, but the scenario did not start (see the last evaluation).",
    v_not_triggered: "None of its triggers has come since the traces began.", v_ran: "It last ran at {time}.",
    t_next: "Next time: {time}.", t_live: "Not in the history: the engine sees this live only.",
    t_nohist: "This hub keeps no history to look in.",
    t_never: "{what}: never reported in the history (30 days).",
    t_seen: "{what}: last reported {time} (value {value}); as this trigger wants it: {match}.",
    t_fired: "Started this scenario: {time}.", never: "never", timer: "Timer running until {time}.",
    ok: "true", false: "FALSE", note: "note",
    s_completed: "completed", s_running: "running", s_waiting: "waiting", s_not_fired: "not started",
    s_skipped: "skipped", s_cancelled: "cancelled", s_stopped: "stopped", s_error: "error",
    r_trigger: "trigger", r_cause: "cause", r_done: "done", r_failed: "FAILED",
    repeated: "{n}× since {time}", merge_repeats: "Merge repeated sightings",
    ev_state_changed: "state", ev_device_event: "device event", ev_availability: "availability",
    ev_payload_error: "payload error", ev_command_sent: "command sent", ev_alert: "alert",
    ev_hub_status: "hub status", ev_house_changed: "house",
    pr_home: "home", pr_away: "away", pr_unknown: "unknown",
    k_bed: "bed sensor", k_contact: "door contact", k_motion: "motion sensor", k_light: "light", k_curtain: "curtain",
    k_sos: "alarm button", k_tag: "tag", k_dispenser: "medication dispenser", k_speaker: "speaker",
  },
});

const TechWhy = (() => {
  const E = Huis.el;
  // One, other: Dutch and English both need no more forms than these.
  function plural(n, one, other, vars) { return Huis.t(n === 1 ? one : other, { n, ...(vars || {}) }); }
  function label(prefix, value) { const k = `${prefix}_${value}`; const s = Huis.t(k); return s === k ? String(value) : s; }
  const when = iso => iso ? Huis.fmtDateTime(iso) : Huis.t("never");

  function triggerItem(t, history) {
    const lines = [E("code", { text: t.description })];
    let seen;
    if (t.next_at || !t.watches) seen = t.next_at ? Huis.t("t_next", { time: when(t.next_at) }) : Huis.t("t_live");
    else if (!history) seen = Huis.t("t_nohist");
    else if (!t.last_seen) seen = Huis.t("t_never", { what: t.watches });
    else seen = Huis.t("t_seen", { what: t.watches, time: when(t.last_seen), value: JSON.stringify(t.last_value), match: when(t.last_match) });
    lines.push(E("div", { class: t.last_seen || t.next_at ? "" : "error", text: seen }));
    lines.push(E("div", { class: "muted", text: Huis.t("t_fired", { time: when(t.last_fired) }) }));
    return E("li", { dataset: { trigger: t.id } }, ...lines);
  }

  function conditionItem(c) {
    const ok = !!c.result;
    return E("li", { class: ok ? "" : "error", dataset: { result: ok ? "true" : "false" } },
      E("strong", { text: Huis.t(ok ? "ok" : "false") }), " ", E("code", { text: c.condition }));
  }

  function verdict(w) {
    const v = w.verdict;
    if (v === "ran") return Huis.t("v_ran", { time: when(w.last_run && w.last_run.started) });
    return Huis.t(`v_${v}`);
  }

  function whyPart(w) {
    if (!w.known) {
      return [E("p", { class: "error", text: Huis.t("unknown", { id: w.scenario }) }),
              w.near.length ? E("p", { text: Huis.t("near", { names: w.near.join(", ") }) }) : null];
    }
    if (!w.loaded) {
      return [E("p", { class: "error", dataset: { verdict: w.verdict }, text: Huis.t("not_loaded", { file: w.file, line: w.line ?? "?" }) }),
              w.problems.length ? E("ul", { class: "problems" }, ...w.problems.map(p => E("li", {}, E("code", { text: p }))))
                                : E("p", { text: Huis.t("files_ok") })];
    }
    const parts = [
      E("p", { class: "verdict", dataset: { verdict: w.verdict } }, E("strong", { text: verdict(w) })),
      E("p", { class: "muted", text: `${Huis.t("loaded_from", { file: w.file, line: w.line ?? "?" })} ${w.description || ""}` }),
      w.enabled ? null : E("p", { class: "error", text: Huis.t("disabled") }),
      ...w.timers.map(t => E("p", { text: Huis.t("timer", { time: when(t) }) })),
      E("h3", { text: Huis.t("h_triggers") }),
      E("ul", { class: "why-triggers" }, ...w.triggers.map(t => triggerItem(t, w.history))),
    ];
    if (w.conditions.length) {
      parts.push(E("h3", { text: Huis.t("h_conditions") }), E("ul", {}, ...w.conditions.map(c => E("li", {}, E("code", { text: c })))));
    }
    const r = w.last_refusal;
    if (r) {
      parts.push(E("h3", { text: Huis.t("h_eval", { time: when(r.started) }) }),
        E("p", {}, E("strong", { text: label("s", r.status) }), " — ", E("code", { text: r.trigger.description || "" })),
        E("ul", { class: "why-eval" }, ...r.conditions.map(conditionItem), ...r.notes.map(n => E("li", {}, E("code", { text: n })))));
    }
    return parts;
  }

  function runItem(t) {
    return E("li", { class: "run", dataset: { status: t.status } },
      E("div", {}, E("strong", { text: when(t.started) }), " ", E("span", { class: `badge ${t.status === "completed" ? "ok" : ""}`, text: label("s", t.status) })),
      E("div", {}, `${Huis.t("r_trigger")}: `, E("code", { text: (t.trigger && t.trigger.description) || "" })),
      t.cause && t.cause.length ? E("div", { class: "muted" }, `${Huis.t("r_cause")}: `, E("code", { text: t.cause.join(" ← ") })) : null,
      t.conditions.length ? E("ul", {}, ...t.conditions.map(conditionItem)) : null,
      t.actions.length ? E("ul", {}, ...t.actions.map(a => E("li", { class: a.ok ? "" : "error" },
        E("strong", { text: Huis.t(a.ok ? "r_done" : "r_failed") }), " ", E("code", { text: `${a.action} → ${a.outcome}` })))) : null,
      t.notes.length ? E("ul", {}, ...t.notes.map(n => E("li", { class: "muted" }, `${Huis.t("note")}: `, E("code", { text: n })))) : null);
  }

  // The explanation and the runs, drawn into `panel` (title, body), then put in front of the
  // technician: focus moves to the title, and the panel scrolls into view.
  async function show(panel, id) {
    const title = panel.querySelector(".why-title");
    const body = panel.querySelector(".why-body");
    panel.hidden = false;
    panel.dataset.scenario = id;
    panel.closest(".scenario-layout").classList.add("open");
    title.textContent = Huis.t("why_title", { id });
    let r;
    try {
      r = await Huis.api("GET", `/api/tech/scenarios/${encodeURIComponent(id)}/traces`);
    } catch (e) {
      const w = e.body && e.body.detail && e.body.detail.why;
      body.replaceChildren(...(w ? whyPart(w) : [E("p", { class: "error", text: Huis.t("failed", { msg: e.message }) })]).filter(Boolean));
      reveal(panel, title);
      return;
    }
    body.replaceChildren(...whyPart(r.why).filter(Boolean), E("h3", { text: Huis.t("h_runs") }),
      r.traces.length ? E("ul", { class: "runs" }, ...r.traces.map(runItem)) : E("p", { class: "muted", text: Huis.t("no_runs") }));
    reveal(panel, title);
  }

  function reveal(panel, title) {
    title.tabIndex = -1;
    title.focus({ preventScroll: true });
    panel.scrollIntoView({ block: "nearest" });
    if (panel.getBoundingClientRect().top < 0 || panel.getBoundingClientRect().top > innerHeight) panel.scrollIntoView({ block: "start" });
  }

  function hide(panel) {
    panel.hidden = true;
    panel.closest(".scenario-layout").classList.remove("open");
    const row = document.querySelector(`tr[data-scenario="${CSS.escape(panel.dataset.scenario || "")}"] button`);
    if (row) row.focus();
  }

  // -- event log: one row per run of repeated sightings --
  const NOISE = new Set(["sightings", "distance", "rssi", "linkquality", "voltage", "illuminance", "illuminance_lux"]);
  function noiseKeys(ev) {
    const d = ev.data || {};
    const keys = d.changes ? Object.keys(d.changes).sort() : ("attribute" in d ? [d.attribute] : []);
    return keys.length && keys.every(k => NOISE.has(k)) ? keys.join(",") : null;
  }
  function repeats(a, b) {
    const k = noiseKeys(a);
    return k !== null && a.device === b.device && a.type === b.type && k === noiseKeys(b);
  }

  return { show, hide, plural, label, repeats };
})();
