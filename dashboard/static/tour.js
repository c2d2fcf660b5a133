// The visitor tour: a live floor plan, what is happening and why, and tour-guide buttons.
"use strict";

// Texts from the catalogue (controller/locale/*/LC_MESSAGES/huis.po), ids "tour.*", then common.*.
const tTour = Huis.scope("tour");

const SVG = "http://www.w3.org/2000/svg";
const state = { plan: null, devices: new Map(), narrations: [], alerts: [], story: null,
                storiesAvailable: false, stories: [], resident: "", storyStep: null,
                presence: null, loop: false, visitor: null, sandbox: false, note: "",
                // The header clock: the home's (or the story's) time at `clockAt`, running at `clockSpeed`.
                clockBase: null, clockAt: 0, clockSpeed: 1, info: null };
const KIOSK = new URLSearchParams(location.search).has("kiosk");

// Visitors see only "thuis / weg": never since when or why.
function drawPresence() {
  const el = document.getElementById("presence");
  const p = state.presence;
  el.hidden = !p;
  if (!p) return;
  el.dataset.presence = p.value;
  el.textContent = tTour("presence", { who: state.resident, where: Huis.lang === "en" ? p.label_en : p.label });
}

function svg(tag, attrs, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) e.setAttribute(k, v);
  for (const c of children) if (c) e.append(c);
  return e;
}

function pct(brightness) {
  return typeof brightness === "number" ? Math.round(Math.max(0, Math.min(254, brightness)) / 254 * 100) : null;
}

// What a device looks like now: a CSS class, a data-state for tests and a short state label.
function look(d) {
  const a = d.attributes || {};
  const t = tTour;
  switch (d.kind) {
    case "bed":
      if (a.occupancy === true) return { cls: "occupied", st: "occupied", label: t("in_bed") };
      if (a.occupancy === false) return { cls: "empty", st: "empty", label: t("bed_empty") };
      return { cls: "", st: "unknown", label: "" };
    case "contact": {
      const open = a.open === true || a.contact === false;
      const closed = a.open === false || a.contact === true;
      if (open) return { cls: "open", st: "open", label: t("open") };
      if (closed) return { cls: "", st: "closed", label: t("closed") };
      return { cls: "", st: "unknown", label: "" };
    }
    case "motion":
      return a.occupancy ? { cls: "active", st: "motion", label: t("seen") }
                         : { cls: "", st: "still", label: t("still") };
    case "light": {
      const on = String(a.state || "").toUpperCase() === "ON";
      const p = pct(a.brightness);
      if (on) return { cls: "active", st: "on", label: `${t("on")} ${p !== null ? p + "%" : ""}`.trim(), level: p ?? 100 };
      return { cls: "off", st: a.state ? "off" : "unknown", label: t("off"), level: 0 };
    }
    case "curtain": {
      const p = typeof a.position === "number" ? a.position : null;
      if (p === null) return { cls: "", st: "unknown", label: "" };
      return p >= 50 ? { cls: "", st: "open", label: t("open") }
                     : { cls: "off", st: "closed", label: t("closed") };
    }
    case "tag":
      // In a room the marker speaks for itself (and the room lights up); outside it shouts.
      if (d.where === "outside") return { cls: "alarm", st: "outside", label: t("outside_short") };
      return { cls: "", st: d.where || "unknown", label: "" };
    default: return { cls: "", st: "idle", label: "" };
  }
}

// What a device is, in a word a visitor knows: doors by their own name ("Voordeur").
function deviceName(d) {
  if (d.kind === "contact") return (Huis.lang === "en" ? d.name_en : d.name) || tTour("n_door");
  const key = "n_" + d.kind;
  const name = tTour(key);
  return name === key ? (Huis.lang === "en" ? d.name_en : d.name) : name;
}

function deviceInfo(d) {
  const key = "i_" + d.kind;
  const text = tTour(key);
  return text === key ? "" : text;
}

