// The caregiver's phone: active alerts with a big "Ik ga erheen", resolve with a note, today.
"use strict";

// Texts from the catalogue (controller/locale/*/LC_MESSAGES/huis.po), ids "care.*", then routine.*, common.*.
const tCare = Huis.scope("care", "routine");

const care = { me: null, active: [], recent: [], timeline: [], message: {}, resolving: null, serviceMissing: false,
               drafts: {}, focusNote: false, presence: null };

// Presence: the word, since when and why (Dutch or English), and buttons to say it by hand.
function presenceCard() {
  const t = tCare, p = care.presence;
  if (!p || !p.presence) return [];
  const reason = Huis.lang === "en" ? p.presence_reason_en : p.presence_reason;
  const out = [Huis.el("p", { class: `presence ${p.presence}`, dataset: { presence: p.presence } },
                       Huis.el("strong", { text: t(`p_${p.presence}`) }), reason ? ` · ${reason}` : "")];
  if (p.override_until === "forever") out.push(Huis.el("p", { class: "meta", text: t("override_forever") }));
  else if (p.override_until) out.push(Huis.el("p", { class: "meta", text: t("override_until", { time: Huis.fmtDateTime(p.override_until) }) }));
  else if (p.inferred) out.push(Huis.el("p", { class: "meta", text: t("inferred") }));
  const actions = Huis.el("div", { class: "actions" });
  for (const value of ["home", "away", "unknown"]) {
    if (value === p.presence && !p.override_until) continue;
    actions.append(Huis.el("button", { type: "button", class: "secondary", dataset: { set: value },
                                       onclick: () => setPresence(value) }, t(`set_${value}`)));
  }
  out.push(actions);
  return out;
}

async function setPresence(value) {
  try {
    care.presence = await Huis.api("POST", "/api/care/presence", { presence: value });
  } catch (e) {
    document.getElementById("status").textContent = tCare("failed", { msg: e.message });
  }
  render();
}

function people(list) {
  if (!list || list.length === 0) return tCare("nobody_yet");
  return list.map(p => {
    const who = p.relation ? `${p.name} (${p.relation})` : p.name;
    return p.reach ? `${who} — ${tCare(`reach_${p.reach}`)}` : who;
  }).join(", ");
}

function alertCard(a, closed) {
  const t = tCare;
  const card = Huis.el("article", { class: `card alert-card sev-${a.severity} ${a.state}`, dataset: { alert: a.id, state: a.state },
                                    "aria-labelledby": `alert-${a.id}-title` },
    Huis.el("span", { class: `badge ${a.severity}`, text: t(a.severity) }),
    // `messages` already reads "Opnieuw: ..." for a later occurrence of an alert still open.
    Huis.el("h3", { id: `alert-${a.id}-title`, text: a.messages ? Huis.pick(a.messages) : a.message }),
    Huis.el("p", { class: "meta", text: t("raised", { time: Huis.fmtTime(a.raised_at) }) + " · " + t("for_resident", { who: a.resident }) }),
    Huis.el("p", { class: "meta" }, Huis.el("strong", { text: t("notified") + ": " }), people(a.notified)));
  if (!closed && (a.state === "shown" || a.state === "delivered")) {
    card.append(Huis.el("p", { class: `meta delivery ${a.state}`, role: "status", text: t(`state_${a.state}`) }));
  }
  if (a.repeats) {
    card.append(Huis.el("p", { class: "meta", text: t("repeats", { n: a.repeats + 1, time: Huis.fmtTime(a.last_repeat_at) }) }));
  }
  if (a.acknowledged_by_name) {
    card.append(Huis.el("p", { class: "ack", role: "status", text: t("acked_by", { name: a.acknowledged_by_name }) }));
  }
  if (closed) {
    card.append(Huis.el("p", { class: "meta", text: t("resolved_by", { name: a.resolved_by_name || "—" }) }));
    if (a.note) card.append(Huis.el("p", { class: "meta", text: `${t("note")}: ${a.note}` }));
    return card;
  }
  const msg = care.message[a.id];
  if (msg) card.append(Huis.el("p", { class: msg.error ? "error" : "ack", role: "status", text: msg.text }));
  const actions = Huis.el("div", { class: "actions" });
  if (a.state !== "acknowledged") {
    actions.append(Huis.el("button", { type: "button", class: "big go", onclick: () => acknowledge(a.id) }, t("go")));
  }
  if (care.resolving === a.id) {
    const id = `note-${a.id}`;
    // Live updates redraw the card: what was typed lives in care.drafts (the textarea of an
    // earlier redraw may be the one that got the typing), and focus moves only when opened.
    const area = Huis.el("textarea", { id, rows: 3, required: true,
                                       oninput: ev => { care.drafts[a.id] = ev.target.value; } });
    area.value = care.drafts[a.id] || "";
    actions.append(Huis.el("label", { for: id, text: t("resolve_note") }), area,
      Huis.el("button", { type: "button", class: "big resolve-confirm", onclick: () => resolve(a.id, care.drafts[a.id] ?? area.value) }, t("resolve_confirm")),
      Huis.el("button", { type: "button", class: "secondary", onclick: () => { care.resolving = null; render(); } }, t("cancel")));
    if (care.focusNote) { care.focusNote = false; setTimeout(() => area.focus(), 0); }
  } else {
    actions.append(Huis.el("button", { type: "button", class: "secondary resolve", onclick: () => { care.resolving = a.id; care.focusNote = true; render(); } }, t("resolve")));
  }
  card.append(actions);
  return card;
}

