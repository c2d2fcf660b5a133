// The night nurse's screen: open alerts of every home of the team, silent hubs, device trouble,
// a home's timeline. Polls /api/overview; ages tick every second on the server's clock.
// Texts: the catalogues' central.* ids in the page's one language (the server picks it).
"use strict";

(() => {
  const page = JSON.parse(document.getElementById("page-data").textContent);
  const lang = page.lang;
  const pollMs = Math.max(2, Number(page.poll) || 5) * 1000;
  const timeZone = page.tz || "Europe/Amsterdam";
  const locale = lang === "en" ? "en-GB" : "nl-NL";

  const S = {
    data: null, offset: 0, lastOk: null, failing: false,
    drafts: {},          // resolve notes being typed, by alert key
    resolving: new Set(), // alert keys whose resolve form is open
    notes: {},           // a line under a card after a button: {key: {text, kind}}
    busy: new Set(),
    timelineHome: null,
  };

  // The texts are the gettext catalogues' "central.*" ids (/i18n/catalogue.js, common.js's Huis)
  // in the language the server chose (header.js told common.js).
  const t = Huis.scope("central");
  const has = key => t(key) !== key;
  const { el, api, fmtTime } = Huis;

  // -- time ------------------------------------------------------------------------------------

  const serverNow = () => Date.now() + S.offset;

  function fmtClock(ms) {
    return new Date(ms).toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit", second: "2-digit", timeZone });
  }

  function age(iso) {
    const s = Math.max(0, Math.floor((serverNow() - new Date(iso).getTime()) / 1000));
    if (s < 60) return t("age_s", { n: s });
    const m = Math.floor(s / 60);
    if (m < 60) return t("age_m", { n: m });
    const h = Math.floor(m / 60);
    if (h < 24) return t("age_h", { h, m: m % 60 });
    return t("age_d", { d: Math.floor(h / 24), h: h % 24 });
  }

  function tick() {
    for (const e of document.querySelectorAll("[data-since]")) {
      const text = e.dataset.template ? t(e.dataset.template, { age: age(e.dataset.since) }) : age(e.dataset.since);
      if (e.textContent !== text) e.textContent = text;
    }
    // Escalate the colour of an alert nobody has taken as it waits (5 and 15 minutes).
    for (const card of document.querySelectorAll(".alert[data-waiting]")) {
      const waited = (serverNow() - new Date(card.dataset.raised).getTime()) / 60000;
      card.classList.toggle("waited-long", waited >= 15);
      card.classList.toggle("waited", waited >= 5 && waited < 15);
    }
    if (S.lastOk && !S.failing && S.data) setStatus("live");
  }

  // -- words -----------------------------------------------------------------------------------

  function who(by) {
    if (!by) return "?";
    if (by.startsWith("centre:")) return t("who_centre", { name: by.slice(7) });
    return t("who_home", { name: by });
  }

  const word = (prefix, value) => (value && has(prefix + value) ? t(prefix + value) : (value || "—"));

  function setStatus(kind) {
    const status = document.getElementById("status");
    status.hidden = false;  // the shared header has it hidden on the other pages
    status.dataset.state = kind;
    const text = document.getElementById("status-text");
    if (kind === "live") text.textContent = t("status_live", { time: fmtClock(S.lastOk + S.offset) });
    else if (kind === "offline") text.textContent = t("status_offline", { time: S.lastOk ? fmtClock(S.lastOk + S.offset) : "—" });
    else if (kind === "logged_out") text.textContent = t("status_logged_out");
    else text.textContent = t("status_connecting");
  }

  // -- rendering -------------------------------------------------------------------------------

  const keyOf = a => a.home + "/" + a.id;

  function summary(d) {
    const set = (id, n, alarm) => {
      const tile = document.getElementById(id);
      tile.querySelector("b").textContent = n;
      tile.classList.toggle("alarm", Boolean(alarm && n > 0));
    };
    set("sum-open", d.summary.open, true);
    set("sum-waiting", d.summary.waiting, true);
    set("sum-silent", d.summary.silent, true);
    set("sum-trouble", d.summary.trouble, true);
    set("sum-homes", d.summary.homes, false);
  }

  function alertStatus(a) {
    if (a.state === "acknowledged") {
      return el("p", { class: "going ok" }, el("span", { class: "mark", "aria-hidden": "true", text: "✓" }),
                t("going", { who: who(a.acknowledged_by) }), " ",
                el("span", { class: "muted", text: t("going_at", { time: fmtTime(a.acknowledged_at) }) }));
    }
    return el("p", { class: "going nobody" }, el("span", { class: "mark", "aria-hidden": "true", text: "!" }),
              t("nobody_going"));
  }

  function alertCard(a) {
    const key = keyOf(a);
    const waiting = a.state !== "acknowledged";
    const card = el("li", { class: `alert sev-${a.severity} state-${a.state}`,
                            dataset: { key, home: a.home, alert: a.id, raised: a.raised_at, ...(waiting ? { waiting: "1" } : {}) } });
    const head = el("div", { class: "alert-head" },
      el("span", { class: `badge ${a.severity}`, text: word("sev_", a.severity) }),
      el("span", { class: "pseudonym", text: a.pseudonym || a.home }),
      el("span", { class: "home-id", text: a.home }));
    const ageBox = el("div", { class: "age" },
      el("b", { dataset: { since: a.raised_at }, text: age(a.raised_at) }),
      el("span", { text: t("raised_at", { time: fmtTime(a.raised_at) }) }));
    const body = el("div", { class: "alert-body" }, head, el("h3", { class: "title", text: a.title }), alertStatus(a));
    const extra = [];
    if (a.repeats > 0) extra.push(t("repeats", { n: a.repeats }));
    if (a.occurrence > 1) extra.push(t("occurrence", { n: a.occurrence }));
    if (extra.length) body.append(el("p", { class: "meta", text: extra.join(" · ") }));
    if (a.hub !== "up") body.append(el("p", { class: "warn-line hub-silent", text: t("hub_silent_alert") }));
    if (a.unknown_at_home) body.append(el("p", { class: "warn-line", text: t("unknown_at_home") }));
    if (a.pending) {
      body.append(el("p", { class: "pending", text: t(a.pending.action === "resolve" ? "pending_resolve" : "pending_ack",
                                                      { who: who(a.pending.by), time: fmtTime(a.pending.at) }) }));
    }
    const note = S.notes[key];
    // Once the centre lists the command as waiting, the "sent" line would only repeat it.
    if (note && !(note.kind === "sent" && a.pending)) body.append(el("p", { class: `note ${note.kind}`, role: "status", text: note.text }));
    body.append(actions(a, key));
    if (S.resolving.has(key)) body.append(resolveForm(a, key));
    card.append(body, ageBox);
    return card;
  }

  function actions(a, key) {
    const busy = S.busy.has(key);
    const row = el("div", { class: "actions" });
    if (a.state !== "acknowledged") {
      row.append(el("button", { type: "button", class: "primary go", disabled: busy || Boolean(a.pending),
                                onclick: () => command(a, "acknowledge") }, t("go")));
    }
    row.append(el("button", { type: "button", class: "secondary resolve", disabled: busy, "aria-expanded": String(S.resolving.has(key)),
                              onclick: () => { S.resolving.has(key) ? S.resolving.delete(key) : S.resolving.add(key); render(); focusNote(key); } },
                  t("resolve")));
    row.append(el("button", { type: "button", class: "secondary show-timeline", onclick: () => openTimeline(a.home) }, t("timeline")));
    return row;
  }

  function resolveForm(a, key) {
    const id = "note-" + key.replace(/[^A-Za-z0-9_-]/g, "_");
    const area = el("textarea", { id, rows: "2", maxlength: "2000", class: "note-input" });
    area.value = S.drafts[key] || "";
    area.addEventListener("input", () => { S.drafts[key] = area.value; });
    const error = el("p", { class: "error", role: "alert" });
    const confirm = el("button", { type: "button", class: "primary", onclick: async () => {
      if (!area.value.trim()) { error.textContent = t("note_needed"); area.focus(); return; }
      await command(a, "resolve", area.value.trim());
    } }, t("resolve_confirm"));
    const cancel = el("button", { type: "button", class: "secondary", onclick: () => { S.resolving.delete(key); render(); } }, t("cancel"));
    return el("div", { class: "resolve-form" }, el("label", { for: id, text: t("resolve_note") }), area, error,
              el("div", { class: "actions" }, confirm, cancel));
  }

  function focusNote(key) {
    const card = document.querySelector(`.alert[data-key="${CSS.escape(key)}"] textarea`);
    if (card) card.focus();
  }

  function homeRow(h) {
    const chips = [];
    if (h.status === "never") chips.push(el("span", { class: "chip bad", text: t("home_never") }));
    else if (h.status === "silent") chips.push(el("span", { class: "chip bad", dataset: { since: h.heard_at, template: "home_silent" }, text: t("home_silent", { age: age(h.heard_at) }) }));
    if (h.open) chips.push(el("span", { class: "chip alert-chip", text: t("home_alerts", { n: h.open }) }));
    if (h.trouble.length) chips.push(el("span", { class: "chip warn", text: t.n("home_trouble", h.trouble.length) }));
    if (!chips.length) chips.push(el("span", { class: "chip good", text: t("home_ok") }));
    const facts = [];
    if (h.presence) facts.push(word("presence_", h.presence));
    if (h.mode) facts.push(word("mode_", h.mode));
    if (h.heard_at && h.status === "up") facts.push(t("last_heard", { time: fmtTime(h.heard_at) }));
    const trouble = h.trouble.map(d => el("li", { text: `${d.device}${d.room ? " (" + d.room + ")" : ""}: ${word("health_", d.health)}` }));
    return el("li", { class: `home status-${h.status}${h.open ? " has-alerts worst-" + h.worst : ""}${h.trouble.length ? " has-trouble" : ""}`, dataset: { home: h.id } },
      el("button", { type: "button", class: "home-open", "aria-label": `${t("timeline")}: ${h.pseudonym || h.id}`, onclick: () => openTimeline(h.id) },
        el("span", { class: "dot", "aria-hidden": "true" }),
        el("span", { class: "home-name" }, el("b", { text: h.pseudonym || h.id }), el("small", { text: `${h.id}${h.team ? " · " + t("team", { team: h.team }) : ""}` })),
        el("span", { class: "chips" }, chips)),
      facts.length ? el("p", { class: "facts", text: facts.join(" · ") }) : null,
      trouble.length ? el("ul", { class: "trouble" }, trouble) : null);
  }

  function render() {
    const d = S.data;
    if (!d) return;
    // A re-render must not take the keyboard focus (or a half-typed note's caret) away.
    const active = document.activeElement;
    const holder = active && active.closest ? active.closest("[data-key], .home[data-home]") : null;
    const focus = holder ? { key: holder.dataset.key, home: holder.dataset.home, cls: [...active.classList].join("."),
                             caret: active.classList.contains("note-input") ? [active.selectionStart, active.selectionEnd] : null } : null;
    summary(d);
    const list = document.getElementById("alerts");
    list.replaceChildren(...(d.alerts.length ? d.alerts.map(alertCard) : [el("li", { class: "quiet", text: t("no_alerts") })]));
    const homes = document.getElementById("homes");
    homes.replaceChildren(...(d.homes.length ? d.homes.map(homeRow) : [el("li", { class: "quiet", text: t("no_homes") })]));
    tick();
    if (focus) {
      const box = focus.key ? document.querySelector(`.alert[data-key="${CSS.escape(focus.key)}"]`)
                            : document.querySelector(`.home[data-home="${CSS.escape(focus.home)}"]`);
      const target = box && focus.cls ? box.querySelector("." + focus.cls.split(".").map(CSS.escape).join(".")) : null;
      if (target) {
        target.focus({ preventScroll: true });
        if (focus.caret) target.setSelectionRange(...focus.caret);
      }
    }
  }

  // -- talking to the centre -------------------------------------------------------------------

  async function poll() {
    try {
      const d = await api("GET", "/api/overview");
      S.offset = new Date(d.now).getTime() - Date.now();
      S.lastOk = Date.now();
      S.failing = false;
      S.data = d;
      const open = new Set(d.alerts.map(keyOf));
      for (const k of [...S.resolving]) if (!open.has(k)) S.resolving.delete(k);
      for (const k of Object.keys(S.notes)) if (!open.has(k)) delete S.notes[k];
      render();
      setStatus("live");
      document.body.dataset.loaded = "1";
    } catch (e) {
      S.failing = true;
      if (e.status === 401) {
        setStatus("logged_out");
        location.assign("/login?next=/");
        return;
      }
      setStatus("offline");
    }
  }

  async function command(a, action, note) {
    const key = keyOf(a);
    S.busy.add(key);
    render();
    const url = `/api/homes/${encodeURIComponent(a.home)}/alerts/${encodeURIComponent(a.id)}/${action}`;
    try {
      await api("POST", url, action === "resolve" ? { note } : undefined);
      S.notes[key] = { text: t(action === "resolve" ? "sent_resolve" : "sent_ack"), kind: "sent" };
      if (action === "resolve") { S.resolving.delete(key); delete S.drafts[key]; }
    } catch (e) {
      S.notes[key] = { text: t("failed", { msg: e.message }), kind: "failed" };
    } finally {
      S.busy.delete(key);
    }
    await poll();
  }

  function timelineText(i) {
    if (i.kind === "alert") {
      const k = "ev_" + i.action;
      return has(k) ? t(k, { title: i.title, who: who(i.by) }) : t("ev_alert", { title: i.title, action: i.action });
    }
    if (i.kind === "house") return t("ev_house", { presence: word("presence_", i.presence), mode: word("mode_", i.mode) });
    if (i.kind === "device") return t("ev_device", { device: i.device + (i.room ? ` (${i.room})` : ""), health: word("health_", i.health) });
    if (i.kind === "snapshot") return t("ev_snapshot", { n: i.count });
    if (i.kind === "command") {
      if (i.outcome !== "sent") return t("ev_command_failed", { who: who(i.by), outcome: i.outcome });
      return t(i.action === "resolve" ? "ev_command_resolve" : "ev_command_acknowledge", { who: who(i.by) });
    }
    return i.kind;
  }

  async function openTimeline(home) {
    S.timelineHome = home;
    const panel = document.getElementById("timeline");
    const list = document.getElementById("timeline-items");
    try {
      const d = await api("GET", `/api/homes/${encodeURIComponent(home)}/timeline`);
      document.getElementById("timeline-title").textContent = t("timeline_title", { home: `${d.pseudonym || d.home} (${d.home})` });
      list.replaceChildren(...(d.items.length ? d.items.map(i =>
        el("li", { class: `ev ev-${i.kind}${i.severity ? " sev-" + i.severity : ""}` },
           el("time", { datetime: i.at, text: fmtTime(i.at) }), el("span", { text: timelineText(i) })))
        : [el("li", { class: "quiet", text: t("timeline_empty") })]));
    } catch (e) {
      document.getElementById("timeline-title").textContent = t("timeline_title", { home });
      list.replaceChildren(el("li", { class: "error", text: t("failed", { msg: e.message }) }));
    }
    panel.hidden = false;
    document.body.classList.add("with-timeline");
    document.getElementById("timeline-close").focus();
  }

  function closeTimeline() {
    S.timelineHome = null;
    document.getElementById("timeline").hidden = true;
    document.body.classList.remove("with-timeline");
  }

  document.getElementById("timeline-close").addEventListener("click", closeTimeline);
  document.addEventListener("keydown", ev => { if (ev.key === "Escape" && S.timelineHome) closeTimeline(); });

  setStatus("connecting");
  poll();
  setInterval(poll, pollMs);
  setInterval(tick, 1000);
})();