function shape(d, l) {
  switch (d.kind) {
    case "bed":
      return svg("g", {}, svg("rect", { class: "shape", x: -34, y: -22, width: 68, height: 44, rx: 8 }),
                 svg("rect", { x: -30, y: -18, width: 16, height: 36, rx: 4, fill: "#ffffff", stroke: "#14181f", "stroke-width": 1.5 }));
    case "contact":
      return svg("rect", { class: "shape", x: -12, y: -26, width: 24, height: 52, rx: 3,
                           transform: l.st === "open" ? "skewY(-20)" : null });
    case "motion":
      return svg("g", {}, svg("circle", { class: "shape", r: 15 }),
                 svg("path", { d: "M -22 -12 A 26 26 0 0 0 -22 12 M 22 -12 A 26 26 0 0 1 22 12", fill: "none", stroke: "#14181f", "stroke-width": 2.5 }));
    case "light": {
      const g = svg("g", {}, svg("circle", { r: 24, fill: "#ffd23f", "fill-opacity": ((l.level || 0) / 100 * 0.8).toFixed(2) }),
                    svg("circle", { class: "shape", r: 14 }));
      return g;
    }
    case "curtain":
      return svg("g", {}, svg("rect", { class: "shape", x: -28, y: -16, width: 56, height: 32, rx: 3 }),
                 svg("path", { d: "M -20 -16 V 16 M -8 -16 V 16 M 8 -16 V 16 M 20 -16 V 16", stroke: "#14181f", "stroke-width": 1.5 }));
    case "tag":
      return svg("g", {}, svg("circle", { class: "shape", cy: -14, r: 10 }),
                 svg("path", { class: "shape", d: "M -14 20 Q -14 -2 0 -2 Q 14 -2 14 20 Z" }));
    case "sos":
      return svg("g", {}, svg("circle", { r: 18, fill: "#b3001b", stroke: "#14181f", "stroke-width": 2.5 }),
                 svg("text", { y: 5, "text-anchor": "middle", "font-size": 13, "font-weight": 700, fill: "#ffffff" }, document.createTextNode("SOS")));
    case "dispenser":
      return svg("g", {}, svg("rect", { class: "shape", x: -16, y: -20, width: 32, height: 40, rx: 10 }),
                 svg("path", { d: "M -16 0 H 16", stroke: "#14181f", "stroke-width": 2 }));
    case "speaker":
      return svg("path", { class: "shape", d: "M -14 -8 H -4 L 8 -18 V 18 L -4 8 H -14 Z" });
    default:
      return svg("circle", { class: "shape", r: 14 });
  }
}

function deviceNode(d, changed) {
  const l = look(d);
  const classes = ["device", d.kind, l.cls];
  if (d.available === false) classes.push("unavailable");
  if (changed) classes.push("changed");
  const name = deviceName(d);
  const title = `${name}${l.label ? ": " + l.label : ""}` + (d.available === false ? ` (${tTour("unavailable")})` : "");
  const g = svg("g", { class: classes.filter(Boolean).join(" "), transform: `translate(${d.x} ${d.y})`,
                       "data-device": d.id, "data-state": l.st, role: "button", tabindex: "0", "aria-label": title },
                svg("title", {}, document.createTextNode(title)),
                shape(d, l),
                d.kind === "tag" ? null : svg("text", { class: "name", y: 44 }, document.createTextNode(name)),
                svg("text", { class: "label", y: d.kind === "tag" ? 44 : 60 }, document.createTextNode(l.label)));
  g.addEventListener("click", () => showInfo(d.id));
  g.addEventListener("keydown", ev => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); showInfo(d.id); } });
  return g;
}

// "What is this for?": one line about a device, on tap.
function showInfo(id) {
  state.info = id;
  drawInfo();
}

function drawInfo() {
  const box = document.getElementById("device-info");
  const d = state.info ? state.devices.get(state.info) : null;
  box.hidden = !d;
  if (!d) return;
  const long = tTour("l_" + d.kind);
  document.getElementById("device-info-name").textContent = long === "l_" + d.kind ? deviceName(d) : long;
  document.getElementById("device-info-text").textContent = deviceInfo(d);
}

function roomNode(r) {
  const [x, y, w, h] = r.area;
  return svg("g", { class: "room", "data-room": r.id },
             svg("rect", { x, y, width: w, height: h }),
             svg("text", { x: x + 14, y: y + 30 }, document.createTextNode(Huis.lang === "en" ? r.name_en : r.name)));
}

