// The visitor tour: a live floor plan, what is happening and why, and tour-guide buttons.
"use strict";

Huis.addStrings({
  nl: {
    skip: "Naar wat er nu gebeurt", plan_title: "Plattegrond: live", now_title: "Wat gebeurt er?",
    timeline_title: "Tijdlijn", stories_title: "Laat zien", waiting: "Alles is rustig in huis.",
    why: "Waarom", playing: "Speelt nu…", outside: "Buiten het huis", story_busy: "Er speelt al een situatie.",
    alert_ack: "Een zorgverlener is onderweg", alert_open: "Zorgverleners worden gewaarschuwd",
    urgent: "Urgent", warning: "Waarschuwing", info: "Informatie",
    bed: "Bed", in_bed: "In bed", bed_empty: "Bed leeg", door: "Deur", open: "Open", closed: "Dicht",
    motion: "Beweging", still: "Rustig", on: "Aan", off: "Uit", curtain: "Gordijn", outside_short: "Buiten!",
    sos: "Alarmknop", dispenser: "Medicijnen", speaker: "Speaker", tag: "Label", unknown: "?",
    unavailable: "geen verbinding", presence: "{who}: {where}",
  },
  en: {
    skip: "Skip to what is happening", plan_title: "Floor plan: live", now_title: "What is happening?",
    timeline_title: "Timeline", stories_title: "Show me", waiting: "All is quiet in the house.",
    why: "Why", playing: "Playing…", outside: "Outside the house", story_busy: "A situation is already playing.",
    alert_ack: "A caregiver is on the way", alert_open: "Caregivers are being alerted",
    urgent: "Urgent", warning: "Warning", info: "Information",
    bed: "Bed", in_bed: "In bed", bed_empty: "Bed empty", door: "Door", open: "Open", closed: "Closed",
    motion: "Motion", still: "Still", on: "On", off: "Off", curtain: "Curtain", outside_short: "Outside!",
    sos: "Alarm button", dispenser: "Medication", speaker: "Speaker", tag: "Tag", unknown: "?",
    unavailable: "no connection", presence: "{who}: {where}",
  },
});

const SVG = "http://www.w3.org/2000/svg";
const state = { plan: null, devices: new Map(), narrations: [], alerts: [], story: null,
                storiesAvailable: false, stories: [], resident: "", time: null, storyStep: null,
                presence: null };

// Visitors see only "thuis / weg": never since when or why.
function drawPresence() {
  const el = document.getElementById("presence");
  const p = state.presence;
  el.hidden = !p;
  if (!p) return;
  el.dataset.presence = p.value;
  el.textContent = Huis.t("presence", { who: state.resident, where: Huis.lang === "en" ? p.label_en : p.label });
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

// What a device looks like now: a CSS class, a data-state for tests and a short label.
function look(d) {
  const a = d.attributes || {};
  const t = Huis.t;
  switch (d.kind) {
    case "bed":
      if (a.occupancy === true) return { cls: "occupied", st: "occupied", label: t("in_bed") };
      if (a.occupancy === false) return { cls: "empty", st: "empty", label: t("bed_empty") };
      return { cls: "", st: "unknown", label: t("bed") };
    case "contact": {
      const open = a.open === true || a.contact === false;
      const closed = a.open === false || a.contact === true;
      if (open) return { cls: "open", st: "open", label: t("open") };
      if (closed) return { cls: "", st: "closed", label: t("closed") };
      return { cls: "", st: "unknown", label: t("door") };
    }
    case "motion":
      return a.occupancy ? { cls: "active", st: "motion", label: t("motion") }
                         : { cls: "", st: "still", label: t("still") };
    case "light": {
      const on = String(a.state || "").toUpperCase() === "ON";
      const p = pct(a.brightness);
      if (on) return { cls: "active", st: "on", label: `${t("on")} ${p !== null ? p + "%" : ""}`.trim(), level: p ?? 100 };
      return { cls: "off", st: a.state ? "off" : "unknown", label: t("off"), level: 0 };
    }
    case "curtain": {
      const p = typeof a.position === "number" ? a.position : null;
      if (p === null) return { cls: "", st: "unknown", label: t("curtain") };
      return p >= 50 ? { cls: "", st: "open", label: t("open") }
                     : { cls: "off", st: "closed", label: t("closed") };
    }
    case "tag":
      // In a room the marker speaks for itself (and the room lights up); outside it shouts.
      if (d.where === "outside") return { cls: "alarm", st: "outside", label: t("outside_short") };
      return { cls: "", st: d.where || "unknown", label: "" };
    case "sos": return { cls: "", st: "idle", label: t("sos") };
    case "dispenser": return { cls: "", st: "idle", label: t("dispenser") };
    case "speaker": return { cls: "", st: "idle", label: t("speaker") };
    default: return { cls: "", st: "idle", label: d.name };
  }
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
  const name = Huis.lang === "en" ? d.name_en : d.name;
  const title = `${name}: ${l.label}` + (d.available === false ? ` (${Huis.t("unavailable")})` : "");
  const g = svg("g", { class: classes.filter(Boolean).join(" "), transform: `translate(${d.x} ${d.y})`,
                       "data-device": d.id, "data-state": l.st, role: "img", "aria-label": title },
                svg("title", {}, document.createTextNode(title)),
                shape(d, l),
                svg("text", { class: "label", y: 44 }, document.createTextNode(l.label)));
  return g;
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
                      document.createTextNode(Huis.t("outside")));
  el.replaceChildren(rooms, devices, outside);
}