// Live updates redraw the page several times a minute. A card that did not change keeps its
// nodes: a redraw must not replace the button under a finger that is tapping it, nor the note
// being typed (under load a tap landed on a node just taken out, and the resolve never happened).
function sync(container, items) {
  const old = new Map([...container.children].map(c => [c.dataset.key, c]));
  const next = items.map(({ key, sig, make }) => {
    const prev = old.get(key);
    if (prev && prev.dataset.sig === sig) return prev;
    const node = make();
    node.dataset.key = key;
    node.dataset.sig = sig;
    return node;
  });
  const same = next.length === container.children.length && next.every((n, i) => container.children[i] === n);
  if (!same) container.replaceChildren(...next);
}

function cardItem(a, closed) {
  const sig = JSON.stringify([a, closed, care.message[a.id] || null, care.resolving === a.id, Huis.lang]);
  return { key: a.id, sig, make: () => alertCard(a, closed) };
}

function render() {
  const t = tCare;
  if (care.me) {
    document.getElementById("who").textContent = `${care.me.user.name} · ${care.me.residents.join(", ")}`;
  }
  const presenceSig = JSON.stringify([care.presence, Huis.lang]);
  const presenceBox = document.getElementById("presence");
  if (presenceBox.dataset.sig !== presenceSig) {
    const presence = presenceCard();
    document.getElementById("presence-section").hidden = presence.length === 0;
    presenceBox.replaceChildren(...presence);
    presenceBox.dataset.sig = presenceSig;
  }
  const note = text => ({ key: "note", sig: text, make: () => Huis.el("p", { class: "card", text }) });
  sync(document.getElementById("alerts"),
       care.serviceMissing ? [note(t("no_service"))] : care.active.length === 0 ? [note(t("no_alerts"))]
         : care.active.map(a => cardItem(a, false)));
  sync(document.getElementById("closed"), care.recent.length ? care.recent.map(a => cardItem(a, true))
    : [{ key: "none", sig: t("no_closed"), make: () => Huis.el("p", { class: "muted", text: t("no_closed") }) }]);
  renderTimeline();
}

function renderTimeline() {
  const t = tCare;
  const ol = document.getElementById("timeline");
  ol.replaceChildren(...(care.timeline.length ? care.timeline.map(n => {
    const why = Huis.pick(n.why);
    return Huis.el("li", {}, Huis.el("time", { datetime: n.time, text: Huis.fmtTime(n.time) }),
      Huis.el("span", {}, Huis.pick(n.text), why ? Huis.el("span", { class: "why", text: `${t("why")}: ${why}` }) : null));
  }) : [Huis.el("li", { text: t("nothing_today") })]));
}

// Loads overlap: the live feed, an acknowledgement and a resolve each start one, and their four
// requests interleave. Only the newest load's answers are drawn: an older load whose alerts came
// from before a resolve must not finish last and put the resolved alert back on the screen.
let loadSeq = 0;

async function load() {
  const seq = ++loadSeq;
  const got = {};
  try {
    got.me = await Huis.api("GET", "/api/care/me");
    got.timeline = (await Huis.api("GET", "/api/care/timeline")).items;
    got.presence = await Huis.api("GET", "/api/care/presence");
    try {
      const al = await Huis.api("GET", "/api/care/alerts");
      Object.assign(got, { active: al.active, recent: al.recent, serviceMissing: false });
    } catch (e) {
      if (e.status === 501) got.serviceMissing = true; else throw e;
    }
  } catch (e) {
    if (e.status === 403) { location.href = "/login?next=/zorg"; return; }
    if (seq === loadSeq) document.getElementById("status").textContent = tCare("failed", { msg: e.message });
  }
  if (seq !== loadSeq) return;  // a newer load is on its way; it draws
  Object.assign(care, got);
  render();
  if (!HuisRoutine.data) {
    // The picture comes after the alerts, and only once: it must never delay or block them.
    try { await HuisRoutine.mount(document.getElementById("routine")); } catch (e) { /* left empty */ }
  }
}

async function acknowledge(id) {
  try {
    const r = await Huis.api("POST", `/api/care/alerts/${encodeURIComponent(id)}/acknowledge`);
    care.message[id] = { text: r.ok ? tCare("you_go") : tCare("already", { name: r.by || "?" }) };
  } catch (e) {
    care.message[id] = { error: true, text: tCare("failed", { msg: e.message }) };
  }
  await load();
}

async function resolve(id, note) {
  if (!note.trim()) { care.message[id] = { error: true, text: tCare("note_needed") }; render(); return; }
  try {
    await Huis.api("POST", `/api/care/alerts/${encodeURIComponent(id)}/resolve`, { note: note.trim() });
    care.resolving = null;
    delete care.drafts[id];
  } catch (e) {
    care.message[id] = { error: true, text: tCare("failed", { msg: e.message }) };
  }
  await load();
}

// Reload what changed, at most a few times a second, when the live feed says something happened.
let pending = null;
function soon() { if (!pending) pending = setTimeout(() => { pending = null; load(); }, 250); }

// The live feed: alert changes and reconnects reload from the API (and are audited there);
// new sentences for today's timeline come straight from the feed (the tour shows them too).
Huis.live(msg => {
  if (msg.type === "snapshot" || msg.type === "alerts" || msg.type === "presence") soon();
  else if (msg.type === "narration" && care.me && care.me.residents.length) {
    care.timeline.unshift(msg.narration);
    renderTimeline();  // a sentence for today: the alert cards stay as they are
  }
}, s => {
  document.getElementById("status").textContent = tCare(s === "live" ? "live" : s === "offline" ? "offline" : "live");
});
Huis.onLang(render);
if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js").catch(() => {});