function drawPlan(changedId) {
  const plan = state.plan;
  if (!plan) return;
  const el = document.getElementById("plan");
  el.setAttribute("viewBox", `-20 -20 ${plan.width + 40} ${plan.height + 110}`);
  document.getElementById("plan-title").textContent = tTour(state.sandbox ? "plan_story" : "plan_title");
  const motionRooms = new Set();
  let here = null;
  for (const d of state.devices.values()) {
    if (d.kind === "motion" && d.attributes && d.attributes.occupancy) motionRooms.add(d.room);
    if (d.kind === "tag" && d.where && d.where !== "outside") here = d.where;
  }
  const rooms = svg("g", { class: "rooms" });
  for (const r of plan.rooms) {
    const n = roomNode(r);
    if (motionRooms.has(r.id)) n.classList.add("motion");
    if (here === r.id) n.classList.add("here");
    rooms.append(n);
  }
  const devices = svg("g", { class: "devices" });
  // The tag last, so the resident's marker is drawn on top.
  const list = [...state.devices.values()].sort((a, b) => (a.kind === "tag") - (b.kind === "tag"));
  for (const d of list) devices.append(deviceNode(d, d.id === changedId));
  const outside = svg("text", { class: "outside-label", x: plan.width - 20, y: plan.height + 30, "text-anchor": "end" },
                      document.createTextNode(tTour("outside")));
  el.replaceChildren(rooms, devices, outside);
}

function drawNow() {
  const last = state.narrations[state.narrations.length - 1];
  document.getElementById("now-text").textContent = last ? Huis.pick(last.text) : tTour("waiting");
  const why = last ? Huis.pick(last.why) : "";
  document.getElementById("now-why").textContent = why ? `${tTour("why")}: ${why}` : "";
}

function drawTimeline() {
  const ol = document.getElementById("timeline");
  const items = state.narrations.slice(-30).reverse().map(n => {
    const why = Huis.pick(n.why);
    return Huis.el("li", { dataset: { type: n.type } },
      Huis.el("time", { datetime: n.time, text: Huis.fmtTime(n.time) }),
      Huis.el("span", {}, Huis.pick(n.text), why ? Huis.el("span", { class: "why", text: `${tTour("why")}: ${why}` }) : null));
  });
  ol.replaceChildren(...items);
}

function alertState(a) {
  if (a.acknowledged) return `${tTour("alert_ack")} · ${tTour("alert_stopped")}`;
  const reached = a.reached || [];
  if (reached.includes("zorgteam")) return tTour("reached_team");
  if (reached.length) return tTour("reached_visitor");
  return tTour("alert_open");
}

// At most two alerts (the newest), so they never push the rest off the screen.
const MAX_ALERTS = 2;

function drawAlerts() {
  const box = document.getElementById("tour-alerts");
  const shown = state.alerts.slice(-MAX_ALERTS);
  const extra = state.alerts.length - shown.length;
  box.replaceChildren(...shown.map(a => Huis.el("div", {
      class: `alert sev-${a.severity}${a.acknowledged ? " acknowledged" : ""}`, dataset: { alert: a.id, state: a.state } },
    Huis.el("span", { class: `badge ${a.severity}`, text: tTour(a.severity) }), " ",
    Huis.el("strong", { text: Huis.pick(a.message) }),
    Huis.el("span", { class: "state", text: alertState(a) }))),
    ...(extra > 0 ? [Huis.el("p", { class: "more", text: tTour.n("more_alerts", extra) })] : []));
}

function drawStories() {
  const caption = document.getElementById("story-step");
  caption.textContent = state.story && state.storyStep ? Huis.pick(state.storyStep) : "";
  caption.hidden = !caption.textContent;
  const section = document.getElementById("stories-section");
  section.hidden = !state.storiesAvailable || state.stories.length === 0;
  const loop = document.getElementById("loop");
  loop.setAttribute("aria-pressed", state.loop ? "true" : "false");
  const note = document.getElementById("tour-note");
  note.textContent = state.note;
  note.hidden = !state.note;
  const box = document.getElementById("stories");
  box.replaceChildren(...state.stories.map(s => {
    const playing = state.story === s.name;
    return Huis.el("button", { type: "button", dataset: { story: s.name }, "aria-pressed": playing ? "true" : "false",
                               disabled: state.story !== null && !playing, onclick: () => play(s.name) },
      Huis.el("span", { text: Huis.pick(s.title) + (playing ? " — " + tTour("playing") : "") }),
      Huis.el("small", { text: Huis.pick(s.description) }));
  }));
  const badge = document.getElementById("demo-badge");
  const current = state.stories.find(s => s.name === state.story);
  badge.hidden = !(state.sandbox && current);
  badge.textContent = current ? tTour("demo", { when: Huis.pick(current.when) }) : "";
  drawVisitor();
}