function drawNow() {
  const last = state.narrations[state.narrations.length - 1];
  document.getElementById("now-text").textContent = last ? Huis.pick(last.text) : Huis.t("waiting");
  const why = last ? Huis.pick(last.why) : "";
  document.getElementById("now-why").textContent = why ? `${Huis.t("why")}: ${why}` : "";
}

function drawTimeline() {
  const ol = document.getElementById("timeline");
  const items = state.narrations.slice(-30).reverse().map(n => {
    const why = Huis.pick(n.why);
    return Huis.el("li", { dataset: { type: n.type } },
      Huis.el("time", { datetime: n.time, text: Huis.fmtTime(n.time) }),
      Huis.el("span", {}, Huis.pick(n.text), why ? Huis.el("span", { class: "why", text: `${Huis.t("why")}: ${why}` }) : null));
  });
  ol.replaceChildren(...items);
}

function drawAlerts() {
  const box = document.getElementById("tour-alerts");
  box.replaceChildren(...state.alerts.map(a => Huis.el("div", { class: `alert sev-${a.severity}`, dataset: { alert: a.id, state: a.state } },
    Huis.el("span", { class: `badge ${a.severity}`, text: Huis.t(a.severity) }), " ",
    Huis.el("strong", { text: a.message }), " ",
    Huis.el("span", { class: "muted", text: "— " + (a.acknowledged ? Huis.t("alert_ack") : Huis.t("alert_open")) }))));
}

function drawStories() {
  const caption = document.getElementById("story-step");
  caption.textContent = state.story && state.storyStep ? Huis.pick(state.storyStep) : "";
  caption.hidden = !caption.textContent;
  const section = document.getElementById("stories-section");
  section.hidden = !state.storiesAvailable || state.stories.length === 0;
  const box = document.getElementById("stories");
  box.replaceChildren(...state.stories.map(s => {
    const playing = state.story === s.name;
    return Huis.el("button", { type: "button", dataset: { story: s.name }, "aria-pressed": playing ? "true" : "false",
                               disabled: state.story !== null && !playing, onclick: () => play(s.name) },
      Huis.el("span", { text: Huis.pick(s.title) + (playing ? " — " + Huis.t("playing") : "") }),
      Huis.el("small", { text: Huis.pick(s.description) }));
  }));
}

function drawClock() {
  document.getElementById("clock").textContent = state.time ? Huis.fmtTime(state.time) : "";
}

function drawAll() { drawPlan(null); drawNow(); drawTimeline(); drawAlerts(); drawStories(); drawClock(); }

async function play(name) {
  try {
    await Huis.api("POST", `/api/tour/stories/${encodeURIComponent(name)}`);
  } catch (e) {
    document.getElementById("now-why").textContent = e.status === 409 ? Huis.t("story_busy") : e.message;
  }
}

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
      state.time = msg.time;
      state.presence = msg.presence;
      drawPresence();
      Huis.setTimeZone(msg.timezone);
      document.getElementById("home-name").textContent = msg.home;
      if (state.storiesAvailable && state.stories.length === 0) {
        Huis.api("GET", "/api/tour/stories").then(s => { state.stories = s; drawStories(); }).catch(() => {});
      }
      drawAll();
      break;
    case "device":
      state.devices.set(msg.device.id, msg.device);
      drawPlan(msg.device.id);
      break;
    case "narration":
      state.narrations.push(msg.narration);
      if (state.narrations.length > 60) state.narrations.shift();
      state.time = msg.narration.time;
      drawNow(); drawTimeline(); drawClock();
      break;
    case "alerts":
      state.alerts = msg.alerts;
      drawAlerts();
      break;
    case "presence":
      state.presence = msg.presence;
      drawPresence();
      break;
    case "story":
      state.story = msg.playing;
      state.storyStep = msg.playing ? (msg.step || state.storyStep) : null;
      drawStories();
      break;
  }
}

function onStatus(s) {
  const el = document.getElementById("status");
  el.textContent = Huis.t(s === "live" ? "live" : s === "offline" ? "offline" : "connecting");
  el.dataset.status = s;
}

Huis.onLang(() => { drawAll(); drawPresence(); });
Huis.live(onMessage, onStatus);
