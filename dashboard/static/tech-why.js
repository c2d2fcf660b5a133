// The technician console's scenario explanation ("why did it (not) fire") and event-log helpers:
// repeated sightings shown as one row with a count. Every text in the page's language.
"use strict";

// Texts from the catalogue (controller/locale/*/LC_MESSAGES/huis.po), ids "why.*", then tech.*, common.*.
const tWhy = Huis.scope("why", "tech");

const TechWhy = (() => {
  const E = Huis.el;
  function label(prefix, value) { const k = `${prefix}_${value}`; const s = tWhy(k); return s === k ? String(value) : s; }
  const when = iso => iso ? Huis.fmtDateTime(iso) : tWhy("never");

  function triggerItem(t, history) {
    const lines = [E("code", { text: t.description })];
    let seen;
    if (t.next_at || !t.watches) seen = t.next_at ? tWhy("t_next", { time: when(t.next_at) }) : tWhy("t_live");
    else if (!history) seen = tWhy("t_nohist");
    else if (!t.last_seen) seen = tWhy("t_never", { what: t.watches });
    else seen = tWhy("t_seen", { what: t.watches, time: when(t.last_seen), value: JSON.stringify(t.last_value), match: when(t.last_match) });
    lines.push(E("div", { class: t.last_seen || t.next_at ? "" : "error", text: seen }));
    lines.push(E("div", { class: "muted", text: tWhy("t_fired", { time: when(t.last_fired) }) }));
    return E("li", { dataset: { trigger: t.id } }, ...lines);
  }

  function conditionItem(c) {
    const ok = !!c.result;
    return E("li", { class: ok ? "" : "error", dataset: { result: ok ? "true" : "false" } },
      E("strong", { text: tWhy(ok ? "ok" : "false") }), " ", E("code", { text: c.condition }));
  }

  function verdict(w) {
    const v = w.verdict;
    if (v === "ran") return tWhy("v_ran", { time: when(w.last_run && w.last_run.started) });
    return tWhy(`v_${v}`);
  }

  function whyPart(w) {
    if (!w.known) {
      return [E("p", { class: "error", text: tWhy("unknown", { id: w.scenario }) }),
              w.near.length ? E("p", { text: tWhy("near", { names: w.near.join(", ") }) }) : null];
    }
    if (!w.loaded) {
      return [E("p", { class: "error", dataset: { verdict: w.verdict }, text: tWhy("not_loaded", { file: w.file, line: w.line ?? "?" }) }),
              w.problems.length ? E("ul", { class: "problems" }, ...w.problems.map(p => E("li", {}, E("code", { text: p }))))
                                : E("p", { text: tWhy("files_ok") })];
    }
    const parts = [
      E("p", { class: "verdict", dataset: { verdict: w.verdict } }, E("strong", { text: verdict(w) })),
      E("p", { class: "muted" }, tWhy("loaded_from", { file: w.file, line: w.line ?? "?" }), " ", Huis.named(w.description)),
      w.enabled ? null : E("p", { class: "error", text: tWhy("disabled") }),
      ...w.timers.map(t => E("p", { text: tWhy("timer", { time: when(t) }) })),
      E("h3", { text: tWhy("h_triggers") }),
      E("ul", { class: "why-triggers" }, ...w.triggers.map(t => triggerItem(t, w.history))),
    ];
    if (w.conditions.length) {
      // In the page's language (why.py words them); the trace notation where it has no words.
      const said = (w.conditions_said && w.conditions_said[Huis.lang]) || [];
      parts.push(E("h3", { text: tWhy("h_conditions") }),
                 E("ul", { class: "why-conditions" }, ...w.conditions.map((c, i) => E("li", {}, said[i] || E("code", { text: c })))));
    }
    const r = w.last_refusal;
    if (r) {
      parts.push(E("h3", { text: tWhy("h_eval", { time: when(r.started) }) }),
        E("p", {}, E("strong", { text: label("s", r.status) }), " — ", E("code", { text: r.trigger.description || "" })),
        E("ul", { class: "why-eval" }, ...r.conditions.map(conditionItem), ...r.notes.map(n => E("li", {}, E("code", { text: n })))));
    }
    return parts;
  }

  function runItem(t) {
    return E("li", { class: "run", dataset: { status: t.status } },
      E("div", {}, E("strong", { text: when(t.started) }), " ", E("span", { class: `badge ${t.status === "completed" ? "ok" : ""}`, text: label("s", t.status) })),
      E("div", {}, `${tWhy("r_trigger")}: `, E("code", { text: (t.trigger && t.trigger.description) || "" })),
      t.cause && t.cause.length ? E("div", { class: "muted" }, `${tWhy("r_cause")}: `, E("code", { text: t.cause.join(" ← ") })) : null,
      t.conditions.length ? E("ul", {}, ...t.conditions.map(conditionItem)) : null,
      t.actions.length ? E("ul", {}, ...t.actions.map(a => E("li", { class: a.ok ? "" : "error" },
        E("strong", { text: tWhy(a.ok ? "r_done" : "r_failed") }), " ", E("code", { text: `${a.action} → ${a.outcome}` })))) : null,
      t.notes.length ? E("ul", {}, ...t.notes.map(n => E("li", { class: "muted" }, `${tWhy("note")}: `, E("code", { text: n })))) : null);
  }

  // The explanation and the runs, drawn into `panel` (title, body), then put in front of the
  // technician: focus moves to the title, and the panel scrolls into view.
  async function show(panel, id) {
    const title = panel.querySelector(".why-title");
    const body = panel.querySelector(".why-body");
    panel.hidden = false;
    panel.dataset.scenario = id;
    panel.closest(".scenario-layout").classList.add("open");
    title.textContent = tWhy("why_title", { id });
    let r;
    try {
      r = await Huis.api("GET", `/api/tech/scenarios/${encodeURIComponent(id)}/traces`);
    } catch (e) {
      const w = e.body && e.body.detail && e.body.detail.why;
      body.replaceChildren(...(w ? whyPart(w) : [E("p", { class: "error", text: tWhy("failed", { msg: e.message }) })]).filter(Boolean));
      reveal(panel, title);
      return;
    }
    body.replaceChildren(...whyPart(r.why).filter(Boolean), E("h3", { text: tWhy("h_runs") }),
      r.traces.length ? E("ul", { class: "runs" }, ...r.traces.map(runItem)) : E("p", { class: "muted", text: tWhy("no_runs") }));
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

  return { show, hide, label, repeats };
})();