function drawVisitor() {
  const box = document.getElementById("visitor-box");
  const v = state.story ? state.visitor : null;
  box.hidden = !v;
  if (!v) return;
  const img = document.getElementById("visitor-qr");
  const src = `/api/tour/visitor-qr.svg?t=${encodeURIComponent(v.token)}`;
  if (img.getAttribute("src") !== src) img.setAttribute("src", src);
  img.alt = tTour("visitor_title");
  const link = document.getElementById("visitor-link");
  link.href = `/bezoeker/${encodeURIComponent(v.token)}`;
  link.textContent = `${location.host}/bezoeker/…`;
  document.getElementById("visitor-phones").textContent = v.phones ? tTour.n("phones", v.phones) : "";
}

// The header clock runs between messages: the home's time, or the story's while one plays.
function setClock(iso, speed) {
  if (!iso) return;
  state.clockBase = Date.parse(iso);
  state.clockAt = performance.now();
  state.clockSpeed = speed;
  drawClock();
}

function drawClock() {
  const el = document.getElementById("clock");
  if (state.clockBase === null) { el.textContent = ""; return; }
  const now = new Date(state.clockBase + (performance.now() - state.clockAt) * state.clockSpeed);
  el.textContent = Huis.fmtTime(now.toISOString());
  el.dataset.time = now.toISOString();
}

function drawAll() { drawPlan(null); drawNow(); drawTimeline(); drawAlerts(); drawStories(); drawClock(); drawInfo(); }

async function post(url, body) {
  state.note = "";
  try {
    await Huis.api("POST", url, body);
  } catch (e) {
    state.note = e.status === 409 ? tTour("story_busy") : e.status === 429 ? tTour("story_limited") : e.message;
  }
  drawStories();
}

function play(name) { return post(`/api/tour/stories/${encodeURIComponent(name)}`); }

function onMessage(msg) {
  switch (msg.type) {
    case "snapshot":
      state.plan = msg.plan;
      state.resident = msg.resident;
      state.devices = new Map(msg.devices.map(d => [d.id, d]));
      state.narrations = msg.narrations;
      state.alerts = msg.alerts;
      state.story = msg.story;
      state.storyStep = msg.story_step;
      state.storiesAvailable = msg.stories_available;
      state.loop = !!msg.loop;
      state.visitor = msg.visitor;
      state.sandbox = !!msg.sandbox;
      state.presence = msg.presence;
      setClock(msg.time, msg.clock_speed ?? 1);
      drawPresence();
      Huis.setTimeZone(msg.timezone);
      document.getElementById("home-name").textContent = msg.home;
      if (state.storiesAvailable && state.stories.length === 0) {
        Huis.api("GET", "/api/tour/stories").then(s => { state.stories = s; drawStories(); }).catch(() => {});
      }
      if (KIOSK && state.storiesAvailable && !state.loop) post("/api/tour/loop", { on: true });
      drawAll();
      break;
    case "device":
      state.devices.set(msg.device.id, msg.device);
      drawPlan(msg.device.id);
      if (state.info === msg.device.id) drawInfo();
      break;
    case "narration":
      state.narrations.push(msg.narration);
      if (state.narrations.length > 60) state.narrations.shift();
      drawNow(); drawTimeline();
      break;
    case "alerts":
      state.alerts = msg.alerts;
      drawAlerts();
      break;
    case "presence":
      state.presence = msg.presence;
      drawPresence();
      break;
    case "clock":
      setClock(msg.time, msg.speed);
      break;
    case "story":
      state.story = msg.playing;
      state.storyStep = msg.playing ? msg.step : null;
      if (msg.loop !== undefined) state.loop = !!msg.loop;
      if (msg.visitor !== undefined) state.visitor = msg.visitor;
      drawStories();
      break;
  }
}

function onStatus(s) {
  const el = document.getElementById("status");
  el.textContent = tTour(s === "live" ? "live" : s === "offline" ? "offline" : "connecting");
  el.dataset.status = s;
}

document.getElementById("loop").addEventListener("click", () => post("/api/tour/loop", { on: !state.loop }));
document.getElementById("reset").addEventListener("click", () => post("/api/tour/reset"));
document.getElementById("device-info-close").addEventListener("click", () => showInfo(null));
setInterval(drawClock, 1000);
Huis.onLang(() => { drawAll(); drawPresence(); });
Huis.live(onMessage, onStatus, "/ws/tour");
